"""Secret values never land in the raw log.txt of a local run (not only in the views of it)."""
from __future__ import annotations

import textwrap
from pathlib import Path

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.masking import url_forms
from aml_magic.domain.secrets import Masker, encoded_forms


def test_masker_values_are_every_masked_spelling_longest_first() -> None:
    # Given a masker with a value that has JSON and URL spellings, and a too-short one
    masker = Masker(['pa"ss word', "ab"])
    # When asked for its values; Then they are the raw value, its escaped forms and its encoded
    # ones (base64, hex, reversed: issue 23), longest first
    values = masker.values()
    assert set(values) == {'pa"ss word', 'pa\\"ss word', "pa%22ss%20word", "pa%22ss+word",
                           *url_forms('pa"ss word'), *encoded_forms('pa"ss word')}
    assert {"cGEic3Mgd29yZA==", "706122737320776f7264", "706122737320776F7264",
            'drow ss"ap'} <= set(values)
    assert [len(v) for v in values] == sorted((len(v) for v in values), reverse=True)


def test_secret_env_values_are_masked_in_the_raw_log_file(project: Path) -> None:
    # Given a store-referenced secret and a literal under a secret-looking name
    ws = Workspace(project)
    ref = ws.secrets.put("env", "token", "s3cr3t-from-store")
    from aml_magic.domain.config import load_runconfig, write_runconfig
    rc_path = project / "aml_config" / "local.runconfig"
    cfg = load_runconfig(rc_path)
    cfg.environment_variables = {"API_TOKEN": ref, "DB_PASSWORD": 'literal "pa55word"',
                                 "PLAIN": "visible-value"}
    write_runconfig(cfg, rc_path)
    (project / "leak.py").write_text(textwrap.dedent("""\
        import json, os, sys
        print("token", os.environ["API_TOKEN"], "pw", os.environ["DB_PASSWORD"])
        print(json.dumps({"pw": os.environ["DB_PASSWORD"]}), file=sys.stderr)
        print("plain", os.environ["PLAIN"])
    """))
    # When the run prints them, raw and JSON-escaped, on stdout and stderr
    run = ws.submit("local", "leak.py")
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    # Then the file on disk holds masks, never the values, and the rest of the output as is
    raw = (run.folder / "log.txt").read_bytes()
    assert b"s3cr3t-from-store" not in raw and b"pa55word" not in raw
    assert raw.splitlines() == [b"token ****** pw ******", b'{"pw": "******"}',
                                b"plain visible-value"]
    ws.close()
