"""Parsing the ``host:port`` addresses used on the command line and in the tables."""

from __future__ import annotations


def parse_hostport(text: str, default_port: int | None = None) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) as a (host, port) pair; ValueError if malformed."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        if default_port is None:
            raise ValueError(f"address {text!r} needs a port (host:port)")
        host, port = text, str(default_port)
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"address {text!r} has no valid port")
    return host, int(port)


def parse_hostport_list(text: str) -> list[tuple[str, int]]:
    """A comma-separated list of addresses, in order."""
    addresses = [parse_hostport(part) for part in text.split(",") if part.strip()]
    if not addresses:
        raise ValueError("no address given")
    return addresses


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
