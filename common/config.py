"""Settings shared by the server roles: environment defaults and the cluster secret.

Every command-line option of a server can also be set by an environment variable named
``FRAMECAST_<OPTION>`` (upper case, dashes as underscores), which is how the compose file
configures its services. The secret is read only from ``FRAMECAST_SECRET`` or
``--secret-file``, never from the command line, so it does not show in ``ps``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common.errors import ConfigError

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/framecast"


def env(option: str, default):
    """The default for ``--option``: its FRAMECAST_ variable if set, else ``default``."""
    value = os.environ.get("FRAMECAST_" + option.upper().replace("-", "_"))
    if value is None:
        return default
    return type(default)(value) if isinstance(default, (int, float)) and not isinstance(default, bool) else value


def add_option(parser: argparse.ArgumentParser, option: str, default, help: str) -> None:
    kind = type(default) if isinstance(default, (int, float)) else str
    parser.add_argument("--" + option, type=kind, default=env(option, default), help=f"{help} (default {default!r})")


def add_flag(parser: argparse.ArgumentParser, option: str, help: str) -> None:
    """An on/off option; FRAMECAST_<OPTION>=1 (or true, yes) turns it on too."""
    default = str(env(option, "")).lower() in ("1", "true", "yes")
    parser.add_argument("--" + option, action="store_true", default=default, help=help)


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """A server's certificate (chain) and key, or --insecure: plain TCP is never a default."""
    add_option(parser, "tls-cert", "", "PEM certificate (chain) to serve TLS with (with --tls-key)")
    add_option(parser, "tls-key", "", "PEM private key of --tls-cert")
    add_flag(parser, "insecure", "plain TCP without TLS, for local development only")


def tls_server_options(args: argparse.Namespace):
    """Twisted's TLS options from --tls-cert and --tls-key, or None with --insecure."""
    if args.insecure:
        if args.tls_cert or args.tls_key:
            raise ConfigError("--insecure serves plain TCP: leave out --tls-cert and --tls-key")
        return None
    if not (args.tls_cert and args.tls_key):
        raise ConfigError(
            "no certificate: give --tls-cert and --tls-key (FRAMECAST_TLS_CERT, FRAMECAST_TLS_KEY),"
            " or --insecure to serve plain TCP for local development"
        )
    from common.tls import server_options

    return server_options(args.tls_cert, args.tls_key)


def add_secret_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-file", default=env("secret-file", ""), help="file holding the cluster secret (else FRAMECAST_SECRET)"
    )


def load_secret(args: argparse.Namespace) -> str:
    secret = read_key(args.secret_file, "FRAMECAST_SECRET", "secret")
    if not secret:
        raise ConfigError("no cluster secret: set FRAMECAST_SECRET or pass --secret-file")
    return secret


def read_key(path: str, variable: str, what: str) -> str:
    """A key from the file at ``path`` if given, else from the environment ``variable``
    ("" if neither has one); ``what`` names it in the error."""
    if not path:
        return os.environ.get(variable, "")
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc.strerror}") from None
