"""TLS for the cluster (issue 13): certificates, server contexts and client verification.

Servers given ``--tls-cert`` and ``--tls-key`` serve TLS on every client-facing port and on
the masters' slave port; slaves verify their masters against ``--ca``. Clients verify the
servers' certificates against ``--ca FILE`` (``FRAMECAST_CA``), or the system's trusted
roots with ``--tls``. ``framecast up --tls`` makes a local CA and one certificate for this
host (``make_local_ca``), as a development stand-in for real certificates.

Twisted's TLS (pyOpenSSL, service-identity) on the servers; Python's ``ssl`` in the
blocking client.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.config import ConfigError

VALID_FOR = datetime.timedelta(days=825)


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


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_local_ca(folder: Path, hosts: list[str]) -> TlsFiles:
    """A new CA and a certificate signed by it for ``hosts`` (names or IP addresses)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("framecast local CA"))
        .issuer_name(_name("framecast local CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(_pem_key(key))
    files.key.chmod(0o600)
    return files


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None


def server_options(cert: str, key: str):
    """Twisted's TLS options for a server with this certificate (chain) and key."""
    from twisted.internet.ssl import PrivateCertificate

    try:
        return PrivateCertificate.loadPEM(_read(cert, "certificate") + b"\n" + _read(key, "key")).options()
    except Exception as exc:  # pyOpenSSL's errors are many and unrelated
        raise ConfigError(f"bad certificate or key ({cert}, {key}): {exc}") from None


def server_factory(factory, options):
    """``factory``'s protocol behind TLS with ``options`` (None: plain TCP, ``factory`` as it
    is); the TLS sits inside a PROXY-protocol wrapper, if any, as HAProxy passes TLS through."""
    if options is None:
        return factory
    from twisted.protocols.tls import TLSMemoryBIOFactory

    return TLSMemoryBIOFactory(options, False, factory)


def client_creator(host: str, ca: str | None):
    """Twisted's TLS for a client (a slave reaching a master) that verifies ``host``."""
    from twisted.internet.ssl import Certificate, optionsForClientTLS, platformTrust

    trust = Certificate.loadPEM(_read(ca, "CA certificate")) if ca else platformTrust()
    return optionsForClientTLS(host, trustRoot=trust)


def client_context(ca: str | None) -> ssl.SSLContext:
    """The blocking client's TLS: verify the server against ``ca``, or the system's roots."""
    try:
        return ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot use the CA certificate {ca}: {exc}") from None
