"""``aml workspace login|logout|show|link|unlink|member|token``: this machine's login to a team
server (the token in the local secret store), a project's link to one, and, for admins, its
members and their tokens."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aml_magic.errors import AmlError, ProjectNotFound
from aml_magic.frontends.cli.common import project_root, verbs
from aml_magic.frontends.cli.workspace_runs import add_runs
from aml_magic.service.contract import models as M
from aml_magic.service.team import link, login
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
    p = sub.add_parser("show", help="the server, member and role of this login, and the "
                       "workspace this project is linked to")
    p.add_argument("--project", help="the project (default: the one around the current folder)")
    p.set_defaults(handler=cmd_show)
    p = sub.add_parser("link", help="link this project to a workspace (aml_config/workspace.yml)",
                       description="Write aml_config/workspace.yml holding the server's URL "
                       "only, never a secret. From then on `aml experiment submit` and `aml run "
                       "...` in this project go through that server.")
    p.add_argument("url", help="the server, e.g. https://aml.example.org")
    p.add_argument("--force", action="store_true", help="replace a link to another URL")
    p.add_argument("--project", help="the project (default: the one around the current folder)")
    p.set_defaults(handler=cmd_link)
    p = sub.add_parser("unlink", help="remove this project's workspace link")
    p.add_argument("--project", help="the project (default: the one around the current folder)")
    p.set_defaults(handler=cmd_unlink)
    add_runs(sub)

    member = sub.add_parser("member", help="add, remove, list members (admins)")
    msub = verbs(member)
    p = msub.add_parser("add", help="add a member; their token goes to --token-file (0600)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=("admin", "contributor", "reader"))
    p.add_argument("--token-file", metavar="F", required=True, type=Path)
    p.add_argument("--expires-in", metavar="DAYS", type=float,
                   help="the token expires after DAYS days (default: never; revocable)")
    p.set_defaults(handler=cmd_member_add)
    p = msub.add_parser("remove", help="remove a member and revoke their tokens")
    p.add_argument("name")
    p.set_defaults(handler=cmd_member_remove)
    p = msub.add_parser("list", help="the workspace's members")
    p.set_defaults(handler=cmd_member_list)

    token = sub.add_parser("token", help="revoke a member's tokens (admins)")
    tsub = verbs(token)
    p = tsub.add_parser("revoke", help="revoke every token of NAME, who stays a member "
                        "(`member add NAME ...` then issues a new one)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_token_revoke)


def cmd_history_push(args: argparse.Namespace) -> int:
    root = project_root(args)
    result = push_history(root, _client())
    print(f"{root.name}: {len(result['created'])} run(s) new on the workspace, "
          f"{len(result['updated'])} brought up to date; {result['blobs']} output file(s) "
          f"sent ({result['bytes']} bytes)")
    if result["left_out"]:
        print(f"{result['left_out']} output(s) left out: their file is gone from the run "
              "folder, is a link, or changed since the run (their index went up)")
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


def _linked_project(args: argparse.Namespace) -> tuple[Path, str | None] | None:
    """The project around the current folder (or --project) and its link; None outside one."""
    try:
        root = project_root(args)
    except ProjectNotFound:
        if getattr(args, "project", None):
            raise
        return None
    return root, link.read_link(root)


def cmd_show(args: argparse.Namespace) -> int:
    project = _linked_project(args)
    current = login.load() if project is not None and project[1] else login.require()
    if current is not None:
        print(f"{current.url}: {current.member} ({current.role})")
    else:
        print("not logged in to a workspace (`aml workspace login URL --token-stdin`)")
    if project is not None and project[1]:
        print(f"project {project[0].name} is linked to {project[1]} (aml_config/workspace.yml)")
        if current is not None and current.url != project[1]:
            print(f"note: the login is to {current.url}, not to the linked workspace")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    root = project_root(args)
    changed = link.write_link(root, args.url, force=args.force)
    url = link.check_url(args.url)
    print(f"project {root.name} linked to {url} (aml_config/workspace.yml)" if changed
          else f"project {root.name} is linked to {url} already")
    return 0


def cmd_unlink(args: argparse.Namespace) -> int:
    root = project_root(args)
    old = link.remove_link(root)
    print(f"project {root.name} unlinked from {old}" if old
          else f"project {root.name} was not linked")
    return 0


def cmd_member_add(args: argparse.Namespace) -> int:
    body: M.MemberRequest = {"name": args.name, "role": args.role}
    if args.expires_in is not None:
        body["expires_in_days"] = float(args.expires_in)
    added = _client().post("members", body, M.MemberTokenJson)
    write_token_file(args.token_file, str(added["token"]))
    expiry = f", valid for {args.expires_in:g} day(s)" if args.expires_in is not None else ""
    print(f"member {args.name!r} added as {args.role}; their token is in {args.token_file} "
          f"(mode 0600){expiry}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    _client().request("DELETE", f"members/{args.name}/tokens")
    print(f"the tokens of {args.name!r} are revoked; `aml workspace member add {args.name} "
          "--role ROLE --token-file F` issues a new one")
    return 0


def cmd_member_remove(args: argparse.Namespace) -> int:
    _client().request("DELETE", f"members/{args.name}")
    print(f"member {args.name!r} removed; their tokens are revoked")
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    for m in _client().get("members", M.MemberListJson)["members"]:
        print(f"{m['name']}\t{m['role']}")
    return 0
