"""Hosts made of Linux network namespaces, so a broadcaster and its viewers really have
different addresses: ``near-1`` and ``near-2`` share a bridge with the servers (10.77.0.0/24,
the servers at 10.77.0.1); ``far`` (10.78.0.2) reaches the servers' address only, through
a link of its own, and has no route to the others (a viewer behind a firewall)."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass

SERVERS = "10.77.0.1"


def available() -> bool:
    if os.geteuid() != 0:
        return False
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True)
    return probe.returncode == 0


@dataclass
class Hosts:
    near: list[str]  # namespace names; near[i] has address 10.77.0.(i + 2)
    far: str

    @staticmethod
    def address(index: int) -> str:
        return f"10.77.0.{index + 2}"

    def run(self, namespace: str, *argv: str) -> None:
        subprocess.run(["ip", "netns", "exec", namespace, *argv], check=True, capture_output=True)


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@contextmanager
def hosts(near: int = 2):
    tag = f"fc{os.getpid() % 100000}"
    bridge, names, far = f"{tag}br", [f"{tag}n{i}" for i in range(near)], f"{tag}far"
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{SERVERS}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for index, name in enumerate(names):
            _namespace(name, f"{tag}v{index}", Hosts.address(index) + "/24")
            _ip("link", "set", f"{tag}v{index}", "master", bridge, "up")
        _namespace(far, f"{tag}vf", "10.78.0.2/24")
        _ip("addr", "add", "10.78.0.1/24", "dev", f"{tag}vf")
        _ip("link", "set", f"{tag}vf", "up")
        _ip("-n", far, "route", "add", f"{SERVERS}/32", "via", "10.78.0.1")
        yield Hosts(names, far)
    finally:
        for name in (*names, far):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{tag}vf"], capture_output=True)


def _namespace(name: str, outside: str, address: str) -> None:
    """A namespace with one veth (its other end, ``outside``, stays here) holding ``address``."""
    inside = outside + "i"
    _ip("netns", "add", name)
    _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
    _ip("link", "set", inside, "netns", name)
    _ip("-n", name, "addr", "add", address, "dev", inside)
    _ip("-n", name, "link", "set", inside, "up")
    _ip("-n", name, "link", "set", "lo", "up")
