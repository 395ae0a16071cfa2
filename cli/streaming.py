"""``broadcast`` and ``view``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli import credentials
from cli.args import port, positive_float, say, size
from cli.console import Console


def add_commands(commands) -> None:
    broadcast = commands.add_parser("broadcast", help="broadcast from a camera, a file or a test pattern")
    broadcast.add_argument(
        "--source", default="test", help="test, camera[:N], a video file, or a camera URL (rtsp://, http://, ...)"
    )
    broadcast.add_argument("--source-user", help="user name for the camera URL (else the URL's own)")
    broadcast.add_argument(
        "--source-password",
        default=os.environ.get("FRAMECAST_SOURCE_PASSWORD"),
        help="password for the camera URL (env FRAMECAST_SOURCE_PASSWORD; else the URL's own)",
    )
    broadcast.add_argument(
        "--source-kind",
        choices=["auto", "stream", "snapshot", "ffmpeg"],
        default="auto",
        help="what an http(s) camera URL is (default: asked of the camera; other schemes: ffmpeg)",
    )
    broadcast.add_argument(
        "--source-timeout", type=positive_float, default=5.0, help="seconds without data before a camera is reopened"
    )
    broadcast.add_argument("--fps", type=positive_float, help="frames a second (default: from the rate setting)")
    broadcast.add_argument("--size", type=size, help="WxH, e.g. 640x480 (default: the size setting)")
    broadcast.add_argument("--codec", choices=["jpeg", "jpeg2000"], default="jpeg")
    broadcast.add_argument("--quality", type=int, choices=range(11), metavar="0-10", help="default: the setting")
    broadcast.add_argument("--frames", type=int, help="stop after N frames")
    broadcast.add_argument("--duration", type=positive_float, help="stop after S seconds")
    broadcast.add_argument("--max-kbps", type=positive_float, help="cap the upload at this rate")
    broadcast.add_argument(
        "--turbo",
        choices=["always", "ask", "never"],
        help="images straight to a lone viewer, peer to peer (default: the turbo setting)",
    )
    broadcast.add_argument("--turbo-port", type=port, default=0, help="TCP port for peer viewers (default: any)")
    broadcast.add_argument(
        "--turbo-host",
        action="append",
        default=[],
        metavar="IP",
        help="another address viewers may reach this machine at (repeatable)",
    )
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


def cmd_broadcast(args) -> int:
    from client import codecs
    from client.broadcaster import Broadcaster
    from client.masters import Masters
    from client.sources import open_source
    from common.messages.social import Prefs, PrefsRequest
    from client.turbo_broadcast import BroadcastTurbo
    from client.source_urls import is_url
    from common.prefs import FPS_OF_RATE, Pref, Rate, Turbo, parse_size

    login = credentials.load()
    masters = Masters(args.server)
    settings = masters.request(PrefsRequest(login.token), Prefs).settings  # FIG. 12: stored settings first
    flags = {Pref.QUALITY: args.quality, Pref.SIZE: args.size, Pref.RATE: args.fps}
    camera_url = is_url(args.source)
    if camera_url:  # a camera's own size is kept unless --size asks for another
        flags[Pref.SIZE] = args.size or "camera"
    frame_size = args.size or (None if camera_url else parse_size(settings.size))
    fps = args.fps or FPS_OF_RATE[Rate(settings.rate)]
    camera = dict(
        user=args.source_user,
        password=args.source_password,
        kind=args.source_kind,
        interval=1 / fps,
        stall=args.source_timeout,
    )
    broadcaster = Broadcaster(
        masters,
        login.token,
        open_source(args.source, frame_size, **(camera if camera_url else {})),
        codec=codecs.CODECS[args.codec],
        quality=settings.quality if args.quality is None else args.quality,
        fps=fps,
        max_kbps=args.max_kbps,
        on_event=say,
        size=frame_size,
        keep=frozenset(key for key, flag in flags.items() if flag is not None),
        pass_through=camera_url and args.quality is None,
    )
    turbo = Turbo(args.turbo or settings.turbo)
    if turbo != Turbo.NEVER:
        broadcaster.turbo = BroadcastTurbo(login.user, turbo, say, args.turbo_port, tuple(args.turbo_host))
    console = Console(masters, login.token, login.user, broadcaster.set_paused, broadcaster.turbo)
    broadcaster.each_frame = lambda _: console.read()
    broadcaster.on_push = console.pushed
    stats = broadcaster.run(frames=args.frames, duration=args.duration)
    say(
        f"done: {stats.sent} frames sent ({stats.passed_through} passed through), "
        f"{stats.skipped + stats.throttled} skipped, {stats.reconnects} reconnects, {stats.source_outages} source outages"
    )
    return 0


def cmd_view(args) -> int:
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

    def keep_going() -> bool:
        console.read()
        if window is None:
            return True
        if window.paused != viewer.stats.paused:
            viewer.set_paused(window.paused)
        stats = viewer.stats
        window.show(status_line(stats.last_frame_time, stats.fps, stats.kbps, stats.paused))
        return window.open

    masters = Masters(args.server)
    viewer = Viewer(
        masters,
        login.token,
        args.user,
        speed_kbps=args.speed,
        link=args.link,
        on_frame=on_frame,
        on_second=on_second,
        on_event=say,
    )
    console = Console(masters, login.token, login.user, viewer.set_paused)
    viewer.on_push = console.pushed
    try:
        stats = viewer.run(frames=args.frames, duration=args.duration, keep_going=keep_going)
    finally:
        if window is not None:
            window.close()
    if args.json:
        print(json.dumps({**stats.as_json(), "final": True}), flush=True)
    return 0
