"""The payments area's SQL, on the caller's connection.

``payment_customers`` is written in the tenant's own transaction (its card);
everything that charges or follows a charge (``payment_attempts``, the
invoices' payment columns, ``stripe_events``) runs in operator transactions,
because only they may move an invoice (migrations 0039, 0040).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.db import Connection
from chalicelib.payments.models import Card

# ---------------------------------------------------------------- the tenant's Stripe customer and card

PAYMENT_CUSTOMER = "SELECT * FROM payment_customers WHERE customer_id = %(customer)s"

PROFILE = "SELECT name, email FROM customers WHERE id = %(customer)s"

INSERT_PAYMENT_CUSTOMER = """
INSERT INTO payment_customers (customer_id, stripe_customer_id) VALUES (%(customer)s, %(stripe)s)
ON CONFLICT (customer_id) DO NOTHING
RETURNING customer_id
"""

SET_CARD = """
UPDATE payment_customers
   SET default_payment_method_id = %(pm)s, brand = %(brand)s, last4 = %(last4)s, exp_month = %(exp_month)s,
       exp_year = %(exp_year)s, updated_at = now()
 WHERE customer_id = %(customer)s
"""


def payment_customer(conn: Connection, customer_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(PAYMENT_CUSTOMER, {"customer": customer_id}).fetchone()


def profile(conn: Connection, customer_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(PROFILE, {"customer": customer_id}).fetchone()


def insert_payment_customer(conn: Connection, customer_id: uuid.UUID, stripe_customer_id: str) -> bool:
    """Record the tenant's Stripe customer; ``False`` when a concurrent first request's row was there first."""
    inserted = conn.execute(INSERT_PAYMENT_CUSTOMER, {"customer": customer_id, "stripe": stripe_customer_id})
    return inserted.fetchone() is not None


def set_card(conn: Connection, customer_id: uuid.UUID, card: Card) -> None:
    card_fields = {"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month, "exp_year": card.exp_year}
    conn.execute(SET_CARD, {"customer": customer_id, "pm": card.payment_method_id, **card_fields})


# ---------------------------------------------------------------- which invoices to charge

# Finalized invoices owed by a customer with a card: never tried, or whose outcome is unknown
# ('pending': claimed, and the claim may have died), or failed and due again.
_CHARGEABLE = """
  FROM invoices i
  JOIN payment_customers p ON p.customer_id = i.customer_id AND p.default_payment_method_id IS NOT NULL
 WHERE i.status = 'finalized' AND i.total >= %(minimum)s
"""

DUE = (
    "SELECT i.id, i.finalized_at"
    + _CHARGEABLE
    + """
   AND (i.payment_status IS NULL OR i.payment_status = 'pending'
        OR (i.payment_status = 'failed' AND i.next_payment_attempt_at <= %(as_of)s))
   AND (%(period)s::date IS NULL OR i.period = %(period)s::date)
   AND (%(after_at)s::timestamptz IS NULL OR (i.finalized_at, i.id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))
 ORDER BY i.finalized_at, i.id
 LIMIT %(limit)s
"""
)

# A new card: every invoice the customer still owes, given up on (uncollectible) or not.
OPEN_FOR_CUSTOMER = """
SELECT i.id
  FROM invoices i
 WHERE i.customer_id = %(customer)s AND i.status IN ('finalized', 'uncollectible') AND i.total >= %(minimum)s
   AND i.payment_status IS DISTINCT FROM 'succeeded'
 ORDER BY i.period, i.id
 LIMIT %(limit)s
"""


def due(
    conn: Connection,
    *,
    as_of: datetime,
    minimum: Decimal,
    limit: int,
    period: date | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[tuple[datetime, uuid.UUID]]:
    """Up to ``limit`` invoices to charge now, oldest first, as ``(finalized_at, id)`` keys: a keyset page
    after ``after`` (``period``: that month's only)."""
    after_at, after_id = after or (None, None)
    params = {"as_of": as_of, "minimum": minimum, "limit": limit, "period": period}
    rows = conn.execute(DUE, params | {"after_at": after_at, "after_id": after_id}).fetchall()
    return [(row["finalized_at"], row["id"]) for row in rows]


def open_for_customer(conn: Connection, customer_id: uuid.UUID, *, minimum: Decimal, limit: int) -> list[uuid.UUID]:
    rows = conn.execute(OPEN_FOR_CUSTOMER, {"customer": customer_id, "minimum": minimum, "limit": limit}).fetchall()
    return [row["id"] for row in rows]


# ---------------------------------------------------------------- claiming and recording an attempt

LOCK_FOR_CHARGE = """
SELECT i.id, i.customer_id, i.number, i.status, i.total, i.currency, i.payment_status, i.payment_attempts,
       p.stripe_customer_id, p.default_payment_method_id
  FROM invoices i LEFT JOIN payment_customers p ON p.customer_id = i.customer_id
 WHERE i.id = %(invoice)s
   FOR UPDATE OF i
"""

LATEST_ATTEMPT = """
SELECT attempt, status, stripe_payment_method_id, coalesce(claimed_until > now(), false) AS in_flight
  FROM payment_attempts WHERE invoice_id = %(invoice)s ORDER BY attempt DESC LIMIT 1
"""

INSERT_ATTEMPT = """
INSERT INTO payment_attempts (customer_id, invoice_id, attempt, stripe_payment_method_id, amount, currency,
                              claimed_until)
VALUES (%(customer)s, %(invoice)s, %(attempt)s, %(pm)s, %(amount)s, %(currency)s,
        now() + make_interval(secs => %(lease_s)s))
"""

RECLAIM_ATTEMPT = """
UPDATE payment_attempts SET claimed_until = now() + make_interval(secs => %(lease_s)s)
 WHERE invoice_id = %(invoice)s AND attempt = %(attempt)s AND status = 'pending'
"""

# Stripe could not be reached: the outcome is unknown, the same attempt is repeated later.
RELEASE_ATTEMPT = """
UPDATE payment_attempts SET claimed_until = NULL
 WHERE invoice_id = %(invoice)s AND attempt = %(attempt)s AND status = 'pending'
"""

INVOICE_PENDING = """
UPDATE invoices SET payment_status = 'pending', payment_attempts = %(attempt)s, next_payment_attempt_at = NULL,
                    updated_at = now()
 WHERE id = %(invoice)s
"""

FINISH_ATTEMPT = """
UPDATE payment_attempts
   SET status = %(status)s, failure_code = %(failure_code)s, finished_at = now(), claimed_until = NULL,
       stripe_payment_intent_id = coalesce(%(pi)s, stripe_payment_intent_id)
 WHERE invoice_id = %(invoice)s AND attempt = %(attempt)s AND status = 'pending'
RETURNING attempt
"""

# An attempt Stripe has not decided (processing): the webhook says; re-asked after the lease.
AWAIT_ATTEMPT = """
UPDATE payment_attempts
   SET stripe_payment_intent_id = coalesce(%(pi)s, stripe_payment_intent_id),
       claimed_until = now() + interval '1 day'
 WHERE invoice_id = %(invoice)s AND attempt = %(attempt)s AND status = 'pending'
"""

INVOICE_FAILED = """
UPDATE invoices SET payment_status = 'failed', next_payment_attempt_at = %(next_at)s, updated_at = now()
 WHERE id = %(invoice)s
"""

# For the payment-failed e-mail and event: the invoice and whom to tell.
INVOICE_NOTICE = """
SELECT i.id, i.number, i.period, i.status, i.total, i.currency, i.due_at, c.name AS customer_name,
       c.email AS customer_email
  FROM invoices i JOIN customers c ON c.id = i.customer_id
 WHERE i.id = %(invoice)s
"""


def lock_for_charge(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(LOCK_FOR_CHARGE, {"invoice": invoice_id}).fetchone()


def latest_attempt(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(LATEST_ATTEMPT, {"invoice": invoice_id}).fetchone()


def insert_attempt(conn: Connection, row: dict[str, Any], *, lease_s: float) -> None:
    conn.execute(INSERT_ATTEMPT, row | {"lease_s": lease_s})


def reclaim_attempt(conn: Connection, invoice_id: uuid.UUID, attempt: int, *, lease_s: float) -> None:
    conn.execute(RECLAIM_ATTEMPT, {"invoice": invoice_id, "attempt": attempt, "lease_s": lease_s})


def release_attempt(conn: Connection, invoice_id: uuid.UUID, attempt: int) -> None:
    conn.execute(RELEASE_ATTEMPT, {"invoice": invoice_id, "attempt": attempt})


def invoice_pending(conn: Connection, invoice_id: uuid.UUID, attempt: int) -> None:
    conn.execute(INVOICE_PENDING, {"invoice": invoice_id, "attempt": attempt})


def finish_attempt(
    conn: Connection,
    invoice_id: uuid.UUID,
    attempt: int,
    *,
    status: str,
    payment_intent_id: str | None,
    failure_code: str | None,
) -> bool:
    """Record a pending attempt's outcome; ``False`` when it was already recorded (by a webhook, say)."""
    row = conn.execute(
        FINISH_ATTEMPT,
        {
            "invoice": invoice_id,
            "attempt": attempt,
            "status": status,
            "pi": payment_intent_id,
            "failure_code": None if failure_code is None else failure_code[:100],
        },
    ).fetchone()
    return row is not None


def await_attempt(conn: Connection, invoice_id: uuid.UUID, attempt: int, payment_intent_id: str | None) -> None:
    conn.execute(AWAIT_ATTEMPT, {"invoice": invoice_id, "attempt": attempt, "pi": payment_intent_id})


def invoice_failed(conn: Connection, invoice_id: uuid.UUID, next_at: datetime | None) -> None:
    conn.execute(INVOICE_FAILED, {"invoice": invoice_id, "next_at": next_at})


def invoice_notice(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(INVOICE_NOTICE, {"invoice": invoice_id}).fetchone()


# ---------------------------------------------------------------- Stripe's webhooks

RECORD_EVENT = """
INSERT INTO stripe_events (id, type) VALUES (%(id)s, %(type)s) ON CONFLICT (id) DO NOTHING RETURNING id
"""

# The attempt a PaymentIntent is: by its id, or by the invoice and attempt its metadata names.
ATTEMPT_FOR_INTENT = """
SELECT a.invoice_id, a.customer_id, a.attempt, a.status, a.amount, a.stripe_payment_intent_id,
       p.stripe_customer_id
  FROM payment_attempts a JOIN payment_customers p ON p.customer_id = a.customer_id
 WHERE a.stripe_payment_intent_id = %(pi)s
    OR (a.stripe_payment_intent_id IS NULL AND a.invoice_id = %(invoice)s AND a.attempt = %(attempt)s)
 ORDER BY (a.stripe_payment_intent_id = %(pi)s) DESC NULLS LAST
 LIMIT 1
"""


NAME_INTENT = """
UPDATE payment_attempts SET stripe_payment_intent_id = %(pi)s
 WHERE invoice_id = %(invoice)s AND attempt = %(attempt)s AND stripe_payment_intent_id IS NULL
"""

# Stripe reports a success for an attempt we recorded as failed: Stripe's word is the money's.
OVERTURN_ATTEMPT = """
UPDATE payment_attempts SET status = 'succeeded', failure_code = NULL, stripe_payment_intent_id = %(pi)s
 WHERE invoice_id = %(invoice)s AND attempt = %(attempt)s AND status = 'failed'
RETURNING attempt
"""


def name_intent(conn: Connection, invoice_id: uuid.UUID, attempt: int, payment_intent_id: str) -> None:
    """Fill in the PaymentIntent of an attempt whose answer did not name it (a decline's)."""
    conn.execute(NAME_INTENT, {"invoice": invoice_id, "attempt": attempt, "pi": payment_intent_id})


def overturn_attempt(conn: Connection, invoice_id: uuid.UUID, attempt: int, payment_intent_id: str) -> bool:
    row = conn.execute(OVERTURN_ATTEMPT, {"invoice": invoice_id, "attempt": attempt, "pi": payment_intent_id})
    return row.fetchone() is not None


def record_event(conn: Connection, event_id: str, event_type: str) -> bool:
    """Remember a Stripe event; ``False`` when it was received before (a replay: change nothing)."""
    return conn.execute(RECORD_EVENT, {"id": event_id, "type": event_type[:200]}).fetchone() is not None


def attempt_for_intent(
    conn: Connection, payment_intent_id: str, invoice_id: uuid.UUID | None, attempt: int | None
) -> dict[str, Any] | None:
    return conn.execute(
        ATTEMPT_FOR_INTENT, {"pi": payment_intent_id, "invoice": invoice_id, "attempt": attempt}
    ).fetchone()
