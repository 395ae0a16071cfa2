"""Commands that run servers: ``up`` (a whole local cluster), ``master`` and ``slave``, and
``slave-keys``, which prints what a slave is configured with instead of the cluster secret."""

from __future__ import annotations

import os
import time

from client.errors import FramecastError


def add_commands(commands) -> None:
    from common.config import add_secret_option
    from master.server import add_arguments as master_arguments
    from slave.server import add_arguments as slave_arguments

    up = commands.add_parser("up", help="run a whole cluster on this machine until Ctrl-C")
    up.add_argument("--masters", type=int, default=2)
    up.add_argument("--slaves", type=int, default=2)
    up.add_argument("--port", type=int, default=5100, help="client port (HAProxy)")
    up.add_argument("--web-port", type=int, default=8100, help="the web page and MJPEG players (HAProxy)")
    up.add_argument(
        "--insecure", action="store_true", help="plain TCP on every port instead of TLS with this user's local CA"
    )
    up.add_argument(
        "--relay-after", type=int, default=0, help="viewers of one broadcast per slave before relays take new ones"
    )
    up.set_defaults(run=cmd_up)
    master = commands.add_parser("master", help="run one master node")
    master_arguments(master)
    master.set_defaults(run=cmd_master)
    slave = commands.add_parser("slave", help="run one slave node")
    slave_arguments(slave)
    slave.set_defaults(run=cmd_slave)
    keys = commands.add_parser(
        "slave-keys", help="print a slave's FRAMECAST_MASTER_KEY and FRAMECAST_SLAVE_KEY, from the cluster secret"
    )
    add_secret_option(keys)
    keys.set_defaults(run=cmd_slave_keys)


def cmd_master(args) -> int:
    from common import reactor

    reactor.install()
    from master.server import run

    run(args)
    return 0


def cmd_slave(args) -> int:
    from common import reactor

    reactor.install()
    from slave.server import run

    run(args)
    return 0


def cmd_slave_keys(args) -> int:
    """``VARIABLE=value`` lines, for an environment file such as compose's ``.env``."""
    from common.config import load_secret
    from common.keys import slave_settings

    for name, value in slave_settings(load_secret(args)).items():
        print(f"{name}={value}")
    return 0


def cmd_up(args) -> int:
    from cli.credentials import local_ca_folder, save_cluster_secret
    from cli.local_cluster import LocalCluster
    from cli.supervisor import Supervisor

    if args.relay_after < 0:
        raise FramecastError("--relay-after must be 0 (no relays) or more")
    relay = ["--relay-after", str(args.relay_after)] if args.relay_after else []
    cluster = LocalCluster(
        # The machine's Redis and PostgreSQL (or private ones), unless the environment names others.
        redis_url=os.environ.get("FRAMECAST_REDIS"),
        database=os.environ.get("FRAMECAST_DATABASE"),
        redis_prefix=os.environ.get("FRAMECAST_REDIS_PREFIX", "fc:"),
        masters=args.masters,
        slaves=args.slaves,
        port=args.port,
        web_port=args.web_port,
        tls=not args.insecure,
        ca_folder=local_ca_folder(),
        master_args=relay,
    ).start()
    try:
        print(f"framecast cluster up: {args.masters} masters, {args.slaves} slaves", flush=True)
        secret_file = save_cluster_secret(cluster.secret)
        print(f"operator commands (drain, rebalance) use the secret saved in {secret_file}", flush=True)
        masters = ",".join(f"127.0.0.1:{n.ports['slave']}" for n in cluster.nodes if n.role == "master")
        print(
            "add a slave: framecast slave --port 0 --metrics-port 0 --web-port 0 --masters"
            f" {masters} {' '.join(cluster.slave_key_args())} {' '.join(cluster.tls_args('slave'))}",
            flush=True,
        )
        if cluster.haproxy is None:
            print("HAProxy is not installed: clients talk to the masters directly", flush=True)
        print(f"clients connect to {cluster.server}   (export FRAMECAST_SERVER={cluster.server})", flush=True)
        print(f"web page and MJPEG players: {cluster.web}", flush=True)
        if cluster.ca:
            print(f"TLS on every port: clients here trust this user's local CA, {cluster.ca}", flush=True)
            print(f"  (browsers that trust it too can use {cluster.secure_web})", flush=True)
        else:
            print("--insecure: plain TCP on every port; clients need --insecure too", flush=True)
        print(f"logs in {cluster.workdir}; Ctrl-C stops the cluster", flush=True)
        supervisor = Supervisor(cluster.nodes, cluster.spawn)
        while True:
            for line in supervisor.check():
                print(line, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping", flush=True)
        return 0
    finally:
        cluster.stop()
