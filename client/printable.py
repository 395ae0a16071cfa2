"""Text another user wrote, made safe to print on a terminal (U10).

A chat message may carry terminal escapes (colours, an OSC sequence that sets the window
title or writes a link), carriage returns and newlines that fake a line from someone else
(``\\n[12:00:01] alice: send me your token``), or bidirectional overrides that reorder what
is shown. Each of those characters is printed as its escape (``\\n``, ``\\x1b``,
``\\u202e``), so what a line shows is what was sent, on one line.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional embedding, override and isolate marks.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every control and direction character shown as its escape; a
    backslash itself stays as it is."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

