"""The cluster's status (O4) and its metrics targets (O3), gathered from the store: the
projection itself is the pure ``policy.status``."""

from __future__ import annotations

from typing import Callable

from common.messages.accounts import Status
from common.messages.cluster import SlaveState
from master.policy.placement import effective_state
from master.policy.status import for_user, project
from master.services.admission import Admission
from master.storage.store import Store, stored


class ClusterStatus:
    def __init__(self, store: Store, admission: Admission, clock: Callable[[], float], dead_after: float):
        self.store = store
        self.admission = admission
        self.clock = clock
        self.dead_after = dead_after

    async def status(self, user: str | None = None) -> Status:
        """Operators' status (``user`` None), or what ``user`` may see of it."""
        store = self.store
        masters = await stored(store.masters())
        slaves = await stored(store.slaves())
        broadcasts = await stored(store.broadcasts())
        viewers = await stored(store.all_viewer_sessions())
        everything = project(masters, slaves, broadcasts, viewers, self.clock(), self.dead_after)
        if user is None:
            return everything
        live = [b for b in broadcasts if b.confirmed]
        return for_user(everything, await self.admission.watchable(user, live))

    async def metrics_targets(self) -> list[dict]:
        """Prometheus HTTP service discovery: every live node's metrics address."""
        now = self.clock()
        slaves = [
            s.metrics
            for s in await stored(self.store.slaves())
            if s.metrics and effective_state(s, now, self.dead_after) != SlaveState.DEAD
        ]
        masters = [m.metrics for m in await stored(self.store.masters()) if m.metrics]
        return [{"targets": slaves, "labels": {"role": "slave"}}, {"targets": masters, "labels": {"role": "master"}}]
