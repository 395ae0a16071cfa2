"""Operating the cluster (C4, C6-C8, O4): drain, SIGTERM, Redis loss, scale-out, rebalance,
and stopping a drained slave's container."""

import http.server
import json
import signal
import subprocess
import threading
import time


from cli.local_cluster import free_port, wait_for_port
from tests.conftest import (
    Cli,
    broadcast_slaves,
    cluster_status as status,
    json_lines,
    register_users,
    slave_row,
    wait_until,
)


def frames_flow_on(lines):
    """Each of the last seconds brought newer frames."""
    seqs = [line["last_seq"] for line in lines[-4:-1]]
    return all(later > earlier for earlier, later in zip(seqs, seqs[1:]))


def start_audience(cli_of, stars, per_star, seconds):
    """``per_star`` viewers of every star, each its own CLI process printing JSON."""
    processes = []
    for star in stars:
        for i in range(per_star):
            processes.append(cli_of(f"fan-{star}-{i}").start("view", star, "--json", "--duration", str(seconds)))
    return processes


def drain_scenario(own_cluster, tmp_path):
    """Two broadcasts with three viewers each on slave-1, two fresh slaves, then a drain of
    slave-1; returns the cluster, the viewers' outputs and the final status."""
    cluster = own_cluster(masters=2, slaves=1)
    stars = ["stara", "starb"]
    clis = dict(zip(stars, register_users(cluster, tmp_path, *stars)))
    fans = {}

    def fan(name):
        if name not in fans:
            fans[name] = register_users(cluster, tmp_path, name)[0]
        return fans[name]

    casts = [clis[s].start("broadcast", "--fps", "15", "--duration", "60") for s in stars]
    try:
        wait_until(lambda: len(broadcast_slaves(clis["stara"])) == 2, 15)
        assert set(broadcast_slaves(clis["stara"]).values()) == {"slave-1"}
        cluster.add_slave()
        cluster.add_slave()
        cluster.wait_live_slaves(3)
        for name in [f"fan-{s}-{i}" for s in stars for i in range(3)]:
            fan(name)
        viewers = start_audience(fan, stars, 3, 14)
        wait_until(lambda: slave_row(clis["stara"], "slave-1")["viewers"] == 6, 20)
        drained = clis["stara"].operator("drain", "slave-1", "--wait")
        assert drained.returncode == 0, drained.stderr
        assert "slave slave-1 is drained" in drained.stdout
        outputs = [v.communicate(timeout=60) for v in viewers]
        final = status(clis["stara"])
    finally:
        for cast in casts:
            cast.terminate()
            cast.wait(10)
    return cluster, outputs, final


def test_drain_moves_every_session_and_loses_none(own_cluster, tmp_path):
    cluster, outputs, final = drain_scenario(own_cluster, tmp_path)
    stars = ["stara", "starb"]
    row = next(s for s in final["slaves"] if s["id"] == "slave-1")
    assert row["state"] == "drained" and row["broadcasts"] == 0 and row["viewers"] == 0
    placed = {b["user"]: b["slave"] for b in final["broadcasts"]}
    assert set(placed) == set(stars) and "slave-1" not in placed.values(), "no broadcast lost"
    for stdout, stderr in outputs:
        lines = json_lines(stdout)
        assert lines[-1]["moves"] == 1 and lines[-1]["reconnects"] == 0, stderr
        assert lines[-1]["slave"] != cluster.node("slave-1").client_addr
        assert frames_flow_on(lines), "frames flow on from the new slave"


def sigterm_scenario(own_cluster, tmp_path):
    """A broadcast with one viewer; SIGTERM to its slave (what ``docker stop`` sends).
    Returns the slave's exit status, where the broadcast was and went, and the viewer's output."""
    cluster = own_cluster(masters=1, slaves=2)
    star, fan = register_users(cluster, tmp_path, "star", "fan")
    cast = star.start("broadcast", "--fps", "15", "--duration", "60")
    try:
        holder = wait_until(lambda: broadcast_slaves(star).get("star"), 15)
        viewer = fan.start("view", "star", "--json", "--duration", "8")
        wait_until(lambda: slave_row(star, holder)["viewers"] == 1, 15)
        node = cluster.node(holder)
        node.process.send_signal(signal.SIGTERM)
        exit_status = node.process.wait(30)
        out, err = viewer.communicate(timeout=30)
        moved_to = broadcast_slaves(star)["star"]
    finally:
        cast.terminate()
        cast.wait(10)
    return exit_status, holder, moved_to, json_lines(out), err


def test_sigterm_drains_the_slave_then_it_exits(own_cluster, tmp_path):
    exit_status, holder, moved_to, lines, err = sigterm_scenario(own_cluster, tmp_path)
    assert exit_status == 0 and moved_to != holder
    assert lines[-1]["moves"] == 1 and lines[-1]["reconnects"] == 0, err


def redis_restart_scenario(own_cluster, tmp_path):
    """A broadcast with one viewer while Redis dies and comes back empty. Returns the
    viewer's output lines and how long after Redis returned the tables were complete."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis_server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_for_port(port, 10, redis_server, "redis-server")
    try:
        cluster = own_cluster(masters=2, slaves=2, redis_url=f"redis://127.0.0.1:{port}/0")
        star, fan, late = register_users(cluster, tmp_path, "star", "fan", "late")
        cast = star.start("broadcast", "--fps", "15", "--duration", "60")
        try:
            holder = wait_until(lambda: broadcast_slaves(star).get("star"), 15)
            viewer = fan.start("view", "star", "--json", "--duration", "12")
            wait_until(lambda: slave_row(star, holder)["viewers"] == 1, 15)
            redis_server.kill()
            redis_server.wait(10)
            down = late.run("view", "star")
            assert down.returncode == 1
            assert down.stderr.strip() == "framecast: error: the cluster state store is unavailable; try again shortly"
            time.sleep(OUTAGE)  # the outage itself: streams must flow on without Redis
            redis_server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            wait_for_port(port, 10, redis_server, "redis-server")
            back = time.monotonic()

            def complete():
                result = star.operator("status", "--json")
                if result.returncode != 0:
                    return None  # Redis is only just back
                tables = json.loads(result.stdout)
                return (
                    [b["slave"] for b in tables["broadcasts"] if b["user"] == "star"] == [holder]
                    and [s["state"] for s in tables["slaves"]] == ["live", "live"]
                    and len(tables["masters"]) == 2
                    and time.monotonic() - back
                )

            try:
                rebuilt = wait_until(complete, 10)
            except AssertionError:
                raise AssertionError(f"tables incomplete: {star.run('status').stdout}") from None
            out, err = viewer.communicate(timeout=30)
            assert json_lines(late.ok("view", "star", "--json", "--frames", "5"))[-1]["frames"] == 5
        finally:
            cast.terminate()
            cast.wait(10)
        return json_lines(out), rebuilt
    finally:
        redis_server.kill()
        redis_server.wait(10)


OUTAGE = 2.0


def test_redis_restarting_empty_loses_nothing(own_cluster, tmp_path):
    lines, rebuilt = redis_restart_scenario(own_cluster, tmp_path)
    assert all(line["fps"] > 0 for line in lines[1:-1]), "frames arrived in every second, Redis or not"
    assert lines[-1]["reconnects"] == 0
    print(f"tables complete {rebuilt:.2f} s after Redis returned")


def test_a_new_slave_takes_new_broadcasts_and_rebalance_moves_load_to_it(own_cluster, tmp_path):
    cluster = own_cluster(masters=2, slaves=2)
    names = ["s1", "s2", "s3", "s4"]
    stars = register_users(cluster, tmp_path, *names, "s5")
    fans = register_users(cluster, tmp_path, *[f"f{i}" for i in range(4)])
    casts = [cli.start("broadcast", "--fps", "5", "--duration", "90") for cli in stars[:4]]
    viewers = []
    try:
        wait_until(lambda: len(broadcast_slaves(stars[0])) == 4, 20)
        viewers = [f.start("view", name, "--duration", "90") for f, name in zip(fans, names)]
        wait_until(lambda: sum(s["viewers"] for s in status(stars[0])["slaves"]) == 4, 20)
        cluster.add_slave()
        cluster.wait_live_slaves(3)
        casts.append(stars[4].start("broadcast", "--fps", "5", "--duration", "90"))
        assert wait_until(lambda: broadcast_slaves(stars[0]).get("s5"), 15) == "slave-3"
        result = stars[0].operator("rebalance")
        assert result.returncode == 0 and "moving" in result.stdout, result.stdout + result.stderr
        wait_until(lambda: slave_row(stars[0], "slave-3")["load"] >= 3, 20)
        # viewers count on two slaves while they move (make-before-break), so wait for the moves to settle
        wait_until(lambda: max(loads := [s["load"] for s in status(stars[0])["slaves"]]) - min(loads) <= 2, 15)
        assert len(broadcast_slaves(stars[0])) == 5, "no broadcast lost"
        wait_until(lambda: sum(s["viewers"] for s in status(stars[0])["slaves"]) == 4, 10)  # no viewer lost
    finally:
        for process in casts + viewers:
            process.terminate()
            process.wait(10)


class FakeDockerEngine(http.server.BaseHTTPRequestHandler):
    """Just enough of the Docker Engine API for ``containers.get(id).stop()``."""

    stopped: list[str] = []

    def do_GET(self):
        if self.path.endswith("/version"):
            return self._json({"ApiVersion": "1.44", "Version": "fake"})
        if "/containers/" in self.path and self.path.endswith("/json"):
            container = self.path.split("/containers/")[1].split("/")[0]
            return self._json({"Id": container, "Name": "/slave", "State": {"Running": True}, "Config": {}})
        self._json({"message": "not found"}, 404)

    def do_POST(self):
        if self.path.split("?")[0].endswith("/stop"):
            FakeDockerEngine.stopped.append(self.path.split("/containers/")[1].split("/")[0])
            self.send_response(204)
            self.end_headers()
            return
        self._json({"message": "not found"}, 404)

    def _json(self, body, code=200):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_drain_stop_stops_the_container_through_the_docker_api(own_cluster, tmp_path):
    container = "ab" * 32
    cluster = own_cluster(masters=1, slaves=2, extra_env={"FRAMECAST_CONTAINER": container})
    (cli,) = register_users(cluster, tmp_path, "ops")
    engine = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeDockerEngine)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    try:
        env = {
            **cli.env(),
            "FRAMECAST_SECRET": cluster.secret,
            "DOCKER_HOST": f"tcp://127.0.0.1:{engine.server_address[1]}",
        }
        result = subprocess.run(
            cli.argv("drain", "slave-1", "--stop"), env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        engine.shutdown()
    assert result.returncode == 0, result.stderr
    assert FakeDockerEngine.stopped == [container]
    assert f"stopped container {container[:12]} of slave slave-1" in result.stdout


def test_drain_stop_without_a_docker_engine_says_so(own_cluster, tmp_path):
    cluster = own_cluster(masters=1, slaves=2, extra_env={"FRAMECAST_CONTAINER": "cd" * 32})
    (cli,) = register_users(cluster, tmp_path, "ops")
    env = {**cli.env(), "FRAMECAST_SECRET": cluster.secret, "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}"}
    result = subprocess.run(cli.argv("drain", "slave-2", "--stop"), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("framecast: error: cannot reach a Docker engine")
    assert slave_row(cli, "slave-2")["state"] == "drained", "the drain itself completed"


def test_operator_commands_need_the_cluster_secret(cluster, tmp_path):
    cli = Cli(cluster.server, tmp_path, cluster.secret)
    env = {**cli.env(), "FRAMECAST_SECRET": "not-the-secret"}
    result = subprocess.run(cli.argv("drain", "slave-1"), env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "operator commands need the cluster secret: invalid operator proof" in result.stderr
    result = cli.operator("drain", "slave-9")
    assert result.stderr.strip() == "framecast: error: no slave 'slave-9' in the cluster"
    env.pop("FRAMECAST_SECRET")
    result = subprocess.run(
        cli.argv("rebalance"),
        env={k: v for k, v in env.items() if k != "FRAMECAST_SECRET"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "operator commands need the cluster secret" in result.stderr


def test_undrain_puts_a_slave_back(own_cluster, tmp_path):
    cluster = own_cluster(masters=1, slaves=2)
    (cli,) = register_users(cluster, tmp_path, "ops")
    assert cli.operator("drain", "slave-2", "--wait").returncode == 0
    assert slave_row(cli, "slave-2")["state"] == "drained"
    assert "back in placement" in cli.operator("undrain", "slave-2").stdout
    wait_until(lambda: slave_row(cli, "slave-2")["state"] == "live", 5)


def test_the_periodic_refresh_restores_lost_entries(own_cluster, tmp_path):
    import redis

    cluster = own_cluster(masters=1, slaves=1, slave_args=["--refresh-interval", "1"])
    star, fan = register_users(cluster, tmp_path, "star", "fan")
    cast = star.start("broadcast", "--fps", "5", "--duration", "30")
    try:
        wait_until(lambda: broadcast_slaves(star).get("star"), 15)
        redis.Redis.from_url(cluster.redis_url).delete(cluster.redis_prefix + "broadcasts")
        deleted = time.time()

        def rewritten_since_the_delete():
            entry = next((b for b in status(star)["broadcasts"] if b["user"] == "star"), None)
            return entry and entry["slave"] == "slave-1" and entry["age"] < time.time() - deleted

        wait_until(rewritten_since_the_delete, 20)  # each status is a CLI run: slow on a busy machine
    finally:
        cast.terminate()
        cast.wait(10)
