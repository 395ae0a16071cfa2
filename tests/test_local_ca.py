"""The local CA of ``framecast up`` (issue 18, finding 9): it signs for this machine only.

Its name constraints (localhost, 127.0.0.0/8, ::1) hold wherever it is trusted, so a
certificate it signs for any other name is refused by the CLI's verification, even though
the CLI trusts the CA without being told. A CA made before the constraints is moved aside
and replaced once. The handshakes run in memory (``ssl.MemoryBIO``), no sockets."""

from __future__ import annotations

import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from common.tls import UNCONSTRAINED, VALID_FOR, client_context, local_certificates, pem_key, self_signed


class End:
    """One end of an in-memory TLS connection."""

    def __init__(self, context: ssl.SSLContext, **options):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, **options)

    def step(self) -> bool:
        try:
            self.tls.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False


def handshake(files, server_name: str) -> None:
    """The CLI's client context (the system's roots and the local CA, as with no --ca)
    meets a server holding ``files``; raises ssl.SSLCertVerificationError if refused."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(files.cert, files.key)
    client = End(client_context(None, local_ca=files.ca), server_hostname=server_name)
    server = End(server_context, server_side=True)
    for _ in range(10):  # a handshake takes two round trips; each turn passes what each sent
        client_done = client.step()
        server.incoming.write(client.outgoing.read())
        server_done = server.step()
        client.incoming.write(server.outgoing.read())
        if client_done and server_done:
            return
    raise AssertionError("the handshake did not finish")


@pytest.mark.parametrize(
    "hosts, name",
    [
        (["localhost", "127.0.0.1"], "localhost"),
        (["localhost", "127.0.0.1"], "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1"),
    ],
)
def test_the_local_ca_is_trusted_for_this_machine(tmp_path, hosts, name):
    handshake(local_certificates(tmp_path / "ca", tmp_path / "tls", hosts), name)


@pytest.mark.parametrize("hosts, name", [(["example.com"], "example.com"), (["10.0.0.7"], "10.0.0.7")])
def test_a_certificate_the_local_ca_signs_for_another_name_is_refused(tmp_path, hosts, name):
    """Whoever reads the CA's key can sign for any name, but the CLI refuses it."""
    files = local_certificates(tmp_path / "ca", tmp_path / "tls", hosts)
    with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree violation"):
        handshake(files, name)


def test_a_local_ca_without_name_constraints_is_moved_aside_and_replaced(tmp_path):
    folder = tmp_path / "ca"
    folder.mkdir()
    old, key = self_signed("framecast local CA", VALID_FOR, ca=True)
    (folder / "ca.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    (folder / "ca.key").write_bytes(pem_key(key))
    files = local_certificates(folder, tmp_path / "tls", ["localhost"])
    new = x509.load_pem_x509_certificate(files.ca.read_bytes())
    assert new.extensions.get_extension_for_class(x509.NameConstraints).critical
    assert (folder / f"ca.pem{UNCONSTRAINED}").read_bytes() == old.public_bytes(serialization.Encoding.PEM)
    assert (folder / f"ca.key{UNCONSTRAINED}").exists()
    again = local_certificates(folder, tmp_path / "tls", ["localhost"])  # replaced once, then kept
    assert again.ca.read_bytes() == files.ca.read_bytes()
    handshake(again, "localhost")


def test_the_folders_made_for_the_local_ca_are_private(tmp_path):
    """``~/.framecast`` made on the way to ``~/.framecast/tls`` is 0700, like ``tls``."""
    home = tmp_path / "home"
    files = local_certificates(home / ".framecast" / "tls", home / ".framecast" / "tls", ["localhost"])
    for folder in (home, home / ".framecast", home / ".framecast" / "tls"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / ".framecast" / "tls" / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600


def test_the_framecast_home_and_its_token_file_are_private(tmp_path, monkeypatch):
    from cli import credentials
    from common.messages.accounts import LoginToken

    home = tmp_path / "made" / ".framecast"
    monkeypatch.setenv("FRAMECAST_HOME", str(home))
    credentials.save(LoginToken("alice", "token", 1e10), "127.0.0.1:5100")
    for folder in (tmp_path / "made", home):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / "credentials.json").stat().st_mode) == 0o600
