"""``framecast up`` as a new user runs it (O2): the commands of SPEC, with no certificate
options, then work against it over verified TLS, for two framecast users of one OS user
(each with a FRAMECAST_HOME of their own, as the README does), and its web address is plain
HTTP on this machine, where the page logs in and plays a broadcast. The OS user's home, the
Redis prefix and the database are the test's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid

import psutil
import requests

from cli.local_cluster import FRAMECAST, free_port
from tests.browser import attribute_number, chromium, open_page
from tests.conftest import PG_ADMIN, REDIS_URL, Cli, broadcasting, clear_redis, drop_database, wait_until


def watch(viewer: Cli) -> None:
    """Watch three of alice's frames, asking again while a restarted node starts up."""

    def three_frames():
        seen = viewer.run("view", "alice", "--frames", "3", "--json", timeout=60)
        return seen.returncode == 0 and json.loads(seen.stdout.splitlines()[-1])["frames"] >= 3

    wait_until(three_frames, 60, interval=0.5)


def watch_in_the_page(address: str, user: str, broadcaster: str) -> None:
    """Log in at the address ``up`` printed and play ``broadcaster``'s tile (issue 21)."""
    with chromium() as browser:
        page = open_page(browser, address, user)
        page.click(f"#live li[data-user={broadcaster}] button[data-action=watch]", timeout=20000)
        wait_until(lambda: attribute_number(page, f".tile[data-user={broadcaster}] canvas", "data-frames") >= 3, 30)


def kill_node(up_pid: int, role: str) -> None:
    """kill -9 the ``framecast ROLE`` process that ``framecast up`` started."""
    node = next(p for p in psutil.Process(up_pid).children() if role in p.cmdline()[3:4])
    node.kill()


def test_up_then_the_spec_commands_with_no_tls_options(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "os-user"))  # where up keeps the local CA
    tag = uuid.uuid4().hex[:8]
    port, web_port = free_port(), free_port()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "FRAMECAST_HOME": str(home),
        "FRAMECAST_REDIS": REDIS_URL,
        "FRAMECAST_REDIS_PREFIX": f"fcup-{tag}:",
        "FRAMECAST_DATABASE": PG_ADMIN.rsplit("/", 1)[0] + f"/fcup_{tag}",
    }
    env.pop("FRAMECAST_INSECURE", None)
    up = subprocess.Popen(
        [*FRAMECAST, "up", "--masters", "1", "--slaves", "1", "--port", str(port), "--web-port", str(web_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(up.stdout), daemon=True).start()
    try:
        wait_until(lambda: any("Ctrl-C stops the cluster" in line for line in printed) or up.poll() is not None, 90)
        assert up.poll() is None, "".join(printed)
        assert any(f"http://127.0.0.1:{web_port}/" in line for line in printed)  # SPEC: printed by up
        ca_folder = tmp_path / "os-user" / ".framecast" / "tls"
        assert (ca_folder / "ca.pem").exists() and (ca_folder / "ca.key").stat().st_mode & 0o077 == 0

        secret = (home / "cluster-secret").read_text()  # for the test's operator status
        alice = Cli(f"127.0.0.1:{port}", home, secret, insecure=False)  # no --ca, no --insecure
        bob = Cli(f"127.0.0.1:{port}", tmp_path / "home-bob", insecure=False)  # FRAMECAST_HOME=~/.framecast-bob
        for cli, name in ((alice, "alice"), (bob, "bob")):
            cli.ok("register", name, "--password", f"password-{name}")
            cli.ok("login", name, "--password", f"password-{name}")
        caster = broadcasting(alice, "alice", "--source", "test", "--duration", "180")
        try:
            watch(bob)
            page = requests.get(f"http://127.0.0.1:{web_port}/", timeout=10)
            assert page.status_code == 200 and "<html" in page.text.lower()
            watch_in_the_page(f"http://127.0.0.1:{web_port}/", "bob", "alice")
            for node in ("master", "slave"):  # up restarts a node that dies, and the cluster carries on
                kill_node(up.pid, node)
                wait_until(lambda: any(f"{node}-1 restarted" in line for line in printed), 30)
                watch(bob)
            assert any("master-1 exited with status -9; restarting it in 0.1 s" in line for line in printed)
        finally:
            caster.stop()
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0, "".join(printed)
        clear_redis(f"fcup-{tag}:")
        drop_database(f"fcup_{tag}")
