"""``msg``, ``chat``, ``messages``, ``rooms``, ``join`` and ``leave``, and a room owner's
``room-invite``, ``room-accept`` and ``room-remove`` (U10, U11)."""

from __future__ import annotations

import json
import time

from cli import credentials
from cli.args import positive_float, say
from cli.console import StdinLines, describe
from cli.status_table import table
from client.chat import ChatSession, describe_line
from client.errors import FramecastError
from client.masters import Masters
from common.messages.basic import Ok
from common.messages.chat import ChatLine, MemberAction, MessageList, MessagesRequest, RoomChange, RoomList
from common.messages.chat import RoomMember, RoomRow, RoomsRequest
from common.messages.social import Presence


def add_commands(commands) -> None:
    msg = commands.add_parser("msg", help="send a message to USER or #ROOM")
    msg.add_argument("to", metavar="USER|#ROOM")
    msg.add_argument("text", nargs="+")
    msg.set_defaults(run=cmd_msg)
    chat = commands.add_parser("chat", help="chat: lines typed go to USER or #ROOM; messages and presence as they come")
    chat.add_argument("to", nargs="?", metavar="USER|#ROOM")
    chat.add_argument("--json", action="store_true", help="one JSON object per message")
    chat.add_argument("--duration", type=positive_float, help="stop after S seconds")
    chat.set_defaults(run=cmd_chat)
    messages = commands.add_parser("messages", help="your message history")
    messages.add_argument("--with", dest="peer", metavar="USER|#ROOM")
    messages.add_argument("--limit", type=int, default=100)
    messages.add_argument("--json", action="store_true")
    messages.set_defaults(run=cmd_messages)
    rooms = commands.add_parser("rooms", help="the chat rooms, a page at a time")
    rooms.add_argument("--after", metavar="#ROOM", help="the page after #ROOM (the last one listed)")
    rooms.add_argument("--json", action="store_true", help='{"rooms": [...], "next": "#ROOM" or null}')
    rooms.set_defaults(run=cmd_rooms)
    room_help = (
        ("join", "join #ROOM: made (and yours) if new; else the owner's invitation or yes is needed"),
        ("leave", "leave #ROOM"),
    )
    for name, text in room_help:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("room", metavar="#ROOM")
        sub.set_defaults(run=cmd_room)
    for action, text in MEMBER_ACTIONS.items():
        sub = commands.add_parser(f"room-{action}", help=text)
        sub.add_argument("user")
        sub.add_argument("room", metavar="#ROOM")
        sub.set_defaults(run=cmd_room_member, action=action)


MEMBER_ACTIONS = {
    MemberAction.INVITE: "your room: let USER in (at once if they asked, else at their join)",
    MemberAction.ACCEPT: "your room: let in USER, who asked to join",
    MemberAction.REMOVE: "your room: remove USER, withdraw their invitation or turn down their request",
}


def as_json(line: ChatLine) -> str:
    return json.dumps({"id": line.id, "sender": line.sender, "to": line.to, "text": line.text, "time": line.sent_at})


def cmd_msg(args) -> int:
    login = credentials.load()
    accepted = ChatSession(Masters(args.server), login.token).send(args.to, " ".join(args.text))
    print(f"sent to {args.to} (message {accepted.id})")
    return 0


def cmd_chat(args) -> int:
    login = credentials.load()
    masters = Masters(args.server)
    chat = ChatSession(masters, login.token)
    masters.attach(login.token, presence=True)
    say(f"chatting{' with ' + args.to if args.to else ''}: type a line and Enter to send; /msg USER TEXT to anyone")
    stdin, end = StdinLines(), time.monotonic() + args.duration if args.duration else None
    while end is None or time.monotonic() < end:
        events = masters.poll(timeout=0.1)
        for line in chat.new_lines(events):
            print(as_json(line) if args.json else describe_line(line, login.user), flush=True)
        for event in events:
            if isinstance(event, Presence) and args.json:
                print(json.dumps({"presence": event.state.value, "user": event.user}), flush=True)
            elif describe(event):
                say(describe(event))
        for typed in stdin.poll():
            send_typed(chat, args.to, typed)
        chat.report_shown()
    return 0


def send_typed(chat: ChatSession, default: str | None, typed: str) -> None:
    if not typed:
        return
    to, text = default, typed
    if typed.startswith("/msg "):
        to, _, text = typed[5:].strip().partition(" ")
    if not to:
        say("to whom? /msg USER TEXT (or start framecast chat USER)")
        return
    try:
        chat.send(to, text)
    except FramecastError as exc:
        say(f"message not sent: {exc}")


def cmd_messages(args) -> int:
    login = credentials.load()
    lines = Masters(args.server).request(MessagesRequest(login.token, args.peer, args.limit), MessageList).messages
    for line in lines:
        print(as_json(line) if args.json else describe_line(line, login.user))
    if not lines and not args.json:
        print("no messages")
    return 0


def cmd_rooms(args) -> int:
    login = credentials.load()
    after = room_name(args.after) if args.after else None
    page = Masters(args.server).request(RoomsRequest(login.token, after), RoomList)
    if args.json:
        print(json.dumps({"rooms": [room.fields() for room in page.rooms], "next": page.next}))
        return 0
    if page.rooms:
        rows = [[r.name, r.members, r.owner, room_state(r, login.user)] for r in page.rooms]
        print("\n".join(table(["ROOM", "MEMBERS", "OWNER", ""], rows)))
    else:
        print("no rooms yet: framecast join #ROOM makes one" if after is None else f"no rooms after {after}")
    if page.next:
        print(f"more: framecast rooms --after '{page.next}'")
    return 0


def room_state(row: RoomRow, user: str) -> str:
    state = "joined" if row.joined else "invited" if row.invited else "asked to join" if row.asked else ""
    if row.owner == user and row.asking:
        state = ", ".join(filter(None, [state, "asking: " + " ".join(row.asking)]))
    return state


def room_name(text: str) -> str:
    """``#cams``, or ``cams`` (a shell takes an unquoted #cams for a comment)."""
    return text if text.startswith("#") else "#" + text


def cmd_room(args) -> int:
    login = credentials.load()
    request = RoomChange(login.token, room_name(args.room), args.command == "join")
    print(Masters(args.server).request(request, Ok).detail)
    return 0


def cmd_room_member(args) -> int:
    login = credentials.load()
    request = RoomMember(login.token, room_name(args.room), args.user, args.action)
    print(Masters(args.server).request(request, Ok).detail)
    return 0
