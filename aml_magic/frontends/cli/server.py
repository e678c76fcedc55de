"""``aml server init|start|migrate|gc``: a team workspace's server (PostgreSQL history, members,
the REST API). Heavy modules (tornado, jupyter_server, psycopg) load only when a verb runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.frontends.cli.common import verbs
from aml_magic.service.team.blob_gc import collect
from aml_magic.service.team.setup import DEFAULT_KEY_FILE, init_server, migrate_database

KEY_HELP = ("the key store's key (mode 0600), kept outside the database; default "
            f"{DEFAULT_KEY_FILE}")
DATABASE_HELP = "the PostgreSQL URL, e.g. postgresql://aml@dbhost/aml (or $AML_SERVER_DATABASE)"


def _database(p: argparse.ArgumentParser) -> None:
    import os
    default = os.environ.get("AML_SERVER_DATABASE")
    p.add_argument("--database", metavar="URL", default=default, required=default is None,
                   help=DATABASE_HELP)


def add_server(group: argparse.ArgumentParser, verb: str | None = None) -> None:
    sub = verbs(group)
    p = sub.add_parser("init", help="create the schema and the first admin",
                       description="Create the workspace's schema in an empty PostgreSQL "
                       "database and its first admin; the admin's token goes to --token-file "
                       "(mode 0600), and is shown nowhere else.")
    _database(p)
    p.add_argument("--artifacts", metavar="DIR", required=True,
                   help="where the server keeps projects, snapshots and run artifacts")
    p.add_argument("--admin", metavar="NAME", required=True, help="the first admin's name")
    p.add_argument("--token-file", metavar="F", required=True, type=Path,
                   help="where to write the admin's token (mode 0600)")
    p.add_argument("--token-expires-in", metavar="DAYS", type=float,
                   help="the admin's token expires after DAYS days (default: never; "
                   "revocable either way)")
    p.add_argument("--key-file", metavar="F", type=Path, default=DEFAULT_KEY_FILE,
                   help=KEY_HELP + " (created if missing)")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("start", help="run the server in the foreground",
                       description="Serve the REST API (the Jupyter extension's routes, plus "
                       "members and /health) until SIGTERM. For TLS give --certfile/--keyfile, "
                       "or keep the default loopback address behind a TLS reverse proxy.")
    _database(p)
    p.add_argument("--artifacts", metavar="DIR", required=True, type=Path,
                   help="the folder given to `aml server init`")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                   "127.0.0.1)")
    p.add_argument("--port", type=int, default=8642, help="port (default 8642; 0: any free one)")
    p.add_argument("--certfile", help="TLS certificate chain (PEM)")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument("--key-file", metavar="F", type=Path, default=DEFAULT_KEY_FILE,
                   help=KEY_HELP)
    p.set_defaults(handler=cmd_start)

    p = sub.add_parser("migrate", help="bring the database's schema up to date",
                       description="Apply the schema migrations this aml_magic has and the "
                       "database lacks (each recorded in schema_migrations).")
    _database(p)
    p.add_argument("--key-file", metavar="F", type=Path,
                   help="also give a key store without a key (a workspace made before it) "
                   "this key file, created (mode 0600) if missing")
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("gc", help="remove the blobs nothing refers to",
                       description="Remove the content-addressed blobs (snapshot files, pushed "
                       "outputs) that no server project's current snapshot, no kept run "
                       "manifest and no run's outputs index names, and that are older than "
                       "the grace period (a member's upload awaiting its submit stays). Safe "
                       "while the server runs.")
    _database(p)
    p.add_argument("--artifacts", metavar="DIR", required=True, type=Path,
                   help="the folder given to `aml server start`")
    p.add_argument("--grace", metavar="MINUTES", type=float, default=60.0,
                   help="keep every blob younger than this (default 60; at least 20)")
    p.add_argument("--dry-run", action="store_true", help="count only; remove nothing")
    p.set_defaults(handler=cmd_gc)


def cmd_init(args: argparse.Namespace) -> int:
    created = init_server(args.database, Path(args.artifacts), args.admin, args.token_file,
                          token_expires_in=args.token_expires_in, key_file=args.key_file)
    print(f"workspace created; admin {args.admin!r}'s token is in {args.token_file} (mode 0600)")
    print(f"the key store's key is in {args.key_file.expanduser()} (mode 0600, "
          f"{'created' if created else 'kept'}): back it up, apart from the database")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    # tornado and jupyter_server (heavy) load only for the server itself, not for init/migrate
    from aml_magic.frontends.server.standalone import serve
    if bool(args.certfile) != bool(args.keyfile) and not args.certfile:
        raise AmlError("--keyfile needs --certfile")
    return serve(args.database, args.artifacts, host=args.host, port=args.port,
                 certfile=args.certfile, keyfile=args.keyfile, key_file=args.key_file)


def cmd_migrate(args: argparse.Namespace) -> int:
    applied = migrate_database(args.database, args.key_file)
    print(f"applied migrations {', '.join(map(str, applied))}" if applied
          else "the schema is up to date")
    if args.key_file is not None:
        print(f"the key store's key is in {args.key_file.expanduser()} (mode 0600)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    print(collect(args.database, args.artifacts, grace_minutes=args.grace,
                  dry_run=args.dry_run).line())
    return 0
