"""The master's client port: accounts, redirects, a user's attached sessions, friends,
settings, who may watch whom, status and operator commands. Each handler checks the
credential its request carries and hands the typed request to one of the services in
``ClientServices``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory

from common.errors import ErrorCode, RequestError
from common.messages.accounts import (
    BroadcastRequest,
    Login,
    Logout,
    OperatorCommand,
    OperatorRequest,
    PlayerTokenRequest,
    Register,
    StatusRequest,
    ViewRequest,
)
from common.messages.admission import AccessAnswer, Decline, Invite, Throw, ViewersRequest
from common.messages.basic import Ok
from common.messages.chat import MessagesRequest, MsgSeen, MsgSend, RoomChange, RoomMember, RoomsRequest, is_room
from common.messages.social import (
    Attach,
    FriendChange,
    FriendsRequest,
    ListChange,
    LiveRequest,
    Prefs,
    PrefsRequest,
    SetPref,
)
from common.messaging import MessageProtocol, handles
from common.ratelimit import gcra
from common.tokens import LoginClaims, OperatorProof
from common.turbo import admissible
from master.policy.limits import Flood
from master.services.accounts import Accounts
from master.services.admission import Admission
from master.services.audience import Audience
from master.services.chat import Chat
from master.services.floods import Floods
from master.services.operators import Operators
from master.services.redirects import Redirects
from master.services.sessions import UserSessions
from master.services.social import Social
from master.services.status import ClusterStatus

# A status reads every table of the cluster: a loop of them on one connection is refused
# past this rate, not served (and each user's, on all connections, past Flood.STATUS_USER).
STATUS_RATE, STATUS_BURST = 2.0, 10


@dataclass(frozen=True)
class ClientServices:
    """The services a client's requests go to (the browser's too, through ``/ws``)."""

    accounts: Accounts
    floods: Floods
    redirects: Redirects
    sessions: UserSessions
    admission: Admission
    audience: Audience
    social: Social
    chat: Chat
    status: ClusterStatus
    operators: Operators


class MasterClientProtocol(MessageProtocol):
    """A client of the masters: a valid login token (or a login, or an operator proof) makes
    the connection known; until then it has the guarded limits of ``MessageProtocol``."""

    handlers: dict = {}
    guarded = True
    max_body = 256 * 1024  # requests are small; chat messages are at most 4 KiB

    def __init__(self, services: ClientServices, clock: IReactorTime):
        self.services = services
        self.clock = clock
        self.attached: Attach | None = None
        self.user = ""
        self.token_epoch = 0  # of the token the session attached with
        self.last_message = 0
        self.sent_messages: set[int] = set()
        self.catching_up: list | None = None
        self._status_tat: float | None = None

    def _address(self) -> str:
        """The client's address (its own behind HAProxy with the PROXY protocol)."""
        return getattr(self.transport.getPeer(), "host", "")

    async def _user(self, token: str) -> str:
        return (await self._claims(token)).user

    async def _claims(self, token: str) -> LoginClaims:
        """The login ``token`` shows, if valid and not ended by ``logout --everywhere``."""
        claims = await self.services.accounts.authenticate(token)
        self.authenticated()
        return claims

    async def _operator(self, proof: str, command: str, target: str | None = None) -> None:
        """Refuse unless ``proof`` is a valid, unused operator proof of this very command."""
        await self.services.operators.authorize(proof, command, target)
        self.authenticated()

    async def _limited(self, flood: Flood | None, token: str, act) -> str:
        """``act(user)`` for a request that names a user: counted against ``flood`` (if any)
        and the limit on names of users who do not exist."""
        user = await self._user(token)
        if flood is not None:
            await self.services.floods.check(flood, user)
        return await self.services.floods.naming(user, lambda: act(user))

    # --- accounts and redirects ---------------------------------------------------------
    @handles(handlers, Register)
    async def register(self, request: Register) -> None:
        await self.services.floods.check(Flood.REGISTER_ADDRESS, self._address())
        await self.services.accounts.register(request.user, request.password)
        self.send(Ok(f"registered {request.user}"))

    @handles(handlers, Login)
    async def login(self, request: Login) -> None:
        self.send(await self.services.floods.login(self._address(), request.user, request.password))
        self.authenticated()

    @handles(handlers, PlayerTokenRequest)
    async def player_token(self, request: PlayerTokenRequest) -> None:
        self.send(self.services.accounts.player_token(await self._claims(request.token), request.ttl))

    @handles(handlers, Logout)
    async def logout(self, request: Logout) -> None:
        await self.services.accounts.end_tokens(await self._claims(request.token))
        self.send(Ok("every login and player token of yours is ended"))

    @handles(handlers, BroadcastRequest)
    async def broadcast(self, request: BroadcastRequest) -> None:
        user = await self._user(request.token)
        turbo = ()
        if request.turbo_port and request.turbo_fingerprint:  # listening for a lone viewer (turbo mode)
            turbo = admissible(request.turbo_hosts, request.turbo_port, self._address())
        place = self.services.redirects.place_broadcast
        self.send(await place(user, request.session, request.move_from, request.lost, turbo, request.turbo_fingerprint))

    @handles(handlers, ViewRequest)
    async def view(self, request: ViewRequest) -> None:
        self.send(await self.services.admission.view(await self._claims(request.token), request))

    # --- a user's attached sessions -----------------------------------------------------
    @handles(handlers, Attach)
    async def attach(self, request: Attach) -> None:
        claims = await self._claims(request.token)
        if self.attached is not None:
            raise RequestError(ErrorCode.ALREADY_STARTED, "this connection is attached already")
        user = claims.user
        self.services.sessions.check_room_for(user)
        self.attached, self.user, self.token_epoch = request, user, claims.epoch
        await self.services.sessions.attach(self, user)

    def connectionLost(self, reason) -> None:
        super().connectionLost(reason)
        if self.attached is not None:
            self.attached = None
            ensureDeferred(self.services.sessions.detach(self, self.user)).addErrback(self.request_failed)

    # --- friends, live broadcasts, settings ---------------------------------------------
    @handles(handlers, FriendsRequest)
    async def friends(self, request: FriendsRequest) -> None:
        self.send(await self.services.social.friends(await self._user(request.token)))

    @handles(handlers, FriendChange)
    async def friend_change(self, request: FriendChange) -> None:
        change = self.services.social.change_friend
        self.send(Ok(await self._limited(None, request.token, lambda u: change(u, request.user, request.add))))

    @handles(handlers, LiveRequest)
    async def live(self, request: LiveRequest) -> None:
        user = await self._user(request.token)
        await self.services.floods.check(Flood.LIVE_USER, user)
        self.send(await self.services.social.live(user, request.room))

    @handles(handlers, PrefsRequest)
    async def prefs(self, request: PrefsRequest) -> None:
        self.send(Prefs(await self.services.social.settings(await self._user(request.token))))

    @handles(handlers, SetPref)
    async def set_pref(self, request: SetPref) -> None:
        user = await self._user(request.token)
        self.send(Prefs(await self.services.social.set_pref(user, request.key, request.value)))

    @handles(handlers, ListChange)
    async def list_change(self, request: ListChange) -> None:
        change, listed = self.services.social.change_list, request.list
        self.send(Ok(await self._limited(None, request.token, lambda u: change(u, request.user, listed, request.add))))

    # --- who may watch whom -------------------------------------------------------------
    @handles(handlers, AccessAnswer)
    async def access_answer(self, request: AccessAnswer) -> None:
        answer = self.services.admission.answer
        self.send(Ok(await self._limited(None, request.token, lambda u: answer(u, request))))

    @handles(handlers, Invite)
    async def invite(self, request: Invite) -> None:
        invite = self.services.admission.invite
        self.send(Ok(await self._limited(Flood.INVITE_USER, request.token, lambda u: invite(u, request))))

    @handles(handlers, Decline)
    async def decline(self, request: Decline) -> None:
        decline = self.services.admission.decline
        self.send(Ok(await self._limited(Flood.DECLINE_USER, request.token, lambda u: decline(u, request))))

    @handles(handlers, ViewersRequest)
    async def viewers(self, request: ViewersRequest) -> None:
        self.send(await self.services.audience.viewers(await self._user(request.token)))

    @handles(handlers, Throw)
    async def throw(self, request: Throw) -> None:
        throw = self.services.audience.throw
        self.send(Ok(await self._limited(Flood.THROW_USER, request.token, lambda u: throw(u, request.user))))

    # --- messages and rooms -------------------------------------------------------------
    @handles(handlers, MsgSend)
    async def message(self, request: MsgSend) -> None:
        user, chat = await self._user(request.token), self.services.chat
        if is_room(request.to):
            self.send(await chat.send(user, request))
        else:
            self.send(await self.services.floods.naming(user, lambda: chat.send(user, request)))

    @handles(handlers, MsgSeen)
    async def seen(self, request: MsgSeen) -> None:
        if self.attached is None:
            raise RequestError(ErrorCode.BAD_REQUEST, "only an attached session says which messages it has shown")
        await self.services.chat.seen(self.user, request.up_to)

    @handles(handlers, MessagesRequest)
    async def history(self, request: MessagesRequest) -> None:
        user, chat = await self._user(request.token), self.services.chat
        self.send(await self.services.floods.naming(user, lambda: chat.history(user, request.peer, request.limit)))

    @handles(handlers, RoomsRequest)
    async def rooms(self, request: RoomsRequest) -> None:
        self.send(await self.services.chat.rooms(await self._user(request.token), request.after, request.limit))

    @handles(handlers, RoomChange)
    async def room_change(self, request: RoomChange) -> None:
        user = await self._user(request.token)
        self.send(Ok(await self.services.chat.change_room(user, request.room, request.join)))

    @handles(handlers, RoomMember)
    async def room_member(self, request: RoomMember) -> None:
        decide = self.services.chat.decide_member
        self.send(Ok(await self._limited(None, request.token, lambda u: decide(u, request))))

    # --- status and operators -----------------------------------------------------------
    @handles(handlers, StatusRequest)
    async def status(self, request: StatusRequest) -> None:
        wait, tat = gcra(self._status_tat, self.clock.seconds(), STATUS_RATE, STATUS_BURST)
        if tat is None:
            raise RequestError(ErrorCode.RATE_LIMITED, f"too many status requests; try again in {math.ceil(wait)} s")
        self._status_tat = tat
        if request.proof is not None:
            await self._operator(request.proof, OperatorProof.STATUS)
            self.send(await self.services.status.status())
        elif request.token is not None:
            user = await self._user(request.token)
            await self.services.floods.check(Flood.STATUS_USER, user)
            self.send(await self.services.status.status(user))
        else:
            raise RequestError(ErrorCode.BAD_TOKEN, "not logged in: the status needs a login (operators: the secret)")

    @handles(handlers, OperatorRequest)
    async def operator(self, request: OperatorRequest) -> None:
        await self._operator(request.proof, request.command, request.slave)
        operators = self.services.operators
        if request.command == OperatorCommand.REBALANCE:
            self.send(await operators.rebalance())
        elif request.command == OperatorCommand.DRAIN:
            self.send(await operators.drain(request.slave or "", request.deadline))
        else:
            self.send(await operators.undrain(request.slave or ""))


class MasterClientFactory(Factory):
    def __init__(self, services: ClientServices, reactor: IReactorTime):
        self.services = services
        self.reactor = reactor

    def buildProtocol(self, addr):
        return MasterClientProtocol(self.services, self.reactor)
