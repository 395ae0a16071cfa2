"""What operator commands do after asking a master: wait for a drain, stop a container."""

from __future__ import annotations

import time
from typing import Callable

from client.errors import FramecastError
from client.masters import Masters
from common.messages.accounts import SlaveRow
from common.messages.cluster import SlaveState

# A master answers one connection's status requests at most 2 a second (after a burst of
# 10): a drain that takes minutes is watched a little below that.
POLL_EVERY = 0.6


def wait_drained(
    masters: Masters, secret: str, slave_id: str, report: Callable[[str], None], timeout: float = 600.0
) -> SlaveRow:
    """Poll the operators' status until the slave reports itself drained; returns its row."""
    give_up = time.monotonic() + timeout
    last = None
    while time.monotonic() < give_up:
        slave = next((s for s in masters.status(secret=secret).slaves if s.id == slave_id), None)
        if slave is None:
            raise FramecastError(f"slave {slave_id} left the cluster while draining")
        if slave.state in (SlaveState.DRAINED, SlaveState.DEAD):
            return slave
        left = (slave.broadcasts, slave.viewers)
        if left != last:
            report(f"{slave_id}: {left[0]} broadcasts and {left[1]} viewers still to move")
            last = left
        time.sleep(POLL_EVERY)
    raise FramecastError(f"slave {slave_id} did not finish draining within {timeout:g} s")


def stop_container(slave: SlaveRow) -> None:
    """Stop the Docker container a drained slave runs in, through the Docker SDK."""
    import docker
    from docker.errors import DockerException, NotFound

    if not slave.container:
        raise FramecastError(f"slave {slave.id} does not run in a Docker container; stop it yourself")
    try:
        client = docker.from_env()
    except DockerException as exc:
        raise FramecastError(f"cannot reach a Docker engine: {exc}") from None
    try:
        client.containers.get(slave.container).stop()
    except NotFound:
        raise FramecastError(f"no container {slave.container[:12]} on this Docker engine") from None
    except DockerException as exc:
        raise FramecastError(f"cannot stop container {slave.container[:12]}: {exc}") from None
