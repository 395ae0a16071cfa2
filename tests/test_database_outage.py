"""PostgreSQL stopped under a running cluster, then started again (issue 22): what needs the
user database is refused with one clear line, the broadcast and its viewer carry on, and
everything works again by itself once PostgreSQL is back."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import uuid
from pathlib import Path

import psycopg2
import pytest
from twisted.logger import globalLogPublisher

from cli.local_cluster import LocalCluster
from cli.services import free_port, start_postgres, start_private_postgres, stop_postgres
from master.storage.db.pool import Database
from tests.conftest import PG_ADMIN, REDIS_URL, Running, broadcasting, clear_redis, register_users, wait_until
from tests.databases import scratch_database

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


def one_value(cursor, query: str):
    cursor.execute(query)
    return cursor.fetchone()[0]


def test_a_pooled_connection_postgres_closed_is_dropped_without_a_traceback():
    """Found by the chaos run: after a PostgreSQL restart each pooled connection's failed
    transaction logged adbapi's "Rollback failed" with a traceback in the master's log."""
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    with scratch_database(migrated=False) as dsn:
        database = Database(dsn)
        try:
            pid = database.pool._runInteraction(one_value, "SELECT pg_backend_pid()")
            admin = psycopg2.connect(PG_ADMIN)
            admin.autocommit = True
            admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
            admin.close()
            with pytest.raises(psycopg2.OperationalError):
                database.pool._runInteraction(lambda cursor: cursor.execute("SELECT 1"))
            assert database.pool._runInteraction(one_value, "SELECT 2") == 2
        finally:
            globalLogPublisher.removeObserver(logged.append)
            database.pool.close()
    assert [event for event in logged if event.get("isError") or event.get("log_failure")] == []


def test_a_postgres_that_answers_nothing_fails_the_transaction_instead_of_holding_it():
    """Found by the chaos run: with PostgreSQL's packets dropped (30 s unreachable), pool
    threads waited on TCP for minutes, so requests hung and viewers came back ~20 s late."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never answers
    outcome: list[BaseException] = []
    try:
        database = Database(f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/framecast")

        def transaction() -> None:
            try:
                database.pool._runInteraction(one_value, "SELECT 1")
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=transaction, daemon=True)
        worker.start()
        worker.join(60)  # a bound for the test only: connect_timeout ends it in seconds
        assert not worker.is_alive(), "the transaction still waits on a PostgreSQL that answers nothing"
        assert isinstance(outcome[0], psycopg2.OperationalError)
    finally:
        silent.close()
