"""The Twisted side of the protocol: a base class that frames, parses, dispatches and rejects.

Subclasses map message classes (from ``common.messages``) to handler methods in
``handlers``; a handler receives the parsed, validated message object. A handler may raise
``RequestError`` to answer that one request with an ERROR and keep the connection, or
``ProtocolError`` to answer and close it; a body that fails validation is answered the same
way. Unknown message types are skipped. A handler may be a coroutine (``async def``,
awaiting Deferreds); its failures are answered the same way.
"""

from __future__ import annotations

import collections
import inspect
from typing import Callable, ClassVar

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from common.errors import ErrorCode, ProtocolError, RequestError
from common.messages import parse
from common.messages.basic import Error
from common.messages.schema import REGISTRY, Control
from common.protocol import DEFAULT_MAX_BODY, Decoder, Message

Handler = Callable[["MessageProtocol", Control], object]


PRE_AUTH_MAX_BODY = 64 * 1024  # nothing a client says before it is known needs more
AUTH_TIMEOUT = 10.0  # seconds a client connection has to show who it is
MAX_IN_FLIGHT = 8  # requests a known client may have open at once (one before that)
ABORT_AFTER = 2.0  # seconds a rejected peer has to read its error before it is cut
# Bytes a guarded connection may be sent while its transport says it is full (past the
# transport's own buffer, 64 KiB) before it is cut: events pushed to a client that does not
# read must not pile up in the server.
MAX_UNSENT = 1 << 20


class MessageProtocol(Protocol):
    """``guarded`` protocols face the public (client ports): until ``authenticated()`` is
    called they get small bodies, one request at a time and ``AUTH_TIMEOUT`` seconds; after
    it, ``max_body`` and ``MAX_IN_FLIGHT`` requests. Either way they stop reading while their
    replies cannot be written, and a connection sent more than ``MAX_UNSENT`` bytes while its
    transport is full is cut, so a client that never reads cannot grow the server's memory,
    whatever is pushed to it. The bound is the same on TCP, TLS and WebSocket: each tells its
    producer (this protocol) when its buffer is full."""

    log = Logger()
    handlers: ClassVar[dict[type, Handler]] = {}
    max_body = DEFAULT_MAX_BODY
    guarded = False
    clock: IReactorTime | None = None  # the reactor (a test's Clock): whoever builds the protocol sets it
    abort_after = ABORT_AFTER

    def connectionMade(self) -> None:
        self.is_authenticated = not self.guarded
        self.decoder = Decoder(self.max_body if self.is_authenticated else PRE_AUTH_MAX_BODY)
        self._held: collections.deque[Message] = collections.deque()
        self._in_flight = 0
        self._write_blocked = self._reading_paused = False
        self._unsent = 0  # bytes sent since the transport said it was full
        self._auth_timer = None
        self._auth_overdue = False
        self._closed = False
        self._abort_call = None  # the abort of a rejected peer that may not read its error
        self._drain_waiters: list[Deferred] = []
        if self.clock is None:
            raise TypeError(f"{type(self).__name__} was built without its clock (the reactor)")
        if self.guarded:
            self._auth_timer = self.clock.callLater(AUTH_TIMEOUT, self._auth_expired)
            self.transport.registerProducer(self, True)

    def authenticated(self) -> None:
        """The client showed who it is: full body size, more requests at once."""
        if not self.is_authenticated:
            self.is_authenticated = True
            self.decoder.max_body = self.max_body
            self._cancel_auth_timer()
            self._run_held()

    def dataReceived(self, data: bytes) -> None:
        violation = None
        try:
            for message in self.decoder.feed(data):
                self._held.append(message)
        except ProtocolError as exc:
            violation = exc
        self._run_held()
        if violation is not None and not self.transport.disconnecting:
            self.reject(violation.code, violation.message)

    def _run_held(self) -> None:
        """Dispatch what arrived, as far as the limit of open requests allows."""
        held = self._held
        while held and not self.transport.disconnecting:
            if self.guarded and self._in_flight >= (MAX_IN_FLIGHT if self.is_authenticated else 1):
                break
            pending = self.dispatch(held.popleft())
            if pending is not None and self.guarded:
                self._in_flight += 1
                pending.addBoth(self._request_done)
        self._update_reading()

    def _request_done(self, result):
        self._in_flight -= 1
        if self._auth_overdue and not self.is_authenticated:
            self._auth_expired()
        self._run_held()
        return result

    def _update_reading(self) -> None:
        pause = bool(self._held) or self._write_blocked
        if pause != self._reading_paused and self.connected and not self.transport.disconnecting:
            self._reading_paused = pause
            (self.transport.pauseProducing if pause else self.transport.resumeProducing)()

    # The transport calls these (guarded protocols are their transport's producer).
    def pauseProducing(self) -> None:
        self._write_blocked = True
        self._update_reading()

    def resumeProducing(self) -> None:
        self._write_blocked, self._unsent = False, 0
        self._update_reading()
        for waiting in self._drain_waiters:
            waiting.callback(None)
        self._drain_waiters.clear()

    def drained(self) -> Deferred:
        """Fires once the transport takes more (at once if it does): a long answer sent in
        parts (a catch-up) waits on it rather than piling up."""
        if not self._write_blocked or not self.connected:
            return succeed(None)
        waiting = Deferred()
        self._drain_waiters.append(waiting)
        return waiting

    def stopProducing(self) -> None:
        pass

    def _auth_expired(self) -> None:
        """Cut a client that did not show who it is in time, once its request (a login the
        server is slow to check) is answered."""
        self._auth_timer = None
        self._auth_overdue = True
        if self._in_flight == 0 and not self.transport.disconnecting:
            self.reject(ErrorCode.TIMEOUT, f"nothing showed who you are within {AUTH_TIMEOUT:g} s")

    def _cancel_auth_timer(self) -> None:
        if self._auth_timer is not None and self._auth_timer.active():
            self._auth_timer.cancel()
        self._auth_timer = None

    def connectionLost(self, reason) -> None:
        self._closed = True
        self._cancel_auth_timer()
        self._cancel_abort()
        waiters, self._drain_waiters = getattr(self, "_drain_waiters", []), []
        for waiting in waiters:
            waiting.callback(None)

    def dispatch(self, message: Message) -> Deferred | None:
        """Parse the message and run its handler; a coroutine handler's Deferred is returned
        (its failures already answered), so a subclass can order handlers one after another."""
        handler = self.handlers.get(REGISTRY.get(message.type))
        if handler is None:
            if message.type not in REGISTRY:
                self.log.debug("skipping message of unknown type {type}", type=message.type)
            return None
        try:
            result = handler(self, parse(message))
        except Exception:
            self.request_failed(Failure())
            return None
        if inspect.iscoroutine(result):
            return ensureDeferred(result).addErrback(self.request_failed)
        return None

    def request_failed(self, failure: Failure) -> None:
        """Turn a handler's failure into an answer; a bug is logged and the client told."""
        if failure.check(RequestError):
            self.send_error(failure.value.code, failure.value.message)
        elif failure.check(ProtocolError):
            self.reject(failure.value.code, failure.value.message)
        else:
            self.log.failure("request handler failed", failure)
            self.send_error(ErrorCode.INTERNAL, "internal server error; the request was not completed")

    def send(self, message: Control) -> None:
        data = message.encode()
        if self._write_blocked:
            self._unsent += len(data)
            if self._unsent > MAX_UNSENT:
                self._cut_unread()
                return
        self.transport.write(data)

    def _cut_unread(self) -> None:
        """The peer reads nothing of what it is sent: cut it, with a line in the log (it
        would not read an ERROR)."""
        if not self.transport.disconnecting:
            peer, limit = self.transport.getPeer(), MAX_UNSENT
            self.log.info("cutting connection from {peer}: more than {limit} bytes unread", peer=peer, limit=limit)
            self.transport.abortConnection()

    def send_error(self, code: ErrorCode, message: str) -> None:
        self.send(Error(code, message))

    def reject(self, code: ErrorCode, message: str) -> None:
        """Answer a protocol violation with one ERROR and close the connection; a peer that
        does not read even that is cut, not left half-closed."""
        self.log.info("closing connection from {peer}: {message}", peer=self.transport.getPeer(), message=message)
        self.send_error(code, message)
        self.transport.loseConnection()
        # A connection that closed (perhaps within loseConnection) needs no abort: under TLS,
        # aborting it then would fail, the TLS layer having let go of its connection.
        if not self._closed and self._abort_call is None:
            self._abort_call = self.clock.callLater(self.abort_after, self._abort_if_open)

    def _abort_if_open(self) -> None:
        self._abort_call = None
        if self.connected and not self._closed:
            self.transport.abortConnection()

    def _cancel_abort(self) -> None:
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None


def handles(table: dict[type, Handler], message_class: type) -> Callable[[Callable], Callable]:
    """Decorator registering a method as the handler of one message class."""

    def register(method: Callable) -> Callable:
        table[message_class] = method
        return method

    return register
