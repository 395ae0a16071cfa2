"""Hosts on one machine: each a Linux network namespace with its own address on one bridge,
for a cluster whose nodes really are on different hosts (``tests/host_cluster.py``), and
the faults a network can have between them (iptables inside a namespace: drops, random
loss; a tmpfs for a full disk). Everything made here is undone by ``Network.close``, also
when the run fails: the namespaces (and the rules inside them), the bridge, the mounts.

The machine itself is on the bridge too (``Network.gateway``), so the driver of a test can
reach every host; hosts reach each other directly, without NAT.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class HostsUnavailable(Exception):
    """This machine cannot make network namespaces (not root, no ip netns)."""


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here (None: they can): tries to make one."""
    if os.geteuid() != 0:
        return "needs root for ip netns and iptables"
    name = f"fcprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add is not permitted here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    if subprocess.run(["iptables", "-L", "-n"], capture_output=True).returncode != 0:
        return "iptables does not work here"
    return None


def _ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise HostsUnavailable(f"ip {' '.join(argv)}: {done.stderr.strip()}")


@dataclass
class Host:
    name: str  # what the run calls it: db, lb, master-1, ...
    namespace: str
    address: str
    rules: list[list[str]] = field(default_factory=list)  # iptables rules added (and not yet removed)

    def argv(self, *argv: str) -> list[str]:
        """``argv`` run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*argv), check=check, capture_output=True, text=True)

    def popen(self, argv: list[str], log: Path | None = None, **options) -> subprocess.Popen:
        """A process on this host (``ip netns exec`` execs it: its pid is the process's own)."""
        output = open(log, "ab") if log is not None else subprocess.DEVNULL
        try:
            return subprocess.Popen(
                self.argv(*argv), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **options
            )
        finally:
            if log is not None:
                output.close()

    # --- network faults: iptables inside this host ----------------------------------------
    def add_rule(self, *rule: str) -> list[str]:
        """``iptables -A`` a rule inside this host (kept until ``remove_rule`` or the end)."""
        self.run("iptables", "-w", "-A", *rule)
        self.rules.append(list(rule))
        return list(rule)

    def remove_rule(self, rule: list[str]) -> None:
        self.run("iptables", "-w", "-D", *rule, check=False)
        self.rules.remove(rule)

    def cut_from(self, *others: "Host") -> list[list[str]]:
        """Drop every packet between this host and ``others`` (both ways), silently."""
        rules = []
        for other in others:
            rules.append(self.add_rule("INPUT", "-s", other.address, "-j", "DROP"))
            rules.append(self.add_rule("OUTPUT", "-d", other.address, "-j", "DROP"))
        return rules

    def lose(self, probability: float) -> list[list[str]]:
        """Drop each packet in and out of this host with ``probability`` (this kernel has no
        netem: iptables' statistic match instead)."""
        random = ["-m", "statistic", "--mode", "random", "--probability", f"{probability:g}", "-j", "DROP"]
        return [self.add_rule("INPUT", "!", "-i", "lo", *random), self.add_rule("OUTPUT", "!", "-o", "lo", *random)]

    def heal(self, rules: list[list[str]]) -> None:
        for rule in rules:
            if rule in self.rules:
                self.remove_rule(rule)


class Network:
    """``add`` hosts to one bridge; ``close`` takes everything down."""

    def __init__(self, tag: str | None = None):
        self.tag = tag or f"fc{os.getpid() % 100000}"
        self.subnet = ipaddress.ip_network(f"10.{90 + os.getpid() % 60}.{os.getpid() % 200}.0/24")
        self.gateway = str(self.subnet.network_address + 1)
        self.hosts: dict[str, Host] = {}
        self.mounts: list[Path] = []
        self.bridge = f"{self.tag}br"
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except HostsUnavailable:
            self.close()
            raise

    def add(self, name: str) -> Host:
        index = len(self.hosts) + 2
        namespace, outside = f"{self.tag}h{index}", f"{self.tag}v{index}"
        host = Host(name, namespace, str(self.subnet.network_address + index))
        self.hosts[name] = host
        inside = outside + "i"
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{host.address}/{self.subnet.prefixlen}", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        return host

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def small_disk(self, folder: Path, size: str = "4m") -> Path:
        """A tmpfs of ``size`` mounted at ``folder`` (a log disk that can fill up)."""
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
        self.mounts.append(folder)
        return folder

    def close(self) -> None:
        for folder in reversed(self.mounts):
            shutil.copytree(folder, folder.with_name(folder.name + "-kept"), dirs_exist_ok=True)  # its logs
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        self.mounts.clear()
        for host in self.hosts.values():
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
