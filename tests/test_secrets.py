"""Secret store (permissions, references, Workbench refs, traversal) and masking."""
from __future__ import annotations

import os
import stat
import types
from pathlib import Path

import pytest

from aml_magic.errors import SecretError
from aml_magic.domain.envvars import resolve_env
from aml_magic.domain.secrets import MASK, Masker, SecretStore, is_reference, mask_mapping


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStore:
    monkeypatch.delenv("AML_MAGIC_USE_KEYRING", raising=False)
    return SecretStore(tmp_path / "home" / ".aml_magic" / "secrets")


def perms(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_put_get_round_trip_with_private_permissions(store: SecretStore) -> None:
    # Given a loose umask
    old = os.umask(0o000)
    try:
        # When
        ref = store.put("password", "My VM!", "s3cr3t pässword")
    finally:
        os.umask(old)
    # Then
    assert ref.startswith("aml-secret:password/my-vm-") and is_reference(ref)
    assert store.get(ref) == "s3cr3t pässword"
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert len(files) == 1 and perms(files[0]) == 0o600
    assert perms(store.root) == 0o700 and perms(store.root / "password") == 0o700
    assert perms(store.root.parent) == 0o700  # ~/.aml_magic created by us
    assert "s3cr3t" not in ref


def test_each_put_gets_a_new_reference(store: SecretStore) -> None:
    a, b = store.put("password", "vm", "x1x"), store.put("password", "vm", "x2x")
    assert a != b and store.get(a) == "x1x" and store.get(b) == "x2x"


def test_default_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AML_MAGIC_SECRETS_DIR", str(tmp_path / "s"))
    assert SecretStore().root == tmp_path / "s"
    monkeypatch.delenv("AML_MAGIC_SECRETS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert SecretStore().root == tmp_path / ".aml_magic" / "secrets"


def test_delete_then_get_says_how_to_reenter(store: SecretStore) -> None:
    ref = store.put("password", "myvm", "pw-value")
    store.delete(ref)
    store.delete(ref)  # idempotent
    with pytest.raises(SecretError) as err:
        store.get(ref, context="aml_config/myvm.compute")
    msg = str(err.value)
    assert msg.startswith("aml_config/myvm.compute: secret " + ref)
    assert "aml computetarget attach remote --name myvm" in msg and "--password" in msg


def test_workbench_reference_is_recognised_but_not_readable(store: SecretStore) -> None:
    ref = "AzureMlSecret=myvm#sshuser#0123456789abcdef0123456789abcdef"
    assert is_reference(ref) and store.is_reference(ref)
    with pytest.raises(SecretError) as err:
        store.get(ref, context="aml_config/myvm.compute")
    assert str(err.value) == (
        "aml_config/myvm.compute: the password is an Azure ML Workbench secret reference "
        "(AzureMlSecret=...) that aml_magic cannot read; re-enter it with "
        "`aml computetarget attach remote --name myvm --address ... --username ... --password`")
    assert "sshuser" not in str(err.value)
    store.delete(ref)  # no-op


@pytest.mark.parametrize("ref", [
    "aml-secret:password/../../etc/passwd",
    "aml-secret:../password/x-0123456789abcdef",
    "aml-secret:password/x-0123456789abcdef/../../y",
    "aml-secret:/etc/passwd",
    "aml-secret:password/x-0123456789ABCDEF",
    "aml-secret:password/x-0123456789abcdef\n",
    "plain-password",
])
def test_malformed_references_are_refused(store: SecretStore, ref: str) -> None:
    with pytest.raises(SecretError, match="not a valid secret reference"):
        store.get(ref)
    with pytest.raises(SecretError):
        store.delete(ref)


def test_is_reference() -> None:
    assert not is_reference("hunter22") and not is_reference(None) and not is_reference(3)


def test_bad_kind_and_empty_value_refused(store: SecretStore) -> None:
    with pytest.raises(SecretError):
        store.put("../x", "n", "v")
    with pytest.raises(SecretError):
        store.put("password", "n", "")


def test_private_key_file_for_ssh(store: SecretStore) -> None:
    pem = b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"
    ref = store.put_private_key("myvm", pem)
    path = store.key_path(ref)
    assert path.read_bytes() == pem and perms(path) == 0o600
    assert path.parent.parent == store.root
    store.delete(ref)
    with pytest.raises(SecretError, match="not in the secret store"):
        store.key_path(ref)


def test_keyring_used_when_enabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a fake keyring module and the opt-in variable
    saved: dict[tuple[str, str], str] = {}
    fake = types.SimpleNamespace(
        set_password=lambda s, u, v: saved.__setitem__((s, u), v),
        get_password=lambda s, u: saved.get((s, u)),
        delete_password=lambda s, u: saved.pop((s, u)))
    monkeypatch.setitem(__import__("sys").modules, "keyring", fake)
    monkeypatch.setenv("AML_MAGIC_USE_KEYRING", "1")
    store = SecretStore(tmp_path / "s")
    # When
    ref = store.put("password", "vm", "kr-secret")
    # Then no file holds it
    assert store.get(ref) == "kr-secret" and len(saved) == 1
    assert not [p for p in store.root.rglob("*") if p.is_file()]
    store.delete(ref)
    assert saved == {}


def test_masker_longest_first_and_short_values_ignored() -> None:
    m = Masker(["abc", "abcdef", "xy", ""])
    assert m.mask("key=abcdefg and abc and xy") == f"key={MASK}g and {MASK} and xy"
    m.add("p@ss word")
    assert m.mask('{"pw": "p@ss word"} url=p%40ss%20word') == f'{{"pw": "{MASK}"}} url={MASK}'
    assert Masker().mask("nothing") == "nothing"


def test_mask_mapping_by_name_and_value() -> None:
    m = Masker(["hunter22"])
    env = {"DB_PASSWORD": "x", "api_token": "t0k", "Account_Key": "k", "PATH": "/bin",
           "URL": "https://u:hunter22@h", "MY_VAR": "v", "REF_PASSWORD": "aml-secret:a/b-0"}
    out = m.mask_mapping(env, {"MY_VAR"})
    assert out == {"DB_PASSWORD": MASK, "api_token": MASK, "Account_Key": MASK, "PATH": "/bin",
                   "URL": f"https://u:{MASK}@h", "MY_VAR": MASK,
                   "REF_PASSWORD": "aml-secret:a/b-0"}
    assert mask_mapping({"SECRET": "v"}) == {"SECRET": MASK}


def test_resolve_env_resolves_references_and_masks_them(store: SecretStore) -> None:
    # Given a runconfig env with a reference and a literal secret-looking value
    ref = store.put("env", "DB_PASSWORD", "db-pass-123")
    env = {"DB_PASSWORD": ref, "ACCOUNT_KEY": "literal-key", "N": 5, "EMPTY": None}
    # When
    resolved, masker = resolve_env(env, store)
    # Then the launch gets values and logs get masks
    assert resolved == {"DB_PASSWORD": "db-pass-123", "ACCOUNT_KEY": "literal-key", "N": "5",
                        "EMPTY": ""}
    assert masker.mask("pw=db-pass-123 key=literal-key") == f"pw={MASK} key={MASK}"


def test_resolve_env_names_the_variable_on_failure(store: SecretStore) -> None:
    with pytest.raises(SecretError, match=r"^aml_config/a.runconfig: EnvironmentVariables.X: "):
        resolve_env({"X": "aml-secret:env/x-0123456789abcdef"}, store,
                    context="aml_config/a.runconfig")
    with pytest.raises(SecretError, match="EnvironmentVariables.Y: the value is an Azure ML"):
        resolve_env({"Y": "AzureMlSecret=abc"}, store)
