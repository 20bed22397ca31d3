"""Migration 0039 in the database itself: the lifecycle's arrows and the freeze, for every role.

    draft -> finalized -> paid | void | uncollectible,   uncollectible -> paid | void

A finalized (or uncollectible) invoice keeps its amounts, lines and dates; only
its payment columns and its status (along the arrows) may change. Paid and
void are terminal. The superuser (``admin_conn``) is refused like everyone.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from chalicelib.core import db

REFUSED = psycopg.errors.ObjectNotInPrerequisiteState


@pytest.fixture
def invoice(admin_conn, make_customer):
    """Factory: a one-line invoice of a fresh customer in ``status`` (reached along the arrows); its id."""

    def create(status: str = "finalized") -> uuid.UUID:
        customer_id = make_customer()
        invoice_id = admin_conn.execute(
            "INSERT INTO invoices (customer_id, number, period, tier_code, tax_rate, subtotal, discount, tax, total)"
            " VALUES (%s, 'INV-2031-000001', '2031-01-01', 'starter', 0.08, 100, 0, 8, 108) RETURNING id",
            (customer_id,),
        ).fetchone()["id"]
        admin_conn.execute(
            "INSERT INTO invoice_lines (invoice_id, customer_id, position, description, quantity, unit_price, amount)"
            " VALUES (%s, %s, 1, 'Starter plan base fee', 1, 100, 100)",
            (invoice_id, customer_id),
        )
        path = {
            "draft": [],
            "finalized": ["finalized"],
            "paid": ["finalized", "paid"],
            "void": ["finalized", "void"],
            "uncollectible": ["finalized", "uncollectible"],
        }[status]
        for step in path:
            admin_conn.execute(
                "UPDATE invoices SET status = %s,"
                " finalized_at = coalesce(finalized_at, now()), due_at = coalesce(due_at, now() + interval '30 days')"
                " WHERE id = %s",
                (step, invoice_id),
            )
        return invoice_id

    return create


def status_of(admin_conn, invoice_id) -> str:
    return admin_conn.execute("SELECT status FROM invoices WHERE id = %s", (invoice_id,)).fetchone()["status"]


def test_the_status_check_names_the_five_statuses_and_the_payment_columns_exist(admin_conn, invoice):
    [check] = admin_conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE conrelid = 'invoices'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%%status%%'"
        " AND pg_get_constraintdef(oid) NOT LIKE '%%payment_status%%'"
    ).fetchall()
    assert check["conname"] == "invoices_status_check"
    for status in ("draft", "finalized", "paid", "void", "uncollectible"):
        assert f"'{status}'" in check["definition"]
    columns = {
        row["column_name"]: row
        for row in admin_conn.execute(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns"
            " WHERE table_name = 'invoices'"
        )
    }
    assert columns["amount_paid"]["is_nullable"] == "NO" and columns["amount_paid"]["column_default"] == "0"
    assert columns["payment_attempts"]["is_nullable"] == "NO"
    for name in (
        "paid_at",
        "payment_status",
        "next_payment_attempt_at",
        "voided_at",
        "void_reason",
        "payment_reference",
    ):
        assert columns[name]["is_nullable"] == "YES", name
    invoice_id = invoice("finalized")
    for change in ("payment_status = 'maybe'", "amount_paid = -1", "payment_attempts = -1"):
        with pytest.raises(psycopg.errors.CheckViolation):
            admin_conn.execute(f"UPDATE invoices SET {change} WHERE id = %s", (invoice_id,))


@pytest.mark.parametrize("status", ["finalized", "uncollectible"])
def test_a_finalized_invoice_keeps_its_amounts_and_dates_whatever_else_changes(admin_conn, invoice, status):
    invoice_id = invoice(status)
    for change in (
        "total = total + 1, subtotal = subtotal + 1",
        "tax_rate = 0",
        "due_at = due_at + interval '1 day'",
        "finalized_at = now() - interval '1 day'",
        "number = 'INV-2031-999999'",
        # A status move does not carry an amount change with it.
        "status = 'paid', total = total + 1, subtotal = subtotal + 1",
    ):
        with pytest.raises(REFUSED):
            admin_conn.execute(f"UPDATE invoices SET {change} WHERE id = %s", (invoice_id,))
    with pytest.raises(REFUSED), db.operator_transaction() as conn:
        conn.execute("UPDATE invoices SET discount = discount + 1, total = total - 1 WHERE id = %s", (invoice_id,))
    with pytest.raises(REFUSED):
        admin_conn.execute("UPDATE invoice_lines SET amount = amount + 1 WHERE invoice_id = %s", (invoice_id,))
    with pytest.raises(REFUSED):
        admin_conn.execute("DELETE FROM invoices WHERE id = %s", (invoice_id,))
    assert status_of(admin_conn, invoice_id) == status


@pytest.mark.parametrize("status", ["finalized", "uncollectible"])
def test_the_payment_columns_of_an_unpaid_invoice_may_change(admin_conn, invoice, status):
    invoice_id = invoice(status)
    with db.operator_transaction() as conn:
        conn.execute(
            "UPDATE invoices SET payment_status = 'failed', payment_attempts = payment_attempts + 1,"
            " next_payment_attempt_at = now() + interval '3 days', payment_reference = 'ch_1', updated_at = now()"
            " WHERE id = %s",
            (invoice_id,),
        )
    row = admin_conn.execute("SELECT * FROM invoices WHERE id = %s", (invoice_id,)).fetchone()
    assert (row["status"], row["payment_status"], row["payment_attempts"]) == (status, "failed", 1)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("draft", "finalized"),
        ("finalized", "paid"),
        ("finalized", "void"),
        ("finalized", "uncollectible"),
        ("uncollectible", "paid"),
        ("uncollectible", "void"),
    ],
)
def test_the_status_moves_along_the_arrows(admin_conn, invoice, start, target):
    invoice_id = invoice(start)
    with db.operator_transaction() as conn:
        conn.execute(
            "UPDATE invoices SET status = %s, finalized_at = coalesce(finalized_at, now()),"
            " due_at = coalesce(due_at, now()), paid_at = CASE WHEN %s = 'paid' THEN now() END,"
            " amount_paid = CASE WHEN %s = 'paid' THEN total ELSE 0 END WHERE id = %s",
            (target, target, target, invoice_id),
        )
    assert status_of(admin_conn, invoice_id) == target


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("draft", "paid"),
        ("draft", "void"),
        ("draft", "uncollectible"),
        ("finalized", "draft"),
        ("uncollectible", "finalized"),
        ("uncollectible", "draft"),
        ("paid", "void"),
        ("paid", "finalized"),
        ("paid", "uncollectible"),
        ("void", "paid"),
        ("void", "finalized"),
        ("void", "draft"),
    ],
)
def test_every_other_move_is_refused(admin_conn, invoice, start, target):
    invoice_id = invoice(start)
    with pytest.raises(REFUSED, match="cannot go from"):
        admin_conn.execute("UPDATE invoices SET status = %s WHERE id = %s", (target, invoice_id))
    assert status_of(admin_conn, invoice_id) == start


@pytest.mark.parametrize("status", ["paid", "void"])
def test_paid_and_void_are_terminal_even_for_payment_columns(admin_conn, invoice, status):
    invoice_id = invoice(status)
    for change in ("payment_status = 'succeeded'", "updated_at = now()", "amount_paid = 1", "void_reason = 'x'"):
        with pytest.raises(REFUSED):
            admin_conn.execute(f"UPDATE invoices SET {change} WHERE id = %s", (invoice_id,))
    with pytest.raises(REFUSED):
        admin_conn.execute("DELETE FROM invoices WHERE id = %s", (invoice_id,))
    assert status_of(admin_conn, invoice_id) == status


def test_the_tenant_role_cannot_move_its_own_invoice(invoice, admin_conn):
    invoice_id = invoice("finalized")
    customer_id = admin_conn.execute("SELECT customer_id FROM invoices WHERE id = %s", (invoice_id,)).fetchone()[
        "customer_id"
    ]
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.tenant_transaction(customer_id) as conn:
        conn.execute("UPDATE invoices SET status = 'paid' WHERE id = %s", (invoice_id,))
    assert status_of(admin_conn, invoice_id) == "finalized"
