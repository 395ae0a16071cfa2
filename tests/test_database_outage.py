"""PostgreSQL stopped under a running cluster, then started again (issue 22): what needs the
user database is refused with one clear line, the broadcast and its viewer carry on, and
everything works again by itself once PostgreSQL is back."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from cli.local_cluster import LocalCluster
from cli.services import free_port, start_postgres, start_private_postgres, stop_postgres
from tests.conftest import REDIS_URL, Running, broadcasting, clear_redis, register_users, wait_until

UNAVAILABLE = "framecast: error: the user database is unavailable; try again shortly"


def frames(viewer: Running) -> int:
    seen = viewer.json()
    return seen[-1]["frames"] if seen else 0


def test_postgres_stopped_then_started_again(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="fctest-pg-"))  # the postgres user cannot enter pytest's folders
    port, data = free_port(), folder / "pgdata"
    start_private_postgres(data, port)
    tag = uuid.uuid4().hex[:10]
    cluster = LocalCluster(
        masters=1,
        slaves=1,
        port=free_port(),
        web_port=free_port(),
        redis_url=REDIS_URL,
        redis_prefix=f"fctest-{tag}:",
        database=f"postgresql://postgres@127.0.0.1:{port}/fctest_{tag}",
        workdir=tmp_path / "cluster",
        tls=False,
    )
    try:
        cluster.start()
        alice, bob, carol = register_users(cluster, tmp_path, "alice", "bob", "carol")
        caster = broadcasting(alice, "alice", "--source", "test", "--duration", "120")
        viewer = Running(bob, "view", "alice", "--json", "--duration", "90")
        try:
            wait_until(lambda: frames(viewer) >= 10, 30)
            stop_postgres(data)
            for refused in (
                carol.run("login", "carol", "--password", "password-carol"),
                carol.run("view", "alice", "--frames", "1"),
                carol.run("msg", "alice", "hello"),
            ):
                assert (refused.returncode, refused.stderr.strip()) == (1, UNAVAILABLE)
            before = frames(viewer)
            wait_until(lambda: frames(viewer) >= before + 20, 30)  # the stream carries on
            start_postgres(data, port)
            assert carol.run("login", "carol", "--password", "password-carol").returncode == 0
            assert carol.run("view", "alice", "--frames", "1").returncode == 0
            assert carol.run("msg", "alice", "back").returncode == 0
            assert viewer.process.poll() is None and caster.process.poll() is None
        finally:
            viewer.stop()
            caster.stop()
    finally:
        cluster.stop()
        stop_postgres(data)
        shutil.rmtree(folder, ignore_errors=True)
        clear_redis(f"fctest-{tag}:")
