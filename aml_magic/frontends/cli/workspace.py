"""``aml workspace login|logout|show|member``: this machine's login to a team server (the token
in the local secret store) and, for admins, its members."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.frontends.cli.common import project_root, verbs
from aml_magic.service.team import login
from aml_magic.service.team.client import WorkspaceClient
from aml_magic.service.team.push import push_history
from aml_magic.service.team.setup import write_token_file


def add_workspace(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    sub = verbs(group)
    p = sub.add_parser("login", help="log in to a team server",
                       description="Check the token with the server and keep it in the local "
                       "secret store (the login file holds only a reference to it).")
    p.add_argument("url", help="the server, e.g. https://aml.example.org")
    p.add_argument("--token-stdin", action="store_true",
                   help="read the token from standard input (else it is asked for, unechoed)")
    p.set_defaults(handler=cmd_login)
    p = sub.add_parser("logout", help="forget the login and its token")
    p.set_defaults(handler=cmd_logout)
    p = sub.add_parser("show", help="the server, member and role of this login")
    p.set_defaults(handler=cmd_show)

    member = sub.add_parser("member", help="add, remove, list members (admins)")
    msub = verbs(member)
    p = msub.add_parser("add", help="add a member; their token goes to --token-file (0600)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=("admin", "contributor", "reader"))
    p.add_argument("--token-file", metavar="F", required=True, type=Path)
    p.set_defaults(handler=cmd_member_add)
    p = msub.add_parser("remove", help="remove a member and revoke their tokens")
    p.add_argument("name")
    p.set_defaults(handler=cmd_member_remove)
    p = msub.add_parser("list", help="the workspace's members")
    p.set_defaults(handler=cmd_member_list)


def cmd_history_push(args: argparse.Namespace) -> int:
    root = project_root(args)
    result = push_history(root, _client())
    print(f"{root.name}: {len(result['created'])} run(s) new on the workspace, "
          f"{len(result['updated'])} brought up to date")
    if result["not_owner"]:
        print(f"left alone, pushed by another member: {', '.join(result['not_owner'])}")
        return 2
    return 0


def _client() -> WorkspaceClient:
    current = login.require()
    return WorkspaceClient(current.url, current.token())


def cmd_login(args: argparse.Namespace) -> int:
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        import getpass
        token = getpass.getpass("token: ").strip()
    if not token:
        raise AmlError("no token given")
    me = WorkspaceClient(args.url, token).whoami()
    login.save(args.url, str(me["name"]), str(me["role"]), token)
    print(f"logged in to {args.url.rstrip('/')} as {me['name']} ({me['role']})")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    old = login.logout()
    print(f"logged out of {old.url}" if old else "not logged in")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    current = login.require()
    print(f"{current.url}: {current.member} ({current.role})")
    return 0


def cmd_member_add(args: argparse.Namespace) -> int:
    added = _client().request("POST", "members", {"name": args.name, "role": args.role})
    write_token_file(args.token_file, str(added["token"]))
    print(f"member {args.name!r} added as {args.role}; their token is in {args.token_file} "
          "(mode 0600)")
    return 0


def cmd_member_remove(args: argparse.Namespace) -> int:
    _client().request("DELETE", f"members/{args.name}")
    print(f"member {args.name!r} removed; their tokens are revoked")
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    for m in _client().request("GET", "members")["members"]:
        print(f"{m['name']}\t{m['role']}")
    return 0
