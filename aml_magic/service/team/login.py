"""This machine's login to a team workspace: the server's URL and the member it answered for
in ``~/.aml_magic/workspace.json``, the token in the local secret store (``domain/secrets.py``),
referenced from that file, never written there in clear."""
from __future__ import annotations

import json
import os
from aml_magic.domain.plain_data import plain_data
from pathlib import Path

from aml_magic.domain.secrets import SecretStore
from aml_magic.errors import AmlError

SECRET_KIND = "workspace"


def login_file() -> Path:
    return Path.home() / ".aml_magic" / "workspace.json"


@plain_data(frozen=True)
class Login:
    url: str
    member: str
    role: str
    token_ref: str

    def token(self) -> str:
        return SecretStore().get(self.token_ref, context=f"the login to {self.url}")


def load() -> Login | None:
    try:
        data = json.loads(login_file().read_text(encoding="utf-8"))
        return Login(str(data["url"]), str(data["member"]), str(data["role"]),
                     str(data["token_ref"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AmlError(f"{login_file()}: not a workspace login ({exc}); run `aml workspace "
                       "logout` and log in again") from None


def require() -> Login:
    login = load()
    if login is None:
        raise AmlError("not logged in to a workspace; run `aml workspace login URL "
                       "--token-stdin`")
    return login


def save(url: str, member: str, role: str, token: str) -> Login:
    """Keep TOKEN in the secret store and the rest in the login file (replacing a login)."""
    logout()
    ref = SecretStore().put(SECRET_KIND, member, token)
    login = Login(url.rstrip("/"), member, role, ref)
    path = login_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": login.url, "member": member, "role": role,
                               "token_ref": ref}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return login


def logout() -> Login | None:
    """Forget the login and delete its token from the secret store; the old login or None."""
    try:
        login = load()
    except AmlError:
        login = None
    if login is not None:
        SecretStore().delete(login.token_ref)
    login_file().unlink(missing_ok=True)
    return login
