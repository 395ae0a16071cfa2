"""What a running session (a broadcast, a view, a chat) shows and reads on the terminal
besides its images: events the master pushes (messages, requests to watch, answers,
invitations, presence), and lines typed on standard input: ``/msg USER TEXT`` sends a
message, ``p``/``r`` pause and resume, and a broadcast answers requests to watch with
``y``, ``n`` or Enter, ``always``, ``ignore`` (optionally followed by the user's name).
Works with a terminal and with a pipe; standard input is ignored once it ends."""

from __future__ import annotations

import os
import select
import sys
from typing import Callable

from cli.args import say
from client.chat import ChatSession, describe_line
from client.errors import FramecastError
from client.masters import Masters
from client.turbo_broadcast import BroadcastTurbo
import time

from common.messages.admission import (
    AccessAnswer,
    Answer,
    AskAnswered,
    Invitation,
    InvitationDeclined,
    ViewAnswer,
    ViewAsk,
)
from common.messages.basic import Ok
from common.messages.chat import RoomAsk
from common.messages.social import Presence, PrefsChanged

PAUSE, RESUME = "pause", "resume"
WORDS = {"p": PAUSE, "pause": PAUSE, "r": RESUME, "resume": RESUME}
ANSWERS = {"y": Answer.ACCEPT, "yes": Answer.ACCEPT, "n": Answer.DENY, "no": Answer.DENY, "": Answer.DENY}
ANSWERS.update({"always": Answer.ALWAYS, "ignore": Answer.IGNORE})


class StdinLines:
    """Lines typed on standard input, read without blocking."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self.open = self.stream is not None and not self.stream.closed
        self._pending = b""

    def poll(self) -> list[str]:
        if not self.open:
            return []
        fd = self.stream.fileno()
        while select.select([fd], [], [], 0)[0]:
            data = os.read(fd, 4096)
            if not data:
                self.open = False
                break
            self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [line.decode(errors="replace").strip() for line in lines]


def describe(event) -> str | None:
    """A pushed event as a line for the terminal (None: nothing to show)."""
    if isinstance(event, ViewAsk):
        return f"{event.viewer} asks to watch — accept? [y/N/always/ignore]"
    if isinstance(event, ViewAnswer):
        return f"{event.broadcaster} {'accepted' if event.accepted else 'declined'} your request"
    if isinstance(event, Invitation):
        b = event.broadcaster
        return f"{b} invites you to watch: framecast view {b} (or framecast decline {b})"
    if isinstance(event, InvitationDeclined):
        return f"{event.viewer} declined your invitation"
    if isinstance(event, Presence):
        return f"{event.user} is {event.state}"
    if isinstance(event, RoomAsk):
        return f"{event.user} asks to join {event.room}: framecast room-accept {event.user} '{event.room}'"
    if isinstance(event, PrefsChanged):
        return None  # the broadcast says what it applied
    return None


class Console:
    def __init__(
        self,
        masters: Masters,
        token: str,
        user: str,
        on_pause: Callable[[bool], None],
        turbo: BroadcastTurbo | None = None,
    ):
        self.masters = masters
        self.token = token
        self.user = user
        self.on_pause = on_pause
        self.chat = ChatSession(masters, token)
        self.stdin = StdinLines()
        self.asks: dict[str, float] = {}  # viewer -> when its request expires, oldest first
        self.turbo = turbo

    def pushed(self, event) -> None:
        if isinstance(event, ViewAsk):
            self.asks.setdefault(event.viewer, event.expires_at)
        elif isinstance(event, AskAnswered):
            self.asks.pop(event.viewer, None)
        for message in self.chat.new_lines([event]):
            say(describe_line(message, self.user))
        line = describe(event)
        if line:
            say(line)

    def read(self) -> None:
        for line in self.stdin.poll():
            self.command(line)
        self.chat.report_shown()

    def command(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        self.asks = {viewer: until for viewer, until in self.asks.items() if until > time.time()}
        if word == "/msg":
            self.message(*(rest.strip().split(" ", 1) + [""])[:2])
        elif word.lower() in WORDS:
            self.on_pause(WORDS[word.lower()] == PAUSE)
        elif word.lower() in ANSWERS and self.asks:
            viewer = rest.strip() or next(iter(self.asks))
            self.answer(viewer, ANSWERS[word.lower()])
        elif self.turbo is not None and (word == "turbo" or (self.turbo.asking and word.lower() in ANSWERS)):
            self.turbo.set_allowed(rest.strip() != "off" if word == "turbo" else ANSWERS[word.lower()] == Answer.ACCEPT)
        elif line:
            answers = "; y/n/always/ignore answers" if self.asks else ""
            turbo = "; turbo on|off" if self.turbo is not None else ""
            say(f"unknown command {line!r}: /msg USER TEXT sends, p pauses, r resumes{answers}{turbo}")

    def message(self, to: str, text: str) -> None:
        try:
            self.chat.send(to, text)
        except FramecastError as exc:
            say(f"message not sent: {exc}")

    def answer(self, viewer: str, answer: Answer) -> None:
        self.asks.pop(viewer, None)
        try:
            say(self.masters.request(AccessAnswer(self.token, viewer, answer), Ok).detail)
        except FramecastError as exc:
            say(f"could not answer {viewer}: {exc}")
