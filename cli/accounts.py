"""``register`` and ``login``."""

from __future__ import annotations

import getpass
import sys

from cli import credentials
from client.masters import Masters


def add_commands(commands) -> None:
    for name, run in (("register", cmd_register), ("login", cmd_login)):
        sub = commands.add_parser(name, help=f"{name} a user")
        sub.add_argument("user")
        sub.add_argument("--password", help="the password (else asked for)")
        sub.set_defaults(run=run)


def password_of(args) -> str:
    if args.password is not None:
        return args.password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"password for {args.user}: ")


def cmd_register(args) -> int:
    Masters(args.server).register(args.user, password_of(args))
    print(f"registered {args.user}")
    return 0


def cmd_login(args) -> int:
    login = Masters(args.server).login(args.user, password_of(args))
    credentials.save(login, args.server)
    print(f"logged in as {login.user}")
    return 0
