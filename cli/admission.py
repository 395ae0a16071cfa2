"""``accept``, ``deny``, ``invite``, ``decline``, ``viewers`` and ``throw``."""

from __future__ import annotations

import json
import time

from cli import credentials
from cli.status_table import table
from client.masters import Masters
from common.messages.admission import AccessAnswer, Answer, Decline, Invite, Throw, ViewerList, ViewersRequest
from common.messages.basic import Ok


def add_commands(commands) -> None:
    for name, text in (("accept", "let USER, who asked, watch you"), ("deny", "refuse USER's request to watch you")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("user")
        sub.set_defaults(run=cmd_answer)
    invite = commands.add_parser("invite", help="invite USER to watch you")
    invite.add_argument("user")
    invite.set_defaults(run=cmd_invite)
    decline = commands.add_parser("decline", help="decline USER's invitation")
    decline.add_argument("user")
    decline.set_defaults(run=cmd_decline)
    viewers = commands.add_parser("viewers", help="who watches you")
    viewers.add_argument("--json", action="store_true")
    viewers.set_defaults(run=cmd_viewers)
    throw = commands.add_parser("throw", help="remove USER from your viewers")
    throw.add_argument("user")
    throw.set_defaults(run=cmd_throw)


def _request(args, message_of_token) -> None:
    login = credentials.load()
    print(Masters(args.server).request(message_of_token(login.token), Ok).detail)


def cmd_answer(args) -> int:
    answer = Answer.ACCEPT if args.command == "accept" else Answer.DENY
    _request(args, lambda token: AccessAnswer(token, args.user, answer))
    return 0


def cmd_invite(args) -> int:
    _request(args, lambda token: Invite(token, args.user))
    return 0


def cmd_decline(args) -> int:
    _request(args, lambda token: Decline(token, args.user))
    return 0


def cmd_throw(args) -> int:
    _request(args, lambda token: Throw(token, args.user))
    return 0


def cmd_viewers(args) -> int:
    login = credentials.load()
    viewers = Masters(args.server).request(ViewersRequest(login.token), ViewerList).viewers
    if args.json:
        print(json.dumps([row.fields() for row in viewers]))
        return 0
    rows = [
        [v.user, time.strftime("%H:%M:%S", time.localtime(v.since)), f"{v.fps:.1f}", f"{v.kbps:.0f}", v.path]
        for v in viewers
    ]
    print(f"{len(viewers)} watching")
    if rows:
        print("\n".join(table(["VIEWER", "SINCE", "FPS", "KBPS", "PATH"], rows)))
    return 0
