"""Instant messages on a client's attached master connection (U10): sending (at least once:
a message lost with its connection is sent again under the same client id, which the
master stores only once), receiving (each message once, by id) and telling the master
which messages were shown."""

from __future__ import annotations

import secrets
import time

from client.errors import ConnectionLost
from client.masters import Masters
from client.printable import printable
from common.messages.chat import ChatLine, ChatMessage, MsgAccepted, MsgSeen, MsgSend

SEEN_EVERY = 1.0  # seconds between reports of the messages shown


class ChatSession:
    def __init__(self, masters: Masters, token: str):
        self.masters = masters
        self.token = token
        self.shown: set[int] = set()
        self.last_shown = 0
        self._reported = 0
        self._report_at = 0.0

    def send(self, to: str, text: str) -> MsgAccepted:
        message = MsgSend(self.token, to, text, secrets.token_urlsafe(12))
        try:
            return self.masters.request(message, MsgAccepted)
        except ConnectionLost:
            return self.masters.request(message, MsgAccepted)  # the same client id: stored once

    def new_lines(self, events: list) -> list[ChatLine]:
        """The messages among ``events`` this session has not shown yet, in order."""
        lines = sorted((e.message for e in events if isinstance(e, ChatMessage)), key=lambda line: line.id)
        fresh = [line for line in lines if line.id not in self.shown]
        for line in fresh:
            self.shown.add(line.id)
            self.last_shown = max(self.last_shown, line.id)
        if fresh:
            self.masters.resume_from(self.last_shown)
        return fresh

    def report_shown(self) -> None:
        """Tell the master (at most once a second) up to which message this session showed."""
        if self.last_shown > self._reported and time.monotonic() >= self._report_at:
            try:
                self.masters.send(MsgSeen(self.last_shown))
            except ConnectionLost:
                return
            self._reported, self._report_at = self.last_shown, time.monotonic() + SEEN_EVERY


def describe_line(line: ChatLine, me: str) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(line.sent_at))
    text = printable(line.text)  # another user's words: no escapes, no fake lines
    if line.sender == me:
        return f"[{stamp}] you -> {line.to}: {text}"
    where = f"{line.to} " if line.to.startswith("#") else ""
    return f"[{stamp}] {where}{line.sender}: {text}"
