"""The ``framecast`` command line: one entry point for users, operators and servers.

Each group of commands lives in a module of its own that adds its subcommands here.
Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from cli import accounts, admission, chat, operators, servers, social, streaming
from cli.credentials import local_ca_folder
from client.connection import use_tls
from common.tls import client_context
from client.errors import FramecastError

DEFAULT_SERVER = "127.0.0.1:5100"
GROUPS = (servers, accounts, streaming, social, admission, chat, operators)


def main(argv: list[str] | None = None) -> int:
    # OpenCV's own log lines (a missing camera, say) would follow our one-line errors.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    args = build_parser().parse_args(argv)
    if args.command not in ("master", "slave"):  # servers let Twisted handle signals
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command not in ("master", "slave", "up"):
            use_tls(None if args.plain_tcp else client_context(args.ca or None, local_ca=local_ca_folder() / "ca.pem"))
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
    parser.add_argument(
        "--ca",
        default=os.environ.get("FRAMECAST_CA", ""),
        help="verify the servers against this CA certificate (env FRAMECAST_CA; default: the system's"
        " trusted roots and the local CA of `framecast up`)",
    )
    parser.add_argument(
        "--insecure",
        dest="plain_tcp",
        action="store_true",
        default=os.environ.get("FRAMECAST_INSECURE", "").lower() in ("1", "true", "yes"),
        help="plain TCP without TLS, for a cluster run with --insecure (env FRAMECAST_INSECURE)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
