"""TLS for the cluster (issue 13): certificates, server contexts and client verification.

Every client-facing port and the slaves' links to masters and to other slaves speak TLS;
plain TCP needs an explicit ``--insecure`` (local development). Servers take
``--tls-cert`` and ``--tls-key``; slaves verify their masters against ``--ca`` or the
system's roots. Clients verify the servers against ``--ca FILE`` (``FRAMECAST_CA``), else
the system's roots together with the local CA ``framecast up`` keeps for this user
(``local_certificates``: a CA made once, like mkcert's, and a fresh certificate for this
host per cluster). The local CA is name-constrained to this machine (``LOCAL_NAMES``:
localhost, 127.0.0.0/8, ::1), so whoever reads its key still cannot impersonate any other
server to the clients that trust it; a CA made before the constraints is moved aside and
replaced once.

Twisted's TLS (pyOpenSSL, service-identity) on the servers; Python's ``ssl`` in the
blocking client.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.errors import ConfigError
from common.private_files import private_folder, write_private

VALID_FOR = datetime.timedelta(days=825)
# What the local CA may sign for: this machine's names and loopback addresses, nothing else.
LOCAL_NAMES = x509.NameConstraints(
    permitted_subtrees=[
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
    ],
    excluded_subtrees=None,
)
UNCONSTRAINED = ".unconstrained"  # the suffix a local CA without LOCAL_NAMES is moved aside with


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path  # the server's certificate
    key: Path  # and its private key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def self_signed(
    common_name: str, valid_for: datetime.timedelta, ca: bool = False, names: x509.NameConstraints | None = None
):
    """A new key and a certificate it signs itself (a CA's with ``ca``, signing only for
    ``names`` if given); valid from five minutes ago, so a node whose clock is a little
    behind accepts it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + valid_for)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    if names is not None:
        builder = builder.add_extension(names, critical=True)
    return builder.sign(key, hashes.SHA256()), key


def _local_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA kept in ``folder`` (``ca.pem``, ``ca.key``), made there on first use, and
    again when it expires or lacks the ``LOCAL_NAMES`` constraints."""
    cert_file, key_file = folder / "ca.pem", folder / "ca.key"
    if cert_file.exists() and key_file.exists():
        ca = x509.load_pem_x509_certificate(cert_file.read_bytes())
        if not _constrained(ca):
            _move_aside(cert_file, key_file)
        elif ca.not_valid_after_utc > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1):
            return ca, serialization.load_pem_private_key(key_file.read_bytes(), None)
    ca, key = self_signed("framecast local CA", VALID_FOR, ca=True, names=LOCAL_NAMES)
    private_folder(folder)
    write_private(key_file, pem_key(key))
    _write(cert_file, ca.public_bytes(serialization.Encoding.PEM))
    return ca, key


def _constrained(ca: x509.Certificate) -> bool:
    try:
        return ca.extensions.get_extension_for_class(x509.NameConstraints).value == LOCAL_NAMES
    except x509.ExtensionNotFound:
        return False


def _move_aside(*files: Path) -> None:
    """Keep a CA that could sign for any name out of use (``ca.pem.unconstrained``), not
    deleted: its owner may want to remove it from the browsers that trusted it."""
    for path in files:
        path.replace(path.with_name(path.name + UNCONSTRAINED))


def local_certificates(ca_folder: Path, folder: Path, hosts: list[str]) -> TlsFiles:
    """A certificate for ``hosts`` (names or IP addresses), written to ``folder`` and signed
    by the local CA in ``ca_folder``, which is made on first use and kept, so a browser or
    a client told to trust it once goes on trusting the clusters it signs."""
    ca, ca_key = _local_ca(ca_folder)
    return signed_certificate(ca, ca_key, ca_folder / "ca.pem", folder, hosts)


def signed_certificate(ca: x509.Certificate, ca_key, ca_file: Path, folder: Path, hosts: list[str]) -> TlsFiles:
    """A server certificate for ``hosts`` signed by ``ca`` (whose certificate is ``ca_file``),
    written to ``folder``: the local CA's, or a deployment's own CA (a cluster of hosts)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        # Not a host name: OpenSSL would hold a certificate's name-like common name to the
        # CA's DNS constraints when it has no DNS name (127.0.0.1 alone); the names are the SANs.
        .subject_name(_name("framecast server"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + VALID_FOR, ca.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    private_folder(folder)
    files = TlsFiles(ca_file, folder / "server.pem", folder / "server.key")
    _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    write_private(files.key, pem_key(key))
    return files


def _write(path: Path, data: bytes) -> None:
    """Write a public file (a certificate), readable by all."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None


def server_options(cert: str, key: str):
    """Twisted's TLS options for a server with this certificate (chain) and key."""
    from OpenSSL import SSL
    from twisted.internet.ssl import PrivateCertificate

    try:
        options = PrivateCertificate.loadPEM(_read(cert, "certificate") + b"\n" + _read(key, "key")).options()
        # OpenSSL frees a connection's buffers while it has nothing to send or read: a viewer
        # that has gone quiet holds about 8 KB less (bench/README.md, TLS).
        options.getContext().set_mode(SSL.MODE_RELEASE_BUFFERS)
        return options
    except Exception as exc:  # pyOpenSSL's errors are many and unrelated
        raise ConfigError(f"bad certificate or key ({cert}, {key}): {exc}") from None


def server_factory(factory, options):
    """``factory``'s protocol behind TLS with ``options`` (None: plain TCP, ``factory`` as it
    is); the TLS sits inside a PROXY-protocol wrapper, if any, as HAProxy passes TLS through."""
    if options is None:
        return factory
    from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol

    tls = TLSMemoryBIOFactory(options, False, factory)
    # Not Twisted's default BufferingTLSTransport: it defers every write under 64 KB to the
    # next reactor turn to merge small ones, and the servers write whole frames and whole
    # messages, for which that cost more than it saved (bench/fanout.py --tls).
    tls.protocol = TLSMemoryBIOProtocol
    return tls


def client_creator(host: str, ca: str | None):
    """Twisted's TLS for a client (a slave reaching a master) that verifies ``host``."""
    from twisted.internet.ssl import Certificate, optionsForClientTLS, platformTrust

    trust = Certificate.loadPEM(_read(ca, "CA certificate")) if ca else platformTrust()
    return optionsForClientTLS(host, trustRoot=trust)


def client_context(ca: str | None, local_ca: Path | None = None) -> ssl.SSLContext:
    """The blocking client's TLS: verify the servers against ``ca`` alone; without it,
    against the system's roots and ``local_ca`` (the CA ``framecast up`` keeps), if there."""
    try:
        context = ssl.create_default_context(cafile=ca)
        if not ca and local_ca is not None and local_ca.exists():
            context.load_verify_locations(cafile=local_ca)
        return context
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot use the CA certificate {ca or local_ca}: {exc}") from None
