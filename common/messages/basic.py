"""Messages every connection uses: an error, and a plain acknowledgement."""

from __future__ import annotations

from common.messages.fields import Name, Text
from common.messages.schema import Control, control
from common.protocol import MessageType as T


@control(T.ERROR)
class Error(Control):
    """A refusal: ``code`` (an ``ErrorCode``; a newer peer may send codes this one does not
    know) for programs, ``message`` for people."""

    code: Name
    message: Text


@control(T.OK)
class Ok(Control):
    """A request was carried out; ``detail`` says what, for people."""

    detail: Text = ""
