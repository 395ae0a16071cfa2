"""What an idle TLS connection costs a server in memory, by TLS library, no framework.

Accepts N connections (a client process makes them, TLS 1.3, then stays quiet), completes
each handshake, and prints the server's resident memory per connection, measured between
the 50th and the last: for pyOpenSSL on the socket (what the slaves use: the OpenSSL that
``cryptography`` bundles, the context of ``common.tls.server_options``) and for the
standard library's ``ssl`` (the system's OpenSSL), each in a process of its own.
Usage: python bench/tls_memory.py [N]
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from OpenSSL import SSL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.tls import server_options  # noqa: E402

CLIENT = """
import socket, ssl, sys, time
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
connections = [context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])))) for _ in range(int(sys.argv[2]))]
print("connected", flush=True)
time.sleep(60)
"""


def certificate(folder: Path) -> tuple[str, str]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost", "-days", "1"],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def pyopenssl_accept(context):
    def accept(sock: socket.socket):
        connection = SSL.Connection(context, sock)
        connection.set_accept_state()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                connection.do_handshake()
                return connection
            except SSL.WantReadError:
                time.sleep(0.0005)
        raise TimeoutError("no handshake within 10 s")

    return accept


def stdlib_accept(context: ssl.SSLContext):
    return lambda sock: context.wrap_socket(sock, server_side=True)


def per_connection(accept, count: int) -> float:
    """KB of resident memory per idle connection after its handshake."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=count)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(listener.getsockname()[1]), str(count)], stdout=subprocess.PIPE
    )
    me, kept, after_50 = psutil.Process(), [], 0
    try:
        for i in range(count):
            kept.append(accept(listener.accept()[0]))
            if i == 49:
                after_50 = me.memory_info().rss
        client.stdout.readline()
        return (me.memory_info().rss - after_50) / 1024 / (count - 50)
    finally:
        client.kill()
        client.wait()
        listener.close()


def measure(library: str, count: int) -> None:
    """One library's figure, in a process of its own (memory the other freed would hide
    what this one takes)."""
    with tempfile.TemporaryDirectory() as folder:
        cert, key = certificate(Path(folder))
        if library == "pyopenssl":
            name = f"pyOpenSSL ({SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode()})"
            accept = pyopenssl_accept(server_options(cert, key).getContext())
        else:
            name = f"ssl ({ssl.OPENSSL_VERSION})"
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            context.options |= ssl.OP_NO_TICKET
            accept = stdlib_accept(context)
        print(f"{name:40} {per_connection(accept, count):6.1f} KB a connection", flush=True)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    if len(sys.argv) > 2:
        measure(sys.argv[2], count)
        return
    print(f"{count} idle TLS 1.3 connections, server side, after the handshake", flush=True)
    for library in ("pyopenssl", "ssl"):
        subprocess.run([sys.executable, __file__, str(count), library], check=True)


if __name__ == "__main__":
    main()
