"""Users' presence (U10): offline, online (a session attached to a live master) or
broadcasting, and telling mutual friends when it changes.

Presence is counted per master in the store; a dead master's sessions stop counting, and
the sweep tells friends (``forget_master``).
"""

from __future__ import annotations

from typing import Callable

from common.messages.social import Presence, PresenceState
from master.services.events import Events
from master.storage.db.relations import Relations
from master.storage.store import Store, stored


class UserPresence:
    def __init__(
        self,
        store: Store,
        relations: Relations,
        events: Events,
        clock: Callable[[], float],
        master_id: str,
        dead_after: float,
    ):
        self.store = store
        self.relations = relations
        self.events = events
        self.clock = clock
        self.master_id = master_id
        self.dead_after = dead_after

    async def count(self, user: str, delta: int) -> None:
        """One session of ``user`` more (1) or fewer (-1) attached to this master."""
        await stored(self.store.presence_change(self.master_id, user, delta))

    async def live_masters(self) -> list[str]:
        now = self.clock()
        masters = await stored(self.store.masters())
        return [m.id for m in masters if now - m.heartbeat <= self.dead_after] + [self.master_id]

    async def online(self, users: list[str]) -> set[str]:
        return await stored(self.store.online(users, await self.live_masters()))

    async def presence(self, users: list[str]) -> dict[str, PresenceState]:
        online = await self.online(users)
        live = {b.user for b in await stored(self.store.broadcasts()) if b.confirmed}
        return {
            user: PresenceState.BROADCASTING
            if user in live
            else PresenceState.ONLINE
            if user in online
            else PresenceState.OFFLINE
            for user in users
        }

    async def announce(self, user: str) -> None:
        """Tell ``user``'s mutual friends what its presence is now."""
        friends = await self.relations.mutual(user)
        if friends:
            state = (await self.presence([user]))[user]
            await self.events.push(friends, Presence(user, state))

    async def forget_master(self, master_id: str) -> None:
        """A master died: its sessions no longer count; friends hear who went offline."""
        for user in await stored(self.store.clear_presence(master_id)):
            if not await self.online([user]):
                await self.announce(user)
