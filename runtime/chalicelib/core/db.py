"""The connection pool and the two ways to open a unit of work.

* :func:`tenant_transaction` — everything a customer does. It sets
  ``app.tenant_id`` *transaction-locally*; PostgreSQL's row-level security
  policies then decide which rows exist. Forgetting it shows zero rows.
* :func:`operator_transaction` — platform staff's cross-tenant work. It
  switches, again transaction-locally, to the ``saas_operator`` role, whose
  own policies admit every row. Cross-tenant access is never "no tenant set".

Both also set ``app.actor`` transaction-locally: who acts, as the audit trail
names it (the authenticated principal, or a job's own name). This is the one
place the runtime says who acted; the database's audit trigger writes it, and
the database's clock, into every event, whatever an INSERT supplied.

Nothing is left on a connection between transactions (no session ``SET``, no
named prepared statements: ``prepare_threshold=None``) so the same code runs
behind RDS Proxy or a transaction-mode PgBouncer without pinning or leaking.

A lost connection (an Aurora failover, an RDS Proxy reset, a terminated
backend) is retried once by :func:`retry_once_if_lost` when nothing of the
attempt was committed: every unit of work records here whether it committed,
and whether it failed *during* ``COMMIT`` (then nobody knows whether it
committed, so it is not retried). The view layer answers what is left with
``503`` and ``Retry-After`` (``core.http``).
"""

from __future__ import annotations

import contextlib
import select
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from chalicelib.core import attempts, context

# Re-exported: callers say db.LOST and db.retry_once_if_lost, next to the units of work.
from chalicelib.core.attempts import LOST as LOST
from chalicelib.core.attempts import retry_once_if_lost as retry_once_if_lost
from chalicelib.core.settings import get_settings

OPERATOR_ROLE = "saas_operator"

# What every unit of work hands out: rows are dicts (``row_factory=dict_row``), which is
# what repositories index by column name. Annotate with this, not a bare psycopg.Connection.
Connection = psycopg.Connection[DictRow]

_pool: ConnectionPool[Connection] | None = None
_pool_lock = threading.Lock()


def iam_auth_token(user: str) -> str:
    """A 15-minute RDS IAM authentication token for ``user`` at ``DB_HOST`` (signed locally, no network)."""
    from chalicelib.core import aws

    settings = get_settings()
    token: str = aws.client("rds").generate_db_auth_token(
        DBHostname=settings.db_host, Port=settings.db_port, DBUsername=user, Region=settings.region
    )
    return token


def tls_kwargs() -> dict[str, str]:
    """TLS that verifies the server: its certificate chains to a trusted root and names ``DB_HOST``.

    ``sslmode=require`` would encrypt but accept any certificate. RDS Proxy
    serves an ACM certificate, which chains to the Amazon roots that certifi
    ships (in the Lambda package); ``DB_SSL_ROOT_CERT`` overrides the bundle.
    """
    settings = get_settings()
    if settings.db_ssl_root_cert:
        root = settings.db_ssl_root_cert
    else:
        import certifi

        root = certifi.where()
    return {"sslmode": "verify-full", "sslrootcert": root}


def iam_connect_kwargs(user: str) -> dict[str, Any]:
    """Connection parameters for ``user`` through RDS Proxy with IAM auth (TLS required by the proxy)."""
    settings = get_settings()
    return {
        "host": settings.db_host,
        "port": settings.db_port,
        "dbname": settings.db_name,
        "user": user,
        "password": iam_auth_token(user),
        "connect_timeout": 5,
        **tls_kwargs(),
    }


def _conninfo() -> tuple[str, dict[str, Any] | Callable[[], dict[str, Any]]]:
    settings = get_settings()
    kwargs: dict[str, Any] = {
        "prepare_threshold": None,
        "autocommit": True,
        "row_factory": dict_row,
        "application_name": f"saas-{settings.stage}",
    }
    if settings.database_url:
        return settings.database_url, kwargs
    if settings.db_iam_auth:
        # Tokens expire after 15 minutes: the pool calls this for every new
        # connection, so each one signs a fresh token.
        return "", lambda: kwargs | iam_connect_kwargs(settings.db_app_user)
    # Cloud: credentials for the application login role come from Secrets
    # Manager (cached by Powertools), the host is the RDS Proxy endpoint.
    from aws_lambda_powertools.utilities import parameters

    if not settings.db_secret_arn:
        raise RuntimeError("no database configured: set DATABASE_URL, DB_IAM_AUTH or DB_SECRET_ARN")
    secret = parameters.get_secret(settings.db_secret_arn, transform="json", max_age=300)
    kwargs |= {
        "host": settings.db_host or secret.get("host"),
        "port": int(secret.get("port", 5432)),
        "dbname": settings.db_name,
        "user": secret["username"],
        "password": secret["password"],
        "connect_timeout": 5,
        **tls_kwargs(),
    }
    return "", kwargs


def check_connection(conn: Connection) -> None:
    """The pool's check when it hands out a connection: a round trip only when the socket says one is due.

    An idle pooled connection (autocommit, no statement in flight) has nothing
    to read. A backend that was terminated, an RDS Proxy reset or a failover
    leaves its socket readable (the server's FATAL message, an EOF or a reset),
    and psycopg marks a connection it saw fail as broken: only then is the
    round trip of psycopg_pool's own check made, which raises for a dead
    connection so the pool replaces it. A healthy connection is handed out
    without the empty query every checkout used to cost (one round trip per
    unit of work; a request makes at least two). A death not yet visible on
    the socket when the connection is handed out is what
    :func:`retry_once_if_lost` already covers.
    """
    if conn.closed or conn.broken or _readable(conn.fileno()):
        ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or hung up), without waiting; poll, not select (any fd number)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def make_pool(
    conninfo: str, kwargs: dict[str, Any] | Callable[[], dict[str, Any]], *, min_size: int, max_size: int
) -> ConnectionPool[Connection]:
    """A pool whose connections carry no session state (see module docstring).

    ``connection_class`` is for the type checker (psycopg's documented way to type a pool of dict-row
    connections); at run time it is psycopg.Connection, and ``kwargs`` carries ``row_factory=dict_row``.
    """
    return ConnectionPool(
        conninfo,
        connection_class=Connection,
        kwargs=kwargs,
        min_size=min_size,
        max_size=max_size,
        open=True,
        check=check_connection,
        timeout=10,
        name="saas",
    )


def connection_kwargs() -> dict[str, Any]:
    kwargs = _conninfo()[1]
    return kwargs() if callable(kwargs) else kwargs


def get_pool() -> ConnectionPool[Connection]:
    """The process-wide pool, opened on first use (importing the app never connects)."""
    global _pool  # noqa: PLW0603 - one pool per process, kept by a warm Lambda container between requests
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                settings = get_settings()
                conninfo, kwargs = _conninfo()
                _pool = make_pool(conninfo, kwargs, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    return _pool


def use_pool(pool: ConnectionPool[Connection] | None) -> ConnectionPool[Connection] | None:
    """Swap the process-wide pool (tests and the benchmark); returns the previous one."""
    global _pool
    with _pool_lock:
        previous, _pool = _pool, pool
    return previous


def close_pool() -> None:
    global _pool  # noqa: PLW0603 - the process-wide pool (see get_pool)
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


def single_row(cursor: psycopg.Cursor[DictRow]) -> DictRow:
    """The row of a statement that always returns one (an aggregate, an upsert's ``RETURNING``...).

    No row there is a bug in the statement, not a case for the caller: it fails loudly here.
    """
    row = cursor.fetchone()
    if row is None:
        raise AssertionError("a statement that always returns one row returned none")
    return row


@contextlib.contextmanager
def _unit(conn: Connection) -> Iterator[Connection]:
    """``conn``'s transaction, recording a commit (or a death during ``COMMIT``) for the attempt."""
    body_done = False
    try:
        with conn.transaction():
            yield conn
            body_done = True
    except LOST:
        if body_done:  # the COMMIT itself failed: it may or may not have been applied
            attempts.died_in_commit()
        raise
    attempts.committed()


@contextlib.contextmanager
def tenant_transaction(customer_id: uuid.UUID | str, *, actor: str | None = None) -> Iterator[Connection]:
    """A transaction in which row-level security confines every statement to ``customer_id``.

    ``actor`` names who acts in the audit trail; by default the current principal (``context.current_actor``).
    """
    tenant = str(uuid.UUID(str(customer_id)))
    with get_pool().connection() as conn, _unit(conn):
        conn.execute(
            "SELECT set_config('app.tenant_id', %s, true), set_config('app.actor', %s, true)",
            (tenant, actor or context.current_actor()),
        )
        yield conn


@contextlib.contextmanager
def operator_transaction(*, actor: str | None = None) -> Iterator[Connection]:
    """A cross-tenant transaction as the ``saas_operator`` role (operator routes and jobs only).

    ``actor`` as in :func:`tenant_transaction` (a job passes its own name, e.g. ``system:billing``).
    """
    with get_pool().connection() as conn, _unit(conn):
        conn.execute(
            "SELECT set_config('role', %s, true), set_config('app.actor', %s, true)",
            (OPERATOR_ROLE, actor or context.current_actor()),
        )
        yield conn


@contextlib.contextmanager
def one_statement() -> Iterator[Connection]:
    """A connection for exactly ONE statement on non-tenant state (it commits on its own, autocommit).

    No ``BEGIN``/``COMMIT`` round trips: for hot single reads or writes through
    SECURITY DEFINER functions (the authentication guard). Anything with two
    statements, or tenant data, uses one of the transactions. The statements
    run here are reads or idempotent writes, so a failed one may be retried.
    """
    with get_pool().connection() as conn:
        yield conn
    attempts.committed()


@contextlib.contextmanager
def plain_transaction(*, timeout: float | None = None) -> Iterator[Connection]:
    """A transaction with no tenant and no operator role: only non-tenant tables are visible."""
    with get_pool().connection(timeout=timeout) as conn, _unit(conn):
        yield conn
