"""Friends and their presence, the list of live broadcasts a user may watch, settings, and
the allow and ignore lists (U1, U3, U8)."""

from __future__ import annotations

from common import prefs
from common.errors import ErrorCode, RequestError
from common.messages.social import AccessList, FriendList, FriendRow, LiveList, LiveRow, Settings
from common.messages.social import Presence, PresenceState, PrefsChanged
from master.policy.status import audience
from master.services.admission import Admission
from master.services.events import Events
from master.services.presence import UserPresence
from master.storage.db.preferences import Preferences
from master.storage.db.relations import Relations
from master.storage.db.rooms import Rooms
from master.storage.store import Store, stored


class Social:
    def __init__(
        self,
        store: Store,
        relations: Relations,
        preferences: Preferences,
        rooms: Rooms,
        presence: UserPresence,
        events: Events,
        admission: Admission,
    ):
        self.store = store
        self.relations = relations
        self.preferences = preferences
        self.rooms = rooms
        self.presence = presence
        self.events = events
        self.admission = admission

    async def friends(self, user: str) -> FriendList:
        """The user's friends, with presence for those who added the user back."""
        rows = await self.relations.friend_rows(user)
        presence = await self.presence.presence([name for name, mutual in rows if mutual])
        return FriendList(tuple(FriendRow(name, presence.get(name, PresenceState.PENDING)) for name, _ in rows))

    async def change_friend(self, user: str, friend: str, add: bool) -> str:
        relations = self.relations
        changed = await relations.change_friend(user, friend, add)
        if not add:
            return f"{friend} is no longer your friend" if changed else f"{friend} was not your friend"
        said = f"{friend} is your friend" + ("" if changed else " already")
        if friend not in await relations.mutual(user):
            return f"{said}; you see their presence once they add you too"
        if changed:  # mutual from now on: each side's running sessions learn the other's presence
            presence = await self.presence.presence([user, friend])
            await self.events.push([user], Presence(friend, presence[friend]))
            await self.events.push([friend], Presence(user, presence[user]))
        return said

    async def change_list(self, user: str, other: str, listed: AccessList, add: bool) -> str:
        """Put ``other`` on (or take them off) the user's allow or ignore list."""
        changed = await self.relations.change_list(user, other, listed, add)
        where = "on" if add else "off"
        return f"{other} is {where} your {listed} list" + ("" if changed else " already")

    async def live(self, user: str, room: str | None = None) -> LiveList:
        """The broadcasts ``user`` may watch (only those of ``room``'s members, if given),
        friends first, with their viewer counts."""
        live = [b for b in await stored(self.store.broadcasts()) if b.confirmed and b.user != user]
        if room:
            members = await self.rooms.members(room)
            live = [b for b in live if b.user in members]
        access = await self.admission.watchable(user, live)
        friends = set(await self.relations.friends(user))
        counts = audience(await stored(self.store.all_viewer_sessions()))
        rows = [
            LiveRow(b.user, counts.get(b.user, 0), b.user in friends, access[b.user]) for b in live if b.user in access
        ]
        return LiveList(tuple(sorted(rows, key=lambda row: (not row.friend, row.user))))

    async def settings(self, user: str) -> Settings:
        return Settings.from_fields(await self.preferences.of(user))

    async def set_pref(self, user: str, key: str, text: str) -> Settings:
        """Store a setting and tell the user's running sessions (a broadcast applies it)."""
        try:
            value = prefs.parse_value(key, text)
        except ValueError as exc:
            raise RequestError(ErrorCode.BAD_PREF, str(exc)) from None
        await self.preferences.set(user, key, value)
        settings = await self.settings(user)
        await self.events.push([user], PrefsChanged(settings))
        return settings
