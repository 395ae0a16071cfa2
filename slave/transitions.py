"""A state machine as a table: ``(state, event) -> next state``, nothing else.

The broadcast lifecycle (``slave.broadcast_life``) and turbo mode's switch
(``slave.turbo_phase``) are each one enum of states, one of events and one such table; a
pair the table does not list is a bug in the caller and raises ``IllegalTransition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Generic, TypeVar

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)


class IllegalTransition(RuntimeError):
    """An event the table does not allow in the current state."""


class Machine(Generic[S, E]):
    """One object's current state, changed only through ``fire``."""

    __slots__ = ("table", "state")

    def __init__(self, table: Mapping[tuple[S, E], S], state: S):
        self.table = table
        self.state = state

    def can(self, event: E) -> bool:
        return (self.state, event) in self.table

    def fire(self, event: E) -> S:
        try:
            self.state = self.table[self.state, event]
        except KeyError:
            raise IllegalTransition(f"{event.name.lower()} is not allowed when {self.state.name.lower()}") from None
        return self.state
