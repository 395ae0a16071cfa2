"""Applying per-user budgets (S7): whenever a user's viewer sessions change, each session's
slave is told its new cap (the division itself is the pure ``budget.session_caps``)."""

from __future__ import annotations

from common.messages.cluster import SetCap
from master.policy.budget import session_caps
from master.services.slave_links import SlaveLinks
from master.storage.store import Store, stored


class Allowances:
    """On the control plane: ``control`` is the store over the pool of its own."""

    def __init__(self, control: Store, links: SlaveLinks):
        self.control = control
        self.links = links

    async def share(self, user: str) -> None:
        """Divide the user's allowance among all its open viewer sessions and tell every
        session's slave its new cap (slaves ignore a cap that did not change)."""
        sessions = await stored(self.control.viewer_sessions(user))
        if not sessions:
            return
        allowance = next((e.allowance for e in sessions if e.allowance), None)
        caps = session_caps(allowance, {e.session: e.speed_cap for e in sessions})
        for entry in sessions:
            await self.links.send(entry.slave, SetCap(entry.session, caps[entry.session]))
