"""Applying the SQL schema migrations in ``master/sql/`` (feature U1).

Each ``NNNN_name.sql`` file is applied once, in order, inside one transaction with its
record in ``schema_migrations``. A transaction-level advisory lock makes concurrent
masters starting together apply each migration exactly once.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions

MIGRATIONS_DIR = Path(__file__).with_name("sql")
_LOCK_KEY = 0x66726D63  # "frmc"


def pending(applied: set[str]) -> list[Path]:
    return [p for p in sorted(MIGRATIONS_DIR.glob("*.sql")) if p.stem not in applied]


def ensure_database(dsn: str) -> None:
    """Create the database ``dsn`` names if its server does not have it yet."""
    params = psycopg2.extensions.parse_dsn(dsn)
    name = params.get("dbname", "postgres")
    admin = psycopg2.connect(**{**params, "dbname": "postgres"})
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    except psycopg2.errors.DuplicateDatabase:
        pass  # another master created it at the same moment
    finally:
        admin.close()


def migrate(dsn: str) -> list[str]:
    """Bring the database at ``dsn`` up to date; returns the migrations applied."""
    done: list[str] = []
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT version FROM schema_migrations")
        for path in pending({row[0] for row in cur.fetchall()}):
            cur.execute(path.read_text())
            cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
            done.append(path.stem)
    conn.close()
    return done
