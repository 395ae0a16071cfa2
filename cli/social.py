"""``friends``, ``live``, ``prefs``, and the allow and ignore lists."""

from __future__ import annotations

import json

from cli import credentials

from cli.console import describe
from cli.status_table import table
from client.errors import FramecastError
from client.masters import Masters
from common.messages.basic import Ok
from common.messages.social import (
    AccessList,
    FriendChange,
    FriendList,
    FriendsRequest,
    ListChange,
    LiveList,
    LiveRequest,
    Prefs,
    PrefsRequest,
    Presence,
    SetPref,
)
from common.prefs import Pref

LISTS = {
    "allow": (AccessList.ALLOW, True, "let USER watch you (the allow list)"),
    "disallow": (AccessList.ALLOW, False, "take USER off your allow list"),
    "ignore": (AccessList.IGNORE, True, "ignore USER's requests to watch you"),
    "unignore": (AccessList.IGNORE, False, "take USER off your ignore list"),
}


def add_commands(commands) -> None:
    friends = commands.add_parser("friends", help="your friends and their presence; add or remove one")
    friends.add_argument("change", nargs="?", choices=["add", "remove"])
    friends.add_argument("user", nargs="?")
    friends.add_argument("--json", action="store_true")
    friends.add_argument("--watch", action="store_true", help="then show presence changes as they happen")
    friends.set_defaults(run=cmd_friends)
    live = commands.add_parser("live", help="the broadcasts you may watch, friends first")
    live.add_argument("--room", help="only the broadcasts of the members of #ROOM")
    live.add_argument("--json", action="store_true")
    live.set_defaults(run=cmd_live)
    prefs = commands.add_parser("prefs", help="your settings: " + ", ".join(Pref))
    prefs.add_argument("key", nargs="?")
    prefs.add_argument("value", nargs="?")
    prefs.add_argument("--json", action="store_true")
    prefs.set_defaults(run=cmd_prefs)
    for name, (_, _, text) in LISTS.items():
        sub = commands.add_parser(name, help=text)
        sub.add_argument("user")
        sub.set_defaults(run=cmd_list)


def cmd_friends(args) -> int:
    login = credentials.load()
    masters = Masters(args.server)
    if args.change:
        if not args.user:
            raise FramecastError(f"friends {args.change} needs a USER")
        print(masters.request(FriendChange(login.token, args.user, args.change == "add"), Ok).detail)
        return 0
    if args.watch:  # first, so that no change between the list and the watch goes unseen
        masters.attach(login.token, messages=False, presence=True)
    friends = masters.request(FriendsRequest(login.token), FriendList).friends
    if args.json:
        print(json.dumps([row.fields() for row in friends]), flush=True)
    elif friends:
        print("\n".join(table(["FRIEND", "PRESENCE"], [[row.user, row.presence] for row in friends])))
    else:
        print("no friends yet: framecast friends add USER")
    if args.watch:
        watch_presence(masters, args.json)
    return 0


def watch_presence(masters: Masters, as_json: bool) -> None:
    while True:
        for event in masters.poll(timeout=1.0):
            if isinstance(event, Presence):
                print(json.dumps(event.fields()) if as_json else describe(event), flush=True)


def cmd_live(args) -> int:
    login = credentials.load()
    room = args.room if args.room is None or args.room.startswith("#") else "#" + args.room
    live = Masters(args.server).request(LiveRequest(login.token, room), LiveList).broadcasts
    if args.json:
        print(json.dumps([row.fields() for row in live]))
    elif live:
        rows = [
            [b.user, b.viewers, "friend" if b.friend else "", "ask first" if b.access == "ask" else ""] for b in live
        ]
        print("\n".join(table(["USER", "VIEWERS", "", ""], rows)))
    else:
        print("nobody you may watch is broadcasting")
    return 0


def cmd_prefs(args) -> int:
    login = credentials.load()
    masters = Masters(args.server)
    if args.value is not None:
        settings = masters.request(SetPref(login.token, args.key, args.value), Prefs).settings
    else:
        settings = masters.request(PrefsRequest(login.token), Prefs).settings
    values = settings.fields()
    if args.key is not None and args.key not in values:
        raise FramecastError(f"unknown setting {args.key!r}; the settings are " + ", ".join(Pref))
    shown = {args.key: values[args.key]} if args.key else values
    if args.json:
        print(json.dumps(shown))
    else:
        for key, value in shown.items():
            print(f"{key} {value}")
    return 0


def cmd_list(args) -> int:
    access_list, add, _ = LISTS[args.command]
    login = credentials.load()
    print(Masters(args.server).request(ListChange(login.token, access_list, args.user, add), Ok).detail)
    return 0
