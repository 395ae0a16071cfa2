"""The HAProxy configuration, from one template for both the local cluster and compose.

``framecast up`` renders it with local ports; ``deploy/haproxy.cfg`` (mounted by the compose
file) is the same template rendered for the compose services, regenerated with
``python -m cli.haproxy > deploy/haproxy.cfg`` (a test checks it is up to date).
"""

from __future__ import annotations

import sys
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("haproxy.cfg.in")
COMPOSE_MASTERS = ["master1:5101", "master2:5101"]
COMPOSE_WEB = ["master1:8101", "master2:8101"]
DOCKER_RESOLVERS = "resolvers docker\n    nameserver dns 127.0.0.11:53\n"


def render(
    client_bind: str,
    masters: list[str],
    web_bind: str,
    web: list[str],
    resolvers: str = "",
    send_proxy: bool = True,
) -> str:
    """With ``send_proxy``, masters get each client's address in a PROXY header (they run
    with --proxy-protocol)."""
    server_options = (" send-proxy" if send_proxy else "") + (
        " resolvers docker init-addr last,libc,none" if resolvers else ""
    )

    def servers(addresses: list[str]) -> str:
        return "\n".join(f"    server master{i} {addr} check{server_options}" for i, addr in enumerate(addresses, 1))

    text = Template(TEMPLATE.read_text()).substitute(
        client_bind=client_bind,
        master_servers=servers(masters),
        web_bind=web_bind,
        web_servers=servers(web),
        resolvers=resolvers,
    )
    return text.rstrip("\n") + "\n"


def local(
    port: int,
    master_ports: list[int],
    web_port: int,
    web_ports: list[int],
    send_proxy: bool = True,
) -> str:
    return render(
        f"127.0.0.1:{port}",
        [f"127.0.0.1:{p}" for p in master_ports],
        f"127.0.0.1:{web_port}",
        [f"127.0.0.1:{p}" for p in web_ports],
        send_proxy=send_proxy,
    )


def compose() -> str:
    return render(":5100", COMPOSE_MASTERS, ":8100", COMPOSE_WEB, "\n" + DOCKER_RESOLVERS)


if __name__ == "__main__":
    sys.stdout.write(compose())
