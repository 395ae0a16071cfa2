"""The ``framecast`` command line: one entry point for users, operators and servers.

Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import time
from pathlib import Path

from client.errors import FramecastError

DEFAULT_SERVER = "127.0.0.1:5100"


def main(argv: list[str] | None = None) -> int:
    # OpenCV's own log lines (a missing camera, say) would follow our one-line errors.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in ("master", "slave"):  # servers let Twisted handle signals
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.run(args) or 0
    except FramecastError as exc:
        print(f"framecast: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # config errors of the servers and anything unforeseen
        if os.environ.get("FRAMECAST_DEBUG"):
            raise
        print(f"framecast: error: {exc}", file=sys.stderr)
        return 1


def _interrupt(signum, frame) -> None:
    """SIGTERM ends a client like Ctrl-C, so a broadcast is stopped cleanly."""
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framecast", description="live webcam broadcasting")
    parser.add_argument(
        "--server",
        default=os.environ.get("FRAMECAST_SERVER", DEFAULT_SERVER),
        help="HOST:PORT of the service, or a comma-separated list of masters "
        f"(env FRAMECAST_SERVER, default {DEFAULT_SERVER})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run a whole cluster on this machine until Ctrl-C")
    up.add_argument("--masters", type=int, default=2)
    up.add_argument("--slaves", type=int, default=2)
    up.add_argument("--port", type=int, default=5100, help="client port (HAProxy)")
    up.set_defaults(run=cmd_up)

    from master.server import add_arguments as master_arguments
    from slave.server import add_arguments as slave_arguments

    master = commands.add_parser("master", help="run one master node")
    master_arguments(master)
    master.set_defaults(run=cmd_master)
    slave = commands.add_parser("slave", help="run one slave node")
    slave_arguments(slave)
    slave.set_defaults(run=cmd_slave)

    for name, run in (("register", cmd_register), ("login", cmd_login)):
        sub = commands.add_parser(name, help=f"{name} a user")
        sub.add_argument("user")
        sub.add_argument("--password", help="the password (else asked for)")
        sub.set_defaults(run=run)

    broadcast = commands.add_parser("broadcast", help="broadcast from a camera, a file or a test pattern")
    broadcast.add_argument("--source", default="test", help="test, camera[:N] or a video file")
    broadcast.add_argument("--fps", type=positive_float, default=15.0)
    broadcast.add_argument("--size", type=size, help="WxH, e.g. 640x480")
    broadcast.add_argument("--codec", choices=["jpeg", "jpeg2000"], default="jpeg")
    broadcast.add_argument("--quality", type=int, choices=range(11), default=7, metavar="0-10")
    broadcast.add_argument("--frames", type=int, help="stop after N frames")
    broadcast.add_argument("--duration", type=positive_float, help="stop after S seconds")
    broadcast.add_argument("--max-kbps", type=positive_float, help="cap the upload at this rate")
    broadcast.set_defaults(run=cmd_broadcast)

    view = commands.add_parser("view", help="watch a user's broadcast")
    view.add_argument("user")
    view.add_argument("--out", type=Path, help="save every frame received into DIR")
    view.add_argument("--frames", type=int, help="stop after N frames")
    view.add_argument("--duration", type=positive_float, help="stop after S seconds")
    view.add_argument("--json", action="store_true", help="print statistics as one JSON object per second")
    view.add_argument("--window", action="store_true", help="show the images in a window")
    view.add_argument("--zoom", choices=["100", "200", "300", "full"], default="100")
    speed = view.add_mutually_exclusive_group()
    speed.add_argument("--speed", type=positive_float, metavar="KBPS", help="your connection speed")
    speed.add_argument("--link", choices=["dialup", "dsl", "lan"], help="your connection type")
    view.set_defaults(run=cmd_view)

    status = commands.add_parser("status", help="the cluster: masters, slaves, broadcasts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=cmd_status)

    drain = commands.add_parser("drain", help="drain a slave for maintenance (operators)")
    drain.add_argument("slave", help="slave id or address")
    drain.add_argument("--wait", action="store_true", help="return once the slave is empty")
    drain.add_argument("--deadline", type=positive_float, help="seconds before the rest is told to reconnect")
    drain.add_argument("--stop", action="store_true", help="then stop its Docker container (implies --wait)")
    drain.set_defaults(run=cmd_drain)
    undrain = commands.add_parser("undrain", help="put a drained slave back into placement (operators)")
    undrain.add_argument("slave", help="slave id or address")
    undrain.set_defaults(run=cmd_undrain)
    rebalance = commands.add_parser("rebalance", help="move broadcasts off the most loaded slaves (operators)")
    rebalance.set_defaults(run=cmd_rebalance)
    return parser


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError("use WxH, e.g. 640x480")
    return int(width), int(height)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- servers --------------------------------------------------------------------------
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


def cmd_up(args) -> int:
    from client.local_cluster import LocalCluster

    from client.credentials import save_cluster_secret

    cluster = LocalCluster(masters=args.masters, slaves=args.slaves, port=args.port).start()
    try:
        print(f"framecast cluster up: {args.masters} masters, {args.slaves} slaves", flush=True)
        secret_file = save_cluster_secret(cluster.secret)
        print(f"operator commands (drain, rebalance) use the secret saved in {secret_file}", flush=True)
        masters = ",".join(f"127.0.0.1:{n.ports['slave']}" for n in cluster.nodes if n.role == "master")
        print(
            f"add a slave: framecast slave --port 0 --metrics-port 0 --masters {masters} --secret-file {secret_file}",
            flush=True,
        )
        if cluster.haproxy is None:
            print("HAProxy is not installed: clients talk to the masters directly", flush=True)
        print(f"clients connect to {cluster.server}   (export FRAMECAST_SERVER={cluster.server})", flush=True)
        print(f"logs in {cluster.workdir}; Ctrl-C stops the cluster", flush=True)
        while all(cluster.is_running(n) for n in cluster.nodes if n.role == "master"):
            time.sleep(0.5)
        raise FramecastError(f"a master exited; see the logs in {cluster.workdir}")
    except KeyboardInterrupt:
        print("stopping", flush=True)
        return 0
    finally:
        cluster.stop()


# --- users ----------------------------------------------------------------------------
def password_of(args) -> str:
    if args.password is not None:
        return args.password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"password for {args.user}: ")


def cmd_register(args) -> int:
    from client.masters import Masters

    Masters(args.server).register(args.user, password_of(args))
    print(f"registered {args.user}")
    return 0


def cmd_login(args) -> int:
    from client import credentials
    from client.masters import Masters

    login = Masters(args.server).login(args.user, password_of(args))
    credentials.save({**login, "server": args.server})
    print(f"logged in as {login['user']}")
    return 0


# --- streaming ------------------------------------------------------------------------
def cmd_broadcast(args) -> int:
    from client import codecs, credentials
    from client.broadcaster import Broadcaster
    from client.controls import PAUSE, StdinCommands
    from client.masters import Masters
    from client.sources import open_source

    login = credentials.load()
    source = open_source(args.source, args.size)
    commands = StdinCommands()

    def each_frame(broadcaster: Broadcaster) -> None:
        for command in commands.poll():
            broadcaster.set_paused(command == PAUSE)

    broadcaster = Broadcaster(
        Masters(args.server),
        login["token"],
        source,
        codec=codecs.CODECS[args.codec],
        quality=args.quality,
        fps=args.fps,
        max_kbps=args.max_kbps,
        on_event=say,
        each_frame=each_frame,
    )
    stats = broadcaster.run(frames=args.frames, duration=args.duration)
    say(f"done: {stats.sent} frames sent, {stats.skipped + stats.throttled} skipped, {stats.reconnects} reconnects")
    return 0


def cmd_view(args) -> int:
    from client import credentials
    from client.controls import PAUSE, StdinCommands
    from client.masters import Masters
    from client.viewer import Viewer, frame_saver

    login = credentials.load()
    frame_handlers = []
    if args.out:
        frame_handlers.append(frame_saver(args.out))
    window = None
    if args.window:
        from client.window import Window, status_line

        window = Window(f"framecast: {args.user}", args.zoom)
        frame_handlers.append(window.frame)

    def on_frame(info, image) -> None:
        for handler in frame_handlers:
            handler(info, image)

    def on_second(stats) -> None:
        if args.json:
            print(json.dumps(stats.as_json()), flush=True)

    commands = StdinCommands()

    def keep_going() -> bool:
        for command in commands.poll():
            viewer.set_paused(command == PAUSE)
        if window is None:
            return True
        if window.paused != viewer.stats.paused:
            viewer.set_paused(window.paused)
        stats = viewer.stats
        window.show(status_line(stats.last_frame_time, stats.fps, stats.kbps, stats.paused))
        return window.open

    viewer = Viewer(
        Masters(args.server),
        login["token"],
        args.user,
        speed_kbps=args.speed,
        link=args.link,
        on_frame=on_frame,
        on_second=on_second,
        on_event=say,
    )
    try:
        stats = viewer.run(frames=args.frames, duration=args.duration, keep_going=keep_going)
    finally:
        if window is not None:
            window.close()
    if args.json:
        print(json.dumps({**stats.as_json(), "final": True}), flush=True)
    return 0


# --- operators ------------------------------------------------------------------------
def cmd_status(args) -> int:
    from client.masters import Masters
    from client.status import render

    status = Masters(args.server).status()
    print(json.dumps(status, indent=2) if args.json else render(status))
    return 0


def cmd_drain(args) -> int:
    from client import credentials, operations
    from client.masters import Masters

    masters = Masters(args.server)
    result = masters.operator(credentials.cluster_secret(), "drain", slave=args.slave, deadline=args.deadline)
    print(f"draining slave {result['slave']} ({result['addr']})", flush=True)
    if args.wait or args.stop:
        slave = operations.wait_drained(masters, result["slave"], say)
        print(f"slave {result['slave']} is drained", flush=True)
        if args.stop:
            operations.stop_container(slave)
            print(f"stopped container {slave['container'][:12]} of slave {result['slave']}")
    return 0


def cmd_undrain(args) -> int:
    from client import credentials
    from client.masters import Masters

    result = Masters(args.server).operator(credentials.cluster_secret(), "undrain", slave=args.slave)
    print(f"slave {result['slave']} ({result['addr']}) is back in placement")
    return 0


def cmd_rebalance(args) -> int:
    from client import credentials
    from client.masters import Masters

    result = Masters(args.server).operator(credentials.cluster_secret(), "rebalance")
    for move in result["moves"]:
        print(f"moving {move['user']}: {move['from']} -> {move['to']}")
    if not result["moves"]:
        print("the cluster is balanced; nothing to move")
    return 0


if __name__ == "__main__":
    sys.exit(main())
