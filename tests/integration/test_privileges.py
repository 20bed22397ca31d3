"""Issue 11, items 2 and 10: every database privilege in the app schema is the one we meant.

A snapshot of the owner and the grants of every table, view, sequence,
function and column privilege in ``public``, for every role (PUBLIC
included), compared with the list below: an unexpected grant - or a REVOKE
that silently did nothing, as in migrations 0010/0011 - fails the test. When
a migration changes privileges on purpose, update the list in the same commit.

Letters are PostgreSQL's ACL codes: r SELECT, a INSERT, w UPDATE, d DELETE,
D TRUNCATE, x REFERENCES, t TRIGGER, m MAINTAIN, X EXECUTE, U USAGE. The
owner's own (implicit) rights are not listed; its name is.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors as pg_errors

SNAPSHOT = """
WITH objects AS (
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'matview' ELSE 'table' END
               AS kind,
           c.relname::text AS name, c.relowner AS owner,
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
    UNION ALL
    SELECT 'column', c.relname || '.' || a.attname, c.relowner, a.attacl
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
       AND NOT c.relispartition
)
SELECT o.kind, o.name, pg_get_userbyid(o.owner) AS owner,
       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END AS grantee,
       g.privilege_type, g.is_grantable
  FROM objects o LEFT JOIN LATERAL aclexplode(o.acl) g ON g.grantee <> o.owner
 ORDER BY 1, 2
"""

ROLES = """
SELECT r.rolname, r.rolcanlogin, r.rolbypassrls, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
       coalesce((SELECT string_agg(g.rolname || CASE WHEN m.inherit_option THEN '+inherit' ELSE '' END
                                  || CASE WHEN m.set_option THEN '+set' ELSE '' END
                                  || CASE WHEN m.admin_option THEN '+admin' ELSE '' END, ' ' ORDER BY g.rolname)
                   FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid AND g.rolname LIKE 'saas%%'), '') AS member_of
  FROM pg_roles r WHERE r.rolname LIKE 'saas%%' ORDER BY r.rolname
"""

_LETTERS = {
    "SELECT": "r",
    "INSERT": "a",
    "UPDATE": "w",
    "DELETE": "d",
    "TRUNCATE": "D",
    "REFERENCES": "x",
    "TRIGGER": "t",
    "MAINTAIN": "m",
    "EXECUTE": "X",
    "USAGE": "U",
}
_ORDER = "arwdDxtmXU"

# Tables: saas_admin owns every one (migrations run as it). Auth functions: saas_auth.
EXPECTED = """
column api_keys.created_at | saas_admin | saas_analytics=r
column api_keys.customer_id | saas_admin | saas_analytics=r saas_auth=r
column api_keys.expires_at | saas_admin | saas_analytics=r saas_auth=r
column api_keys.id | saas_admin | saas_analytics=r saas_auth=r
column api_keys.last_used_at | saas_admin | saas_analytics=r
column api_keys.name | saas_admin | saas_analytics=r
column api_keys.prefix | saas_admin | saas_analytics=r
column api_keys.public_id | saas_admin | saas_analytics=r saas_auth=r
column api_keys.revoked_at | saas_admin | saas_analytics=r saas_auth=r
column api_keys.role | saas_admin | saas_auth=r
column api_keys.rotated_from | saas_admin | saas_analytics=r
column api_keys.secret_hash | saas_admin | saas_auth=r
column customers.id | saas_admin | saas_auth=r
column customers.require_mfa | saas_admin | saas_app=w saas_auth=r
column customers.sessions_valid_from | saas_admin | saas_auth=r
column customers.status | saas_admin | saas_auth=r
column operator_api_keys.created_at | saas_admin | saas_analytics=r saas_operator=r
column operator_api_keys.expires_at | saas_admin | saas_analytics=r saas_auth=r saas_operator=ar
column operator_api_keys.id | saas_admin | saas_analytics=r saas_auth=r saas_operator=r
column operator_api_keys.last_used_at | saas_admin | saas_analytics=r saas_operator=rw
column operator_api_keys.name | saas_admin | saas_analytics=r saas_operator=ar
column operator_api_keys.operator_id | saas_admin | saas_analytics=r saas_auth=r saas_operator=ar
column operator_api_keys.public_id | saas_admin | saas_analytics=r saas_auth=r saas_operator=ar
column operator_api_keys.revoked_at | saas_admin | saas_analytics=r saas_auth=r saas_operator=rw
column operator_api_keys.secret_hash | saas_admin | saas_auth=r saas_operator=a
column operators.disabled_at | saas_admin | saas_auth=r
column operators.id | saas_admin | saas_auth=r
column usage_alerts.last_fired_period | saas_admin | saas_app=w
column user_invitations.accepted_at | saas_admin | saas_analytics=r
column user_invitations.created_at | saas_admin | saas_analytics=r
column user_invitations.customer_id | saas_admin | saas_analytics=r
column user_invitations.email | saas_admin | saas_analytics=r
column user_invitations.expires_at | saas_admin | saas_analytics=r
column user_invitations.id | saas_admin | saas_analytics=r
column user_invitations.role | saas_admin | saas_analytics=r
column users.created_at | saas_admin | saas_analytics=r saas_operator=r
column users.customer_id | saas_admin | saas_analytics=r saas_auth=r saas_operator=r
column users.email | saas_admin | saas_analytics=r saas_auth=r saas_operator=r
column users.id | saas_admin | saas_analytics=r saas_auth=r saas_operator=r
column users.last_login_at | saas_admin | saas_analytics=r saas_operator=r
column users.mfa_enabled | saas_admin | saas_analytics=r saas_auth=r saas_operator=r
column users.name | saas_admin | saas_analytics=r saas_operator=r
column users.password_hash | saas_admin | saas_auth=r
column users.role | saas_admin | saas_analytics=r saas_auth=r saas_operator=r
column users.session_epoch | saas_admin | saas_auth=r
column webhook_endpoints.created_at | saas_admin | saas_analytics=r
column webhook_endpoints.customer_id | saas_admin | saas_analytics=r
column webhook_endpoints.deleted_at | saas_admin | saas_analytics=r
column webhook_endpoints.events | saas_admin | saas_analytics=r
column webhook_endpoints.id | saas_admin | saas_analytics=r
function app_current_tenant() | saas_admin | PUBLIC=X
function audit_event_hash(uuid,bigint,bytea,timestamp with time zone,text,text,text,text,jsonb,text) | saas_admin | PUBLIC=X
function audit_events_link() | saas_admin | PUBLIC=X
function audit_events_refuse_change() | saas_admin | PUBLIC=X
function auth_credential_state(text,uuid,uuid,uuid,timestamp with time zone) | saas_auth |
function auth_end_session(text,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_find_customer_key(text) | saas_auth | saas_app=X
function auth_find_operator_key(text) | saas_auth | saas_app=X
function auth_find_user(text) | saas_auth | saas_app=X
function auth_key_session_state(text,uuid,uuid,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_key_state(text,uuid,uuid,timestamp with time zone) | saas_auth |
function auth_open_session(text,text,uuid,uuid,timestamp with time zone,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_open_session2(text,text,uuid,uuid,uuid,integer,timestamp with time zone,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_open_session3(text,text,uuid,uuid,uuid,integer,timestamp with time zone,timestamp with time zone,text,text,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_operator_session_state(text,uuid,uuid,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_purge_sessions(integer) | saas_auth | saas_app=X saas_operator=X
function auth_refresh_holder(text) | saas_auth | saas_app=X saas_operator=X
function auth_refresh_session(text,text,timestamp with time zone,text,timestamp with time zone,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_request_state(text,uuid,uuid,text,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_request_state2(text,uuid,uuid,uuid,text,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_revoke_family(text,timestamp with time zone) | saas_auth |
function auth_revoke_sessions(text[],timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function auth_user_session_state(text,uuid,uuid,timestamp with time zone) | saas_auth | saas_app=X saas_operator=X
function billing_period_lock_key(text,date) | saas_admin | PUBLIC=X
function customers_suspension_ends_sessions() | saas_auth |
function detach_expired_usage_partitions(integer) | saas_admin | saas_operator=X
function enable_tenant_rls(regclass,text) | saas_admin |
function ensure_usage_partitions(integer) | saas_admin | saas_operator=X
function ingest_usage_events(jsonb) | saas_admin | saas_app=X
function invoice_lines_refuse_frozen_new() | saas_admin | PUBLIC=X
function invoice_lines_refuse_frozen_old() | saas_admin | PUBLIC=X
function invoice_lines_refuse_truncate() | saas_admin | PUBLIC=X
function invoices_refuse_frozen_change() | saas_admin | PUBLIC=X
function purge_expired_audit_events() | saas_audit_purge | saas_operator=X
function usage_partition_create(date) | saas_admin |
function usage_partition_for_ingest(date) | saas_admin | saas_app=X
function verify_audit_chain(uuid) | saas_admin | PUBLIC=X
table api_keys | saas_admin | saas_app=arw saas_operator=arw
table audit_events | saas_admin | saas_analytics=r saas_app=ar saas_audit_purge=rd saas_operator=ar
table auth_session_families | saas_admin | saas_auth=arwd
table auth_sessions | saas_admin | saas_auth=arwd
table billing_runs | saas_admin | saas_analytics=r saas_operator=arw
table customers | saas_admin | saas_analytics=r saas_app=r saas_operator=arw
table invoice_lines | saas_admin | saas_analytics=r saas_app=r saas_operator=arwd
table invoice_number_counters | saas_admin | saas_analytics=r saas_operator=r
table invoice_number_counters_by_customer | saas_admin | saas_analytics=r saas_app=r saas_operator=arw
table invoices | saas_admin | saas_analytics=r saas_app=r saas_operator=arw
table metrics | saas_admin | saas_analytics=r saas_app=r saas_operator=r
table notifications | saas_admin | saas_analytics=r saas_app=arw saas_operator=arw
table operator_api_keys | saas_admin |
table operators | saas_admin | saas_analytics=r saas_operator=arw
table payment_attempts | saas_admin | saas_analytics=r saas_app=r saas_operator=arw
table payment_customers | saas_admin | saas_analytics=r saas_app=arw saas_operator=r
table schema_migrations | saas_admin | saas_analytics=r
table stripe_events | saas_admin | saas_analytics=r saas_operator=ar
table support_ticket_comments | saas_admin | saas_analytics=r saas_app=ar saas_operator=arw
table support_tickets | saas_admin | saas_analytics=r saas_app=arw saas_operator=arw
table tier_features | saas_admin | saas_analytics=r saas_app=r saas_operator=r
table tier_prices | saas_admin | saas_analytics=r saas_app=r saas_operator=r
table tiers | saas_admin | saas_analytics=r saas_app=r saas_operator=r
table usage_alerts | saas_admin | saas_analytics=r saas_app=ard saas_operator=r
table usage_event_archives | saas_admin | saas_analytics=r saas_operator=r
table usage_event_keys | saas_admin | saas_analytics=r saas_app=ar saas_operator=r
table usage_events | saas_admin | saas_analytics=r saas_app=ar saas_operator=arw
table usage_monthly | saas_admin | saas_analytics=r saas_app=arw saas_operator=arw
table usage_retention | saas_admin | saas_analytics=r saas_operator=r
table user_invitations | saas_admin | saas_app=arw saas_operator=ar
table user_recovery_codes | saas_admin | saas_app=arwd
table user_tokens | saas_admin | saas_app=arw
table users | saas_admin | saas_app=arwd
table webhook_deliveries | saas_admin | saas_analytics=r saas_app=arw saas_operator=arw
table webhook_delivery_attempts | saas_admin | saas_analytics=r saas_app=ar saas_operator=ar
table webhook_endpoints | saas_admin | saas_app=arw saas_operator=r
table webhook_events | saas_admin | saas_analytics=r saas_app=ar saas_operator=ar
"""


def _grants(rows) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    found: dict[tuple[str, str], tuple[str, dict[str, set[str]]]] = {}
    for row in rows:
        _, grants = found.setdefault((row["kind"], row["name"]), (row["owner"], {}))
        if row["grantee"] is not None:
            letter = _LETTERS[row["privilege_type"]] + ("*" if row["is_grantable"] else "")
            grants.setdefault(row["grantee"], set()).add(letter)
    return {
        key: (owner, {g: "".join(sorted(p, key=lambda x: _ORDER.index(x[0]))) for g, p in grants.items()})
        for key, (owner, grants) in found.items()
    }


def _render(snapshot) -> list[str]:
    return [
        f"{kind} {name} | {owner} | " + " ".join(f"{g}={p}" for g, p in sorted(grants.items()))
        for (kind, name), (owner, grants) in sorted(snapshot.items())
    ]


def test_i11_2_privilege_snapshot_of_every_function_table_sequence_and_column(admin_conn):
    actual = [line.rstrip() for line in _render(_grants(admin_conn.execute(SNAPSHOT).fetchall()))]
    expected = [line.strip() for line in EXPECTED.strip().splitlines()]
    assert actual == expected, "\n".join(["unexpected privileges (actual):", *actual])


EXPECTED_ROLES = [
    # (role, login, bypassrls, superuser, createrole, createdb, member of)
    # SET only: to hand them functions (and grant on the purge as its owner)
    ("saas_admin", False, False, False, False, False, "saas_audit_purge+set saas_auth+set"),
    ("saas_analytics", False, False, False, False, False, ""),
    ("saas_app", False, False, False, False, False, ""),
    ("saas_app_user", True, False, False, False, False, "saas_app+inherit+set saas_operator+set"),
    ("saas_audit_purge", False, False, False, False, False, ""),
    ("saas_auth", False, False, False, False, False, ""),
    ("saas_operator", False, False, False, False, False, ""),
]


def test_i11_2_role_attributes_and_memberships(admin_conn):
    rows = admin_conn.execute(ROLES).fetchall()
    actual = [
        (
            r["rolname"],
            r["rolcanlogin"],
            r["rolbypassrls"],
            r["rolsuper"],
            r["rolcreaterole"],
            r["rolcreatedb"],
            r["member_of"],
        )
        for r in rows
    ]
    assert actual == EXPECTED_ROLES


@pytest.fixture
def as_role(admin_url):
    """A connection acting as ``role`` (SET ROLE from the superuser): what a login holding it could do."""
    connections = []

    def connect(role: str) -> psycopg.Connection:
        conn = psycopg.connect(admin_url, autocommit=True)
        conn.execute(f"SET ROLE {role}")  # fixed names from this file only
        connections.append(conn)
        return conn

    yield connect
    for conn in connections:
        conn.close()


CALLS = [
    "SELECT * FROM auth_find_customer_key('x')",
    "SELECT * FROM auth_find_operator_key('x')",
    "SELECT auth_revoke_sessions(ARRAY['jti'], now() + interval '1 day')",
    (
        "SELECT * FROM auth_open_session('jti', 'operator', gen_random_uuid(), gen_random_uuid(),"
        " now() + interval '1 day', now())"
    ),
    "SELECT * FROM auth_request_state('customer', gen_random_uuid(), gen_random_uuid(), 'jti', now())",
    "SELECT auth_purge_sessions(10)",
    "SELECT * FROM auth_key_state('customer', gen_random_uuid(), gen_random_uuid(), now())",
    (
        "SELECT * FROM auth_open_session3('jti', 'operator', gen_random_uuid(), gen_random_uuid(), NULL, NULL,"
        " now() + interval '1 day', now(), 'key', repeat('a', 64), now() + interval '7 days')"
    ),
    "SELECT * FROM auth_refresh_holder(repeat('a', 64))",
    (
        "SELECT * FROM auth_refresh_session(repeat('a', 64), 'jti', now() + interval '1 day', repeat('b', 64),"
        " now() + interval '7 days', now())"
    ),
    "SELECT auth_end_session('jti', now() + interval '7 days')",
    "SELECT auth_revoke_family('jti', now() + interval '7 days')",
    "SELECT * FROM auth_key_session_state('jti', gen_random_uuid(), gen_random_uuid(), now())",
    "SELECT * FROM auth_user_session_state('jti', gen_random_uuid(), gen_random_uuid(), now())",
    "SELECT * FROM auth_operator_session_state('jti', gen_random_uuid(), gen_random_uuid(), now())",
]


@pytest.mark.parametrize("role", ["saas_analytics", "saas_admin", "saas_auth_outsider"])
@pytest.mark.parametrize("call", CALLS)
def test_i11_2_roles_without_a_grant_cannot_call_the_security_definer_auth_functions(as_role, admin_conn, role, call):
    if role == "saas_auth_outsider":  # a brand-new login: what PUBLIC alone allows
        admin_conn.execute("DROP ROLE IF EXISTS saas_auth_outsider")
        admin_conn.execute("CREATE ROLE saas_auth_outsider LOGIN")
    try:
        with pytest.raises(pg_errors.InsufficientPrivilege):
            as_role(role).execute(call)
    finally:
        if role == "saas_auth_outsider":
            admin_conn.execute("DROP ROLE IF EXISTS saas_auth_outsider")


def test_i11_2_the_app_role_still_authenticates_through_them(as_role):
    conn = as_role("saas_app")
    assert conn.execute("SELECT * FROM auth_find_customer_key('nobody')").fetchall() == []
    assert conn.execute("SELECT * FROM auth_find_operator_key('nobody')").fetchall() == []
    with pytest.raises(pg_errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM auth_key_state('customer', gen_random_uuid(), gen_random_uuid(), now())")
    assert conn.execute("SELECT * FROM auth_refresh_holder(repeat('a', 64))").fetchall() == []
    with pytest.raises(pg_errors.InsufficientPrivilege):  # a helper of the two below: no family by name
        conn.execute("SELECT auth_revoke_family('jti', now() + interval '7 days')")


def test_i11_10_analytics_reads_keys_but_never_their_hashes(as_role, key_row):
    conn = as_role("saas_analytics")
    customer_id, key_id, _ = key_row
    assert conn.execute("SELECT customer_id FROM api_keys WHERE id = %s", (key_id,)).fetchone()[0] == customer_id
    conn.execute("SELECT id, public_id, revoked_at FROM operator_api_keys LIMIT 1")
    for table in ("api_keys", "operator_api_keys"):
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(f"SELECT secret_hash FROM {table} LIMIT 1")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(f"SELECT * FROM {table} LIMIT 1")


def test_i11_11_the_operator_role_lists_creates_and_revokes_operator_keys_but_never_rehashes_or_extends_them(
    as_role, admin_conn
):
    operator_id = admin_conn.execute(
        "INSERT INTO operators (name, email) VALUES ('Grants', %s) RETURNING id",
        (f"grants-{uuid.uuid4().hex[:8]}@saas.local",),
    ).fetchone()["id"]
    conn = as_role("saas_operator")
    key_id = conn.execute(
        "INSERT INTO operator_api_keys (operator_id, name, public_id, secret_hash)"
        " VALUES (%s, 'k', %s, '$2b$04$x') RETURNING id, created_at",
        (operator_id, uuid.uuid4().hex[:12]),
    ).fetchone()[0]
    conn.execute(
        "SELECT id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at"
        " FROM operator_api_keys WHERE id = %s FOR UPDATE",
        (key_id,),
    )
    conn.execute("UPDATE operator_api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
    conn.execute("UPDATE operator_api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
    for statement in (
        "SELECT secret_hash FROM operator_api_keys",
        "SELECT * FROM operator_api_keys",
        "UPDATE operator_api_keys SET secret_hash = 'x'",
        "UPDATE operator_api_keys SET expires_at = NULL",
        "UPDATE operator_api_keys SET operator_id = operator_id",
        "DELETE FROM operator_api_keys",
    ):
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(statement)
