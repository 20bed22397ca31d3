"""Customer rules: the caller's profile, onboarding (with the first API key), administration.

Suspension takes effect when the status commits: the authentication guard
reads ``customers.status`` on every request, so every process answers 403 on
the customer's next request. After the commit the customer's cached key
verifications are deleted (``auth.revocation.after_keys_changed``).

A tenant changes one setting itself (``PATCH /customers/me``: ``require_mfa``,
enforced by the permission guard on the next request); everything else about a
customer is the operator's. Onboarding may name the tenant's first owner
(``owner_email``): the owner's invitation is created and its e-mail queued in
the onboarding transaction, so every tenant can get a person in.

Operators' reads are audited too: reading one customer is an
``operator.customer_read`` event on that customer's own chain (the customer
sees it in ``GET /audit-events``); a page of the customer list is one
``operator.customers_listed`` event on the platform chain naming the customers
it showed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.audit import recorder
from chalicelib.auth.revocation import after_keys_changed
from chalicelib.catalog import repository as catalog
from chalicelib.core import db, errors
from chalicelib.core.context import TenantRole
from chalicelib.core.db import Connection
from chalicelib.core.pagination import keyset_page
from chalicelib.customers import repository
from chalicelib.customers.models import (
    CustomerListQuery,
    CustomerPage,
    CustomerResponse,
    MeResponse,
    OnboardBody,
    OnboardResponse,
    PatchCustomerBody,
    PatchMeBody,
)
from chalicelib.keys import repository as keys_repository
from chalicelib.keys import service as keys_service
from chalicelib.users import service as users_service

FIRST_KEY_NAME = "default"


def _tax_rate(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        rate = Decimal(raw)
    except InvalidOperation as exc:
        raise errors.BadRequest("tax_rate must be a decimal string") from exc
    if not Decimal(0) <= rate < Decimal(1):
        raise errors.Unprocessable("tax_rate must be at least 0 and below 1")
    return rate


def me(customer_id: uuid.UUID) -> MeResponse:
    with db.tenant_transaction(customer_id) as conn:
        row = repository.get_own(conn)
        if row is None:
            raise errors.NotFound("Customer not found")
        return _me(conn, row)


def _me(conn: Connection, row: dict[str, Any]) -> MeResponse:
    features = catalog.features(conn, row["tier_code"])
    return MeResponse.model_validate({**row, "features": features.values, "limits": features.limits})


def change_settings(customer_id: uuid.UUID, body: PatchMeBody) -> MeResponse:
    """The tenant's own settings (``require_mfa``); audited when it changes. Answers as ``GET /customers/me``."""
    with db.tenant_transaction(customer_id) as conn:
        before = repository.get_own(conn, for_update=True)
        if before is None:
            raise errors.NotFound("Customer not found")
        if before["require_mfa"] == body.require_mfa:
            return _me(conn, before)
        after = repository.set_require_mfa(conn, body.require_mfa)
        if after is None:  # the locked row is there: cannot happen
            raise errors.NotFound("Customer not found")
        recorder.record(
            conn,
            customer_id=customer_id,
            action="customer.settings_changed",
            target_type="customer",
            target_id=customer_id,
            detail={"require_mfa": body.require_mfa},
        )
        return _me(conn, after)


def onboard(body: OnboardBody) -> OnboardResponse:
    """Create a customer and its first API key (returned once); with ``owner_email``, invite its first owner."""
    rate = _tax_rate(body.tax_rate)
    with db.operator_transaction() as conn:
        if not catalog.tier_exists(conn, body.tier):
            raise errors.Unprocessable(f"Unknown tier {body.tier!r}")
        row = repository.insert(
            conn,
            name=body.name,
            email=body.email,
            tier=body.tier,
            tax_rate=rate,
            billing_start_date=body.billing_start_date,
        )
        recorder.record(
            conn,
            customer_id=row["id"],
            action="customer.created",
            target_type="customer",
            target_id=row["id"],
            detail={
                "tier": row["tier_code"],
                "email": row["email"],
                "billing_start_date": row["billing_start_date"].isoformat(),
            },
        )
        key = keys_service.issue_key(
            conn, customer_id=row["id"], name=FIRST_KEY_NAME, expires_at=None, role=TenantRole.ADMIN
        )
        invitation = notification_id = None
        if body.owner_email is not None:
            invitation, notification_id = users_service.issue_invitation(
                conn, customer_id=row["id"], email=body.owner_email, role=TenantRole.OWNER, company_name=row["name"]
            )
    if notification_id is not None:
        users_service.send_now(row["id"], notification_id)
    return OnboardResponse(
        customer=CustomerResponse.model_validate(row),
        api_key=key.model_dump(mode="json"),
        owner_invitation=invitation,
    )


def get(customer_id: uuid.UUID) -> CustomerResponse:
    with db.operator_transaction() as conn:
        row = repository.get(conn, customer_id)
        if row is not None:
            recorder.record(
                conn,
                customer_id=customer_id,
                action="operator.customer_read",
                target_type="customer",
                target_id=customer_id,
            )
    if row is None:
        raise errors.NotFound("Customer not found")
    return CustomerResponse.model_validate(row)


def list_customers(query: CustomerListQuery) -> CustomerPage:
    """Every customer, newest first; the page shown is audited (on the platform chain) with its customers."""
    with db.operator_transaction() as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
        if rows:
            recorder.record(
                conn,
                customer_id=None,
                action="operator.customers_listed",
                target_type="customer",
                detail={"customer_ids": [str(row["id"]) for row in rows]},
            )
    return CustomerPage(items=[CustomerResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def change(customer_id: uuid.UUID, body: PatchCustomerBody) -> CustomerResponse:
    """Apply a PATCH; a suspension also drops the customer's cached verifications (after commit)."""
    rate = _tax_rate(body.tax_rate)
    with db.operator_transaction() as conn:
        before = repository.get(conn, customer_id, for_update=True)
        if before is None:
            raise errors.NotFound("Customer not found")
        if body.tier is not None and not catalog.tier_exists(conn, body.tier):
            raise errors.Unprocessable(f"Unknown tier {body.tier!r}")
        after = repository.update(
            conn, customer_id, tier=body.tier, status=body.status, tax_rate=rate, email=body.email
        )
        changes = {
            field: {"from": str(before[column]), "to": str(after[column])}
            for field, column in (
                ("tier", "tier_code"),
                ("status", "status"),
                ("tax_rate", "tax_rate"),
                ("email", "email"),
            )
            if before[column] != after[column]
        }
        if changes:
            recorder.record(
                conn,
                customer_id=customer_id,
                action="customer.changed",
                target_type="customer",
                target_id=customer_id,
                detail={"changes": changes},
            )
        suspended_keys = (
            keys_repository.ids_of_customer(conn, customer_id)
            if "status" in changes and after["status"] == "suspended"
            else []
        )
    after_keys_changed(suspended_keys)
    return CustomerResponse.model_validate(after)
