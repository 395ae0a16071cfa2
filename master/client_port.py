"""The master's client port: register, login, placement redirects and status."""

from __future__ import annotations

import math
import re

from twisted.internet.protocol import Factory

from common.messaging import MessageProtocol, RequestError, handles
from common.protocol import Message, MessageType as T
from common.tokens import CredentialError
from master.service import Master
from master.users import check_password, check_user_name

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
OPERATOR_COMMANDS = ("drain", "undrain", "rebalance")


class MasterClientProtocol(MessageProtocol):
    handlers: dict = {}

    def __init__(self, master: Master):
        self.master = master

    @handles(handlers, T.REGISTER)
    async def register(self, message: Message) -> None:
        fields = message.json()
        user = check_user_name(fields.get("user"))
        await self.master.users.register(user, check_password(fields.get("password")))
        self.send_json(T.OK, user=user)

    @handles(handlers, T.LOGIN)
    async def login(self, message: Message) -> None:
        fields = message.json()
        user = check_user_name(fields.get("user"))
        self.send_json(T.TOKEN, **await self.master.login(user, check_password(fields.get("password"))))

    @handles(handlers, T.BROADCAST_REQUEST)
    async def broadcast(self, message: Message) -> None:
        fields = message.json()
        user, _ = self.master.authenticate(fields.get("token"))
        session, move_from, lost = fields.get("session"), fields.get("move_from"), fields.get("lost")
        if not isinstance(session, str) or not SESSION_ID.match(session):
            raise RequestError("bad_session", "a broadcast needs a session id of 8-64 letters, digits, '_' or '-'")
        if not all(value is None or isinstance(value, str) for value in (move_from, lost)):
            raise RequestError("bad_request", "move_from and lost must be slave ids")
        self.send_json(T.REDIRECT, **await self.master.place_broadcast(user, session, move_from, lost))

    @handles(handlers, T.VIEW_REQUEST)
    async def view(self, message: Message) -> None:
        fields = message.json()
        viewer, level = self.master.authenticate(fields.get("token"))
        target = check_user_name(fields.get("target"))
        speed, link = fields.get("speed_kbps"), fields.get("link")
        if speed is not None and (
            not isinstance(speed, (int, float)) or isinstance(speed, bool) or not math.isfinite(speed) or speed <= 0
        ):
            raise RequestError("bad_speed", "speed_kbps must be a positive number")
        if link is not None and not isinstance(link, str):
            raise RequestError("bad_link", "link must be a link type name")
        self.send_json(T.REDIRECT, **await self.master.locate_broadcast(viewer, level, target, speed, link))

    @handles(handlers, T.OPERATOR_REQUEST)
    async def operator(self, message: Message) -> None:
        fields = message.json()
        command = fields.get("command")
        if command not in OPERATOR_COMMANDS:
            raise RequestError("bad_command", f"unknown operator command {command!r}")
        try:
            self.master.signer.check_operator_proof(fields.get("proof"), command)
        except CredentialError as exc:
            raise RequestError("not_operator", f"operator commands need the cluster secret: {exc}") from None
        if command == "rebalance":
            result = await self.master.rebalance()
        elif command == "drain":
            deadline = fields.get("deadline")
            if deadline is not None and (not isinstance(deadline, (int, float)) or deadline <= 0):
                raise RequestError("bad_request", "deadline must be a positive number of seconds")
            result = await self.master.drain(str(fields.get("slave")), deadline)
        else:
            result = await self.master.undrain(str(fields.get("slave")))
        self.send_json(T.OK, **result)

    @handles(handlers, T.STATUS_REQUEST)
    async def status(self, message: Message) -> None:
        self.send_json(T.STATUS, **await self.master.status())


class MasterClientFactory(Factory):
    def __init__(self, master: Master):
        self.master = master

    def buildProtocol(self, addr):
        return MasterClientProtocol(self.master)
