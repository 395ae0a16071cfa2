"""Friends and their presence, the list of live broadcasts a user may watch, settings, and
the allow and ignore lists (U1, U3, U8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common import prefs
from common.errors import ErrorCode, RequestError
from common.messages.social import FriendList, FriendRow, LiveList, LiveRow, Settings
from common.messages.social import Presence, PresenceState, PrefsChanged
from master.policy.status import audience
from master.storage.store import stored

if TYPE_CHECKING:
    from master.node import Master


class Social:
    def __init__(self, master: "Master"):
        self.master = master

    async def friends(self, user: str) -> FriendList:
        """The user's friends, with presence for those who added the user back."""
        rows = await self.master.relations.friend_rows(user)
        presence = await self.master.presence.presence([name for name, mutual in rows if mutual])
        return FriendList(tuple(FriendRow(name, presence.get(name, PresenceState.PENDING)) for name, _ in rows))

    async def change_friend(self, user: str, friend: str, add: bool) -> str:
        relations = self.master.relations
        changed = await relations.change_friend(user, friend, add)
        if not add:
            return f"{friend} is no longer your friend" if changed else f"{friend} was not your friend"
        said = f"{friend} is your friend" + ("" if changed else " already")
        if friend not in await relations.mutual(user):
            return f"{said}; you see their presence once they add you too"
        if changed:  # mutual from now on: each side's running sessions learn the other's presence
            presence = await self.master.presence.presence([user, friend])
            await self.master.events.push([user], Presence(friend, presence[friend]))
            await self.master.events.push([friend], Presence(user, presence[user]))
        return said

    async def live(self, user: str, members: set[str] | None = None) -> LiveList:
        """The broadcasts ``user`` may watch (only those of ``members``, if given), friends
        first, with their viewer counts."""
        master = self.master
        live = [b for b in await stored(master.store.broadcasts()) if b.confirmed and b.user != user]
        if members is not None:
            live = [b for b in live if b.user in members]
        access = await master.admission.watchable(user, live)
        friends = set(await master.relations.friends(user))
        counts = audience(await stored(master.store.all_viewer_sessions()))
        rows = [
            LiveRow(b.user, counts.get(b.user, 0), b.user in friends, access[b.user]) for b in live if b.user in access
        ]
        return LiveList(tuple(sorted(rows, key=lambda row: (not row.friend, row.user))))

    async def settings(self, user: str) -> Settings:
        return Settings.from_fields(await self.master.preferences.of(user))

    async def set_pref(self, user: str, key: str, text: str) -> Settings:
        """Store a setting and tell the user's running sessions (a broadcast applies it)."""
        try:
            value = prefs.parse_value(key, text)
        except ValueError as exc:
            raise RequestError(ErrorCode.BAD_PREF, str(exc)) from None
        await self.master.preferences.set(user, key, value)
        settings = await self.settings(user)
        await self.master.events.push([user], PrefsChanged(settings))
        return settings
