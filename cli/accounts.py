"""``register``, ``login``, ``logout`` and ``token`` (a short-lived one for players)."""

from __future__ import annotations

import getpass
import sys

from cli import credentials
from cli.args import positive_float
from client.masters import Masters
from common.messages.accounts import LoginToken, Logout, PlayerTokenRequest
from common.messages.basic import Ok


def add_commands(commands) -> None:
    for name, run in (("register", cmd_register), ("login", cmd_login)):
        sub = commands.add_parser(name, help=f"{name} a user")
        sub.add_argument("user")
        sub.add_argument("--password", help="the password (else asked for)")
        sub.set_defaults(run=run)
    logout = commands.add_parser("logout", help="forget this machine's login")
    logout.add_argument(
        "--everywhere", action="store_true", help="end every login and player token you hold, on every machine"
    )
    logout.set_defaults(run=cmd_logout)
    token = commands.add_parser("token", help="print a short-lived token")
    token.add_argument(
        "--for-player",
        action="store_true",
        required=True,
        help="for players' URLs (?token= of /watch/USER.mjpg and /snapshot/USER.jpg) only",
    )
    token.add_argument(
        "--ttl", type=positive_float, default=3600.0, help="seconds it lives (default 3600, at most 86400)"
    )
    token.set_defaults(run=cmd_token)


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


def cmd_logout(args) -> int:
    if args.everywhere:
        login = credentials.load()
        print(Masters(args.server).request(Logout(login.token), Ok).detail)
    print("logged out" if credentials.forget() else "not logged in")
    return 0


def cmd_token(args) -> int:
    """The token alone on stdout, for a player's URL."""
    login = credentials.load()
    print(Masters(args.server).request(PlayerTokenRequest(login.token, args.ttl), LoginToken).token)
    return 0
