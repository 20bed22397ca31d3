"""A small migration runner: versioned ``NNNN_name.sql`` files, applied in order.

Why not yoyo or alembic: we need exactly four things — files shipped inside
the Lambda package, one transaction per file, a PostgreSQL advisory lock so
two runners (two deploys, or a deploy and a laptop) cannot interleave, and
running each file as the ``saas_admin`` role so it owns what it creates. That
is fewer lines here than the glue a library would need.

The runner connects as a privileged user (the cluster master in the cloud,
the local superuser on a laptop), applies ``roles.sql`` (idempotent) and then
every migration not yet recorded in ``schema_migrations``. A recorded file
whose checksum changed is an error: migrations are append-only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.abc import ConnParam
from psycopg.conninfo import make_conninfo

from chalicelib.core import contract

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Arbitrary, fixed: every runner of this schema contends for the same lock.
ADVISORY_LOCK_ID = 7_311_402_001
ADMIN_ROLE = "saas_admin"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return found


def digest(directory: Path = MIGRATIONS_DIR) -> str:
    """One hash over roles.sql and every migration: the deploy-time custom resource's version."""
    h = hashlib.sha256()
    for path in [directory / "roles.sql", *(m.path for m in discover(directory))]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# The runtime's login (roles.sql creates it; the contract names it for the stacks too).
APP_LOGIN = contract.APP_LOGIN


def set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """Set ``role``'s password by sending a SCRAM-SHA-256 verifier, never the password itself.

    libpq computes the verifier client-side (``PQencryptPasswordConn``), so a
    failing statement that PostgreSQL logs — and exports to CloudWatch —
    shows a salted hash, not the secret.
    """
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))


def migrate(
    conninfo: str, *, app_password: str | None = None, directory: Path = MIGRATIONS_DIR, **connect_kwargs: ConnParam
) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date).

    ``connect_kwargs`` are libpq parameters (host, password...), merged into ``conninfo`` as psycopg
    itself merges them (``make_conninfo``).
    """
    applied: list[str] = []
    with psycopg.connect(make_conninfo(conninfo, **connect_kwargs), autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
        try:
            with conn.transaction():
                conn.execute((directory / "roles.sql").read_text(encoding="utf-8"))
                if app_password:
                    set_password(conn, APP_LOGIN, app_password)
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ADMIN_ROLE)))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
            done = {row[0]: row[2] for row in conn.execute("SELECT version, name, checksum FROM schema_migrations")}
            for migration in discover(directory):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.path.name} changed after it was applied; add a new one instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ADMIN_ROLE)))
                    conn.execute(migration.sql)
                    conn.execute("RESET ROLE")
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied.append(migration.path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_ID,))
    return applied
