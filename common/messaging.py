"""The Twisted side of the protocol: a base class that frames, parses, dispatches and rejects.

Subclasses map message classes (from ``common.messages``) to handler methods in
``handlers``; a handler receives the parsed, validated message object. A handler may raise
``RequestError`` to answer that one request with an ERROR and keep the connection, or
``ProtocolError`` to answer and close it; a body that fails validation is answered the same
way. Unknown message types are skipped. A handler may be a coroutine (``async def``,
awaiting Deferreds); its failures are answered the same way.
"""

from __future__ import annotations

import inspect
from typing import Callable, ClassVar

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from common.errors import ErrorCode, ProtocolError, RequestError
from common.messages import parse
from common.messages.basic import Error
from common.messages.schema import REGISTRY, Control
from common.protocol import DEFAULT_MAX_BODY, Decoder, Message

Handler = Callable[["MessageProtocol", Control], object]


class MessageProtocol(Protocol):
    log = Logger()
    handlers: ClassVar[dict[type, Handler]] = {}
    max_body = DEFAULT_MAX_BODY

    def connectionMade(self) -> None:
        self.decoder = Decoder(self.max_body)

    def dataReceived(self, data: bytes) -> None:
        try:
            for message in self.decoder.feed(data):
                self.dispatch(message)
                if self.transport.disconnecting:
                    return
        except ProtocolError as exc:
            self.reject(exc.code, exc.message)

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
        self.transport.write(message.encode())

    def send_error(self, code: ErrorCode, message: str) -> None:
        self.send(Error(code, message))

    def reject(self, code: ErrorCode, message: str) -> None:
        """Answer a protocol violation with one ERROR and close the connection."""
        self.log.info("closing connection from {peer}: {message}", peer=self.transport.getPeer(), message=message)
        self.send_error(code, message)
        self.transport.loseConnection()


def handles(table: dict[type, Handler], message_class: type) -> Callable[[Callable], Callable]:
    """Decorator registering a method as the handler of one message class."""

    def register(method: Callable) -> Callable:
        table[message_class] = method
        return method

    return register
