"""The chaos run's users and sessions, spread over the client hosts: broadcasters (one refusing
everyone but its allow list, one asking about each viewer, one throwing a viewer out now and
then, some in turbo mode with a lone viewer), viewers of the three kinds, chat senders and
the sessions they write to, refused users trying to watch, and the fuzzer on every port.
``specs`` gives each client host's agent its list of tasks."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from cli.local_cluster import FRAMECAST
from client.errors import ServerError
from common.errors import ErrorCode
from common.messages.social import Prefs, SetPref
from tests.host_cluster import LB_WEB, PORTS, HostCluster

KINDS = ("native", "mjpeg", "ws")
PASSWORD = "chaos-password"


def users(cluster: HostCluster, names: list[str]) -> dict[str, str]:
    """Register and log in ``names``: their login tokens. They all come from one address, so
    past the per-address bursts (60 each) they wait out the limits as a person would."""
    masters, tokens = cluster.masters(), {}
    for name in names:
        _within_limits(lambda: masters.register(name, PASSWORD))
        tokens[name] = _within_limits(lambda: masters.login(name, PASSWORD)).token
    return tokens


def _within_limits(call, tries: int = 120):
    for _ in range(tries - 1):
        try:
            return call()
        except ServerError as exc:
            if exc.code != ErrorCode.RATE_LIMITED:
                raise
            time.sleep(1.0)
    return call()


def cli_login(cluster: HostCluster, name: str, home: Path) -> None:
    """A home where ``framecast`` is logged in as ``name`` (for the refused users' commands)."""
    env = {"FRAMECAST_HOME": str(home), "FRAMECAST_SERVER": cluster.server, "FRAMECAST_CA": str(cluster.ca)}
    subprocess.run(
        [*FRAMECAST, "login", name, "--password", PASSWORD], env={**os.environ, **env}, check=True, capture_output=True
    )


def specs(
    cluster: HostCluster, workdir: Path, broadcasters: int, viewers: int, chatters: int, turbo: int
) -> list[dict]:
    """One task list per client host (``cluster.clients``)."""
    stars = [f"star{i}" for i in range(broadcasters)]
    fans = [f"fan{i}" for i in range(viewers)]
    talkers, ears, nosy = [f"talk{i}" for i in range(chatters)], [f"ear{i}" for i in range(chatters)], ["nosy0"]
    tokens = users(cluster, stars + fans + talkers + ears + nosy)
    masters = cluster.masters()
    masters.request(SetPref(tokens["star0"], "access", "list"), Prefs)  # nobody may watch star0
    masters.request(SetPref(tokens["star1"], "access", "ask"), Prefs)  # each viewer is asked about
    cli_login(cluster, "nosy0", workdir / "home-nosy0")
    hosts = len(cluster.clients)
    tasks: list[list[dict]] = [[] for _ in range(hosts)]
    watched = stars[1:] or stars
    turbo_stars = watched[-turbo:] if turbo else []
    shared = [s for s in watched if s not in turbo_stars] or watched
    for i, star in enumerate(stars):
        task = {"kind": "broadcast", "who": star, "token": tokens[star], "turbo": star in turbo_stars}
        if star == shared[-1] and len(fans) > 1:
            task.update(victim=fans[0], throw_every=40)  # fans[0] watches it (below)
        tasks[0].append(task)
    for i, fan in enumerate(fans):
        # fans[0] is the thrown one; then one lone viewer per turbo broadcaster; the rest shared
        if 1 <= i <= len(turbo_stars):
            target, how = turbo_stars[i - 1], "native"
        else:
            target, how = shared[i % len(shared)] if i else shared[-1], KINDS[i % len(KINDS)]
        task = {"kind": "view", "how": how, "who": fan, "token": tokens[fan], "target": target}
        tasks[1 + i % (hosts - 1)].append(task)
    for talker, ear in zip(talkers, ears):
        tasks[0].append({"kind": "chat_send", "who": talker, "token": tokens[talker], "to": ear, "rate": 1})
        tasks[-1].append({"kind": "chat_read", "who": ear, "token": tokens[ear]})
    tasks[-1].append({"kind": "intruder", "who": "nosy0", "home": str(workdir / "home-nosy0"), "target": "star0"})
    tasks[-1].append({"kind": "fuzz", "who": "fuzzer", "targets": fuzz_targets(cluster)})
    return [
        {"server": cluster.server, "web": cluster.web, "ca": str(cluster.ca), "stop_file": str(workdir / "stop"),
         "tasks": host_tasks}
        for host_tasks in tasks
    ]


def fuzz_targets(cluster: HostCluster) -> list[str]:
    lb = cluster.net["lb"].address
    targets = [f"{lb}:{cluster_port}" for cluster_port in (5100, LB_WEB)]
    for node in cluster.role("master"):
        targets += [f"{node.host.address}:{PORTS['master'][p]}" for p in ("client", "slave", "web")]
    for node in cluster.role("slave"):
        targets += [f"{node.host.address}:{PORTS['slave'][p]}" for p in ("client", "web")]
    return targets
