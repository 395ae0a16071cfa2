"""The Twisted side of the protocol: a base class that frames, dispatches and rejects.

Subclasses map message types to handler methods in ``handlers``. A handler may raise
``RequestError`` to answer that one request with an ERROR and keep the connection, or
``ProtocolError`` to answer and close it. Unknown message types are skipped. A handler may
be a coroutine (``async def``, awaiting Deferreds); its failures are answered the same way.
"""

from __future__ import annotations

import inspect
from typing import Callable, ClassVar

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.logger import Logger

from common.protocol import DEFAULT_MAX_BODY, Decoder, Message, ProtocolError, encode_error, encode_json, known_type


class RequestError(Exception):
    """A request was refused; the client is told why and the connection stays open."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class MessageProtocol(Protocol):
    log = Logger()
    handlers: ClassVar[dict[int, Callable[["MessageProtocol", Message], object]]] = {}
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
        """Run the message's handler; a coroutine handler's Deferred is returned (its
        failures already answered), so a subclass can order handlers one after another."""
        handler = self.handlers.get(message.type)
        if handler is None:
            if not known_type(message.type):
                self.log.debug("skipping message of unknown type {type}", type=message.type)
            return
        try:
            result = handler(self, message)
        except Exception:
            self.request_failed(Failure())
            return
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
            self.send_error("internal", "internal server error; the request was not completed")

    def send_json(self, msg_type: int, **fields: object) -> None:
        self.transport.write(encode_json(msg_type, **fields))

    def send_error(self, code: str, message: str) -> None:
        self.transport.write(encode_error(code, message))

    def reject(self, code: str, message: str) -> None:
        """Answer a protocol violation with one ERROR and close the connection."""
        self.log.info("closing connection from {peer}: {message}", peer=self.transport.getPeer(), message=message)
        self.send_error(code, message)
        self.transport.loseConnection()


def handles(table: dict[int, Callable], msg_type: int) -> Callable[[Callable], Callable]:
    """Decorator registering a method as the handler of one message type."""

    def register(method: Callable) -> Callable:
        table[msg_type] = method
        return method

    return register
