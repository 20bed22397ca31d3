"""One row per tenant table for a given customer, created as superuser (behind RLS's back).

``TENANT_TABLES`` lists every table that carries tenant data, with what the
application role may do to it. A test in test_rls.py fails when a table with a
``customer_id`` column is missing here, so a new tenant table cannot slip in
without isolation tests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class TenantTable:
    name: str
    tenant_column: str
    app_can_insert: bool
    app_can_update: bool
    # A harmless UPDATE of every visible row (used to prove other tenants' rows are untouchable).
    touch_sql: str


TENANT_TABLES: tuple[TenantTable, ...] = (
    TenantTable("customers", "id", False, False, "UPDATE customers SET name = name"),
    TenantTable("api_keys", "customer_id", True, True, "UPDATE api_keys SET name = 'touched'"),
    # Partitioned by month (migration 0043): through the parent; its partitions are test_rls.py's own tests.
    TenantTable("usage_events", "customer_id", True, False, "UPDATE usage_events SET quantity = quantity"),
    # Global idempotency keys of usage events (migration 0043).
    TenantTable("usage_event_keys", "customer_id", True, False, "UPDATE usage_event_keys SET period = period"),
    TenantTable("usage_monthly", "customer_id", True, True, "UPDATE usage_monthly SET quantity = quantity + 1"),
    TenantTable("invoices", "customer_id", False, False, "UPDATE invoices SET status = status"),
    TenantTable("invoice_lines", "customer_id", False, False, "UPDATE invoice_lines SET amount = amount"),
    TenantTable("support_tickets", "customer_id", True, True, "UPDATE support_tickets SET subject = 'touched'"),
    TenantTable(
        "support_ticket_comments", "customer_id", True, False, "UPDATE support_ticket_comments SET body = 'touched'"
    ),
    TenantTable("notifications", "customer_id", True, True, "UPDATE notifications SET subject = 'touched'"),
    TenantTable("audit_events", "customer_id", True, False, "UPDATE audit_events SET actor = 'touched'"),
    TenantTable(
        "invoice_number_counters_by_customer",
        "customer_id",
        False,
        False,
        "UPDATE invoice_number_counters_by_customer SET last_value = last_value",
    ),
    TenantTable("users", "customer_id", True, True, "UPDATE users SET name = 'touched'"),
    TenantTable("user_invitations", "customer_id", True, True, "UPDATE user_invitations SET role = role"),
    TenantTable("user_tokens", "customer_id", True, True, "UPDATE user_tokens SET failed_attempts = failed_attempts"),
    TenantTable("user_recovery_codes", "customer_id", True, True, "UPDATE user_recovery_codes SET used_at = now()"),
    TenantTable("webhook_endpoints", "customer_id", True, True, "UPDATE webhook_endpoints SET description = 'touched'"),
    TenantTable("webhook_events", "customer_id", True, False, "UPDATE webhook_events SET type = type"),
    TenantTable("webhook_deliveries", "customer_id", True, True, "UPDATE webhook_deliveries SET attempts = attempts"),
    TenantTable(
        "webhook_delivery_attempts", "customer_id", True, False, "UPDATE webhook_delivery_attempts SET succeeded = true"
    ),
    # The app may update last_fired_period only (ingestion's claim), never the tenant column.
    TenantTable(
        "usage_alerts", "customer_id", True, False, "UPDATE usage_alerts SET last_fired_period = last_fired_period"
    ),
    # The tenant records its Stripe customer and card; its payment attempts are the operator role's to write.
    TenantTable("payment_customers", "customer_id", True, True, "UPDATE payment_customers SET updated_at = now()"),
    TenantTable("payment_attempts", "customer_id", False, False, "UPDATE payment_attempts SET status = status"),
)

# INSERT statements that create one row of ``table`` for %(customer)s.
_INSERTS: dict[str, str] = {
    "api_keys": "INSERT INTO api_keys (customer_id, name, prefix, public_id, secret_hash)"
    " VALUES (%(customer)s, 'key', 'sk_test_', %(unique)s, 'not-a-real-hash')",
    "usage_events": "INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)"
    " VALUES (%(customer)s, %(unique)s, 'api_calls', 1, now(), date_trunc('month', now())::date)",
    "usage_event_keys": "INSERT INTO usage_event_keys (customer_id, event_id, period)"
    " VALUES (%(customer)s, %(unique)s, date_trunc('month', now())::date)",
    "usage_monthly": "INSERT INTO usage_monthly (customer_id, period, metric_code, quantity)"
    " VALUES (%(customer)s, date_trunc('month', now() - %(offset)s * interval '1 month')::date,"
    " 'api_calls', 1)",
    "invoices": "INSERT INTO invoices (customer_id, number, period, tier_code, tax_rate, subtotal, discount, tax, total)"
    " VALUES (%(customer)s, %(unique)s, date_trunc('month', now() - %(offset)s * interval '1 month')::date,"
    " 'starter', 0.08, 100, 0, 8, 108)",
    "invoice_lines": "INSERT INTO invoice_lines (invoice_id, customer_id, position, description, quantity, unit_price,"
    " amount) SELECT id, customer_id, 1, 'Base fee', 1, 100, 100 FROM invoices"
    " WHERE customer_id = %(customer)s ORDER BY created_at LIMIT 1",
    "support_tickets": "INSERT INTO support_tickets (customer_id, subject, body, created_by)"
    " VALUES (%(customer)s, 'subject', 'body', 'test')",
    "support_ticket_comments": "INSERT INTO support_ticket_comments (ticket_id, customer_id, author, body)"
    " VALUES (%(ticket)s, %(customer)s, 'test', 'comment')",
    "notifications": "INSERT INTO notifications (customer_id, template, recipient, subject, idempotency_key)"
    " VALUES (%(customer)s, 'test', 'a@example.test', 'subject', %(unique)s)",
    "audit_events": "INSERT INTO audit_events (customer_id, actor, action, target_type)"
    " VALUES (%(customer)s, 'test', 'test.seeded', 'test')",
    "invoice_number_counters_by_customer": "INSERT INTO invoice_number_counters_by_customer"
    " (customer_id, year, last_value)"
    " VALUES (%(customer)s, 1900 + %(offset)s, 1)",
    "users": "INSERT INTO users (customer_id, email, name, role, password_hash)"
    " VALUES (%(customer)s, %(unique)s || '@example.test', 'Person', 'viewer', 'not-a-real-hash')",
    "user_invitations": "INSERT INTO user_invitations (customer_id, email, role, token_hash, invited_by, expires_at)"
    " VALUES (%(customer)s, %(unique)s || '@example.test', 'viewer', %(unique)s, 'test', now() + interval '7 days')",
    "user_tokens": "INSERT INTO user_tokens (customer_id, user_id, purpose, token_hash, session_epoch, expires_at)"
    " VALUES (%(customer)s, %(user)s, 'password_reset', %(unique)s, 0, now() + interval '1 hour')",
    "user_recovery_codes": "INSERT INTO user_recovery_codes (customer_id, user_id, code_hash)"
    " VALUES (%(customer)s, %(user)s, %(unique)s)",
    "webhook_endpoints": "INSERT INTO webhook_endpoints (id, customer_id, url, events, secret_sealed)"
    " VALUES (gen_random_uuid(), %(customer)s, 'https://hooks.example.test/' || %(unique)s, ARRAY['invoice.created'],"
    " decode('00', 'hex'))",
    "webhook_events": "INSERT INTO webhook_events (id, customer_id, type, data)"
    " VALUES (gen_random_uuid(), %(customer)s, 'invoice.created', '{}')",
    "webhook_deliveries": "INSERT INTO webhook_deliveries (customer_id, endpoint_id, event_id)"
    " VALUES (%(customer)s, %(endpoint)s, %(event)s)",
    "webhook_delivery_attempts": "INSERT INTO webhook_delivery_attempts"
    " (customer_id, delivery_id, endpoint_id, event_id, attempt, succeeded)"
    " VALUES (%(customer)s, %(delivery)s, %(endpoint)s, %(event)s, 1 + %(offset)s, false)",
    "usage_alerts": "INSERT INTO usage_alerts (customer_id, metric_code, threshold)"
    " VALUES (%(customer)s, 'api_calls', 1000 + %(offset)s)",
    "payment_customers": "INSERT INTO payment_customers (customer_id, stripe_customer_id)"
    " VALUES (%(customer)s, 'cus_' || %(unique)s)",
    "payment_attempts": "INSERT INTO payment_attempts"
    " (customer_id, invoice_id, attempt, stripe_payment_method_id, amount, currency)"
    " SELECT customer_id, id, 1 + %(offset)s, 'pm_' || %(unique)s, 108, 'USD' FROM invoices"
    " WHERE customer_id = %(customer)s ORDER BY created_at LIMIT 1",
}
_ORDER = (
    "api_keys",
    "usage_events",
    "usage_event_keys",
    "usage_monthly",
    "invoices",
    "invoice_lines",
    "support_tickets",
    "support_ticket_comments",
    "notifications",
    "audit_events",
    "invoice_number_counters_by_customer",
    "users",
    "user_invitations",
    "user_tokens",
    "user_recovery_codes",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_delivery_attempts",
    "usage_alerts",
    "payment_customers",
    "payment_attempts",
)


def _ticket_of(conn: psycopg.Connection, customer_id: uuid.UUID) -> uuid.UUID | None:
    row = conn.execute("SELECT id FROM support_tickets WHERE customer_id = %s LIMIT 1", (customer_id,)).fetchone()
    return row[0] if row else None


def _user_of(conn: psycopg.Connection, customer_id: uuid.UUID) -> uuid.UUID | None:
    row = conn.execute("SELECT id FROM users WHERE customer_id = %s LIMIT 1", (customer_id,)).fetchone()
    return row[0] if row else None


def _webhook_ids(conn: psycopg.Connection, customer_id: uuid.UUID) -> dict[str, uuid.UUID | None]:
    """The customer's first webhook endpoint, event and delivery (what the webhook rows refer to)."""
    found: dict[str, uuid.UUID | None] = {}
    for name, table in (
        ("endpoint", "webhook_endpoints"),
        ("event", "webhook_events"),
        ("delivery", "webhook_deliveries"),
    ):
        row = conn.execute(
            psycopg.sql.SQL("SELECT id FROM {} WHERE customer_id = %s LIMIT 1").format(psycopg.sql.Identifier(table)),
            (customer_id,),
        ).fetchone()
        found[name] = row[0] if row else None
    return found


def seed_tenant(admin_url: str, customer_id: uuid.UUID, offset: int = 0) -> None:
    """Give ``customer_id`` one row in every tenant table (``offset`` keeps monthly keys distinct)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for table in _ORDER:
            params = {
                "customer": customer_id,
                "unique": uuid.uuid4().hex,
                "offset": offset,
                "ticket": _ticket_of(conn, customer_id),
                "user": _user_of(conn, customer_id),
                **_webhook_ids(conn, customer_id),
            }
            conn.execute(_INSERTS[table], params)


def insert_for(conn: psycopg.Connection, table: str, customer_id: uuid.UUID, admin_url: str) -> None:
    """Attempt, on ``conn``, the insert of one ``table`` row for ``customer_id``."""
    with psycopg.connect(admin_url) as admin:
        ticket = _ticket_of(admin, customer_id)
        user = _user_of(admin, customer_id)
        webhooks = _webhook_ids(admin, customer_id)
    params = {"customer": customer_id, "unique": uuid.uuid4().hex, "offset": 7, "ticket": ticket, "user": user}
    params |= webhooks
    conn.execute(_INSERTS[table], params)
