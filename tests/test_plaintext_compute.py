"""Issue 23, finding 6: a ``.compute`` holding a secret written out is detected on its parsed
mapping (a JSON one-liner, flow-style YAML, any nesting), warned about, and left out of the
run's copy of the project, as a real local run's work folder shows."""
from __future__ import annotations

import ast
from pathlib import Path

from aml_magic.domain.config import load_compute
from aml_magic.domain.config.compute import holds_plaintext_secret
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace

PLAINTEXT = {
    # one line of JSON: the line-by-line check read no 'password:' line here
    "json.compute": '{"type": "remote", "address": "10.0.0.5", "username": "u", '
                    '"password": "json-pw-1f"}\n',
    # flow-style YAML
    "flow.compute": "{type: remote, address: 10.0.0.6, username: u, password: flow-pw-2e}\n",
    # a key the registry marks secret (sshKey) holding a key, not a reference
    "inline_key.compute": "type: remote\naddress: 10.0.0.7\nusername: u\n"
                          "sshKey: '-----BEGIN OPENSSH PRIVATE KEY----- abc'\n",
    # nested under a key nobody knows, in flow style, with a secret-looking name
    "nested.compute": "type: remote\naddress: 10.0.0.8\nusername: u\n"
                      "tunnel: {via: jump, auth: [{sshPassphrase: nested-pp-3d}]}\n",
    # a quoted key spelled with an escape: YAML reads 'password'
    "escaped.compute": '{"type": "remote", "address": "10.0.0.9", "username": "u", '
                       '"pass\\u0077ord": "escaped-pw-4c"}\n',
}
CLEAN = {
    "ref.compute": '{"type": "remote", "address": "10.0.0.10", "username": "u", '
                   '"password": "aml-secret:password/ref-u-0123456789abcdef", '
                   '"hostKeyFingerprint": "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"}\n',
}


def test_plaintext_secrets_are_found_warned_about_and_left_out_of_the_run(project: Path) -> None:
    config = project / "aml_config"
    for name, text in {**PLAINTEXT, **CLEAN}.items():
        (config / name).write_text(text)
    # Then each file holding a written-out secret is detected, and a reference is not
    assert {name for name in (*PLAINTEXT, *CLEAN) if holds_plaintext_secret(config / name)} \
        == set(PLAINTEXT)
    # and loading one warns with its line and what to do
    flow = load_compute(config / "flow.compute")
    assert flow.password == "flow-pw-2e"
    assert any("flow.compute:1: plaintext password" in w and "computetarget secure" in w
               for w in flow.warnings), flow.warnings
    nested = load_compute(config / "nested.compute")
    assert any("'tunnel.auth.0.sshPassphrase' holds a plaintext secret" in w
               for w in nested.warnings), nested.warnings
    # When a real local run starts
    (project / "show.py").write_text(
        "import os\nprint(sorted(os.listdir('aml_config')))\n")
    ws = Workspace(project)
    run = ws.submit("local", "show.py")
    assert run.wait(timeout=60) is RunStatus.COMPLETED, run.log_text()[0]
    # Then its work copy has the clean file and none of the others, and no value reached it
    shipped = sorted(p.name for p in (run.folder / "work" / "aml_config").iterdir())
    assert "ref.compute" in shipped and "local.runconfig" in shipped
    assert not set(PLAINTEXT) & set(shipped), shipped
    assert not set(PLAINTEXT) & set(ast.literal_eval(run.log_text()[0].strip().splitlines()[-1]))
    work = b"".join(p.read_bytes() for p in (run.folder / "work").rglob("*") if p.is_file())
    for secret in (b"json-pw-1f", b"flow-pw-2e", b"nested-pp-3d", b"escaped-pw-4c"):
        assert secret not in work
    ws.close()
