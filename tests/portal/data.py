"""The data a portal journey needs, made through the API as a customer or the operator would.

Usage is ingested with ``POST /metrics`` and invoices made by the operator's
billing run (tests/e2e/payments_support.py has the same routes for the
payments journey, reused here); e-mails are read from the local SES over HTTP
(``{aws_endpoint_url}/moto-api/data.json``), TOTP codes computed with pyotp
from the secret the portal shows. Nothing here imports the runtime's
services: the stack is reached as from outside, with ``stack.json``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyotp

from tests.e2e.payments_support import Api, finalize, ingest, onboard, previous_month

__all__ = [
    "Api",
    "Tenant",
    "email_link",
    "emails_to",
    "finalize",
    "ingest",
    "ingest_now",
    "invoice_last_month",
    "new_tenant",
    "previous_month",
    "room_in_this_step",
    "totp_code",
    "wait_for_email",
]

PASSWORD = "portal journey passphrase"
TOTP_STEP_S = 30
EMAIL_WAIT_S = 10.0  # e-mails go right after their commits; a moment's grace for a busy machine
INVITATION_TOKEN = re.compile(r"inv_[0-9a-f]{32}_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Tenant:
    """A customer of its own (a journey's data never meets another's) with a person who can log in."""

    customer: dict[str, Any]
    admin_token: str  # a session of the onboarding key (role admin)
    email: str  # the person: invited with ``role``, accepted, no MFA
    password: str
    role: str


def ingest_now(api: Api, token: str, usage: dict[str, int]) -> None:
    """``usage`` (metric → quantity) as one event per metric, timestamped now: this month's usage."""
    moment = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    events = [
        {"event_id": uuid.uuid4().hex, "metric": metric, "quantity": quantity, "timestamp": moment}
        for metric, quantity in usage.items()
    ]
    answer = api.call("POST", "/metrics", {"events": events}, token)
    assert answer == {"accepted": len(events), "duplicates": 0}, answer


def emails_to(aws_endpoint_url: str, recipient: str) -> list[dict[str, Any]]:
    """Every e-mail the local SES accepted for ``recipient``, oldest first (moto's records: ``body``, ``subject``)."""
    with urllib.request.urlopen(f"{aws_endpoint_url}/moto-api/data.json", timeout=30) as response:
        messages: list[dict[str, Any]] = json.loads(response.read())["ses"]["Message"]
    return [m for m in messages if recipient in m["destinations"].get("ToAddresses", [])]


def wait_for_email(aws_endpoint_url: str, recipient: str, pattern: str | re.Pattern[str]) -> re.Match[str]:
    """The first match of ``pattern`` in the newest e-mail to ``recipient`` that has one (briefly polled)."""
    deadline = time.monotonic() + EMAIL_WAIT_S
    while True:
        for message in reversed(emails_to(aws_endpoint_url, recipient)):
            found = re.search(pattern, message["body"])
            if found:
                return found
        assert time.monotonic() < deadline, f"no e-mail to {recipient} matching {pattern!r} in the local SES"
        time.sleep(0.2)


def email_link(aws_endpoint_url: str, recipient: str, page: str) -> str:
    """The path and query of the newest e-mailed portal link to ``page`` (e.g. ``/accept-invitation?token=...``).

    Only the path is returned: the journey opens it on the ``portal_url`` it
    tests, whatever base the stack puts in its e-mails.
    """
    page = page.strip("/")
    found = wait_for_email(
        aws_endpoint_url, recipient, rf"https?://[^\s\"'<>]*?(/{re.escape(page)}\?token=[^\s\"'<>]+)"
    )
    return found.group(1)


def totp_code(secret: str, steps_back: int = 0) -> str:
    """The TOTP code of the current step (or ``steps_back`` steps before: the server accepts ±1 step)."""
    return pyotp.TOTP(secret).at(time.time() - steps_back * TOTP_STEP_S)


def room_in_this_step(seconds: float) -> None:
    """Wait for the next TOTP step when fewer than ``seconds`` are left of this one (a wait, not a check).

    A code is accepted once: enrol with ``totp_code(secret, 1)`` and log in
    with ``totp_code(secret)`` right after, calling this first so both land
    in the steps they were computed for.
    """
    left = TOTP_STEP_S - time.time() % TOTP_STEP_S
    if left < seconds:
        time.sleep(left + 0.2)


def new_tenant(
    api: Api,
    operator_token: str,
    aws_endpoint_url: str,
    role: str = "admin",
    billing_start: date | None = None,
    name: str = "Portal Journey Co",
) -> Tenant:
    """A new starter customer (billed from ``billing_start``, default the first of last month) with a person.

    The person is invited by the onboarding key with ``role`` (an admin key
    may invite any role but owner), accepts through the API with the e-mailed
    token, and has no MFA yet. The journey logs them in with ``login(...)``.
    """
    start = billing_start or previous_month(datetime.now(UTC))[1]
    customer, admin_token = onboard(api, operator_token, name, start)
    email = f"person-{uuid.uuid4().hex[:12]}@example.test"
    api.call("POST", "/users/invitations", {"email": email, "role": role}, admin_token)
    token = wait_for_email(aws_endpoint_url, email, INVITATION_TOKEN).group(0)
    api.call("POST", "/users/accept-invitation", {"token": token, "name": "Pat Portal", "password": PASSWORD})
    return Tenant(customer, admin_token, email, PASSWORD, role)


def new_owner_tenant(api: Api, operator_token: str, aws_endpoint_url: str, name: str) -> Tenant:
    """A new starter customer billed from the first of last month whose first owner has accepted the invitation.

    ``new_tenant`` cannot make an owner (its person is invited by the onboarding
    key, an admin, and only an owner makes an owner): here the operator onboards
    naming ``owner_email``, and the owner accepts with the e-mailed token. The
    onboarding key's session (role admin) arranges the tenant's data.
    """
    owner = f"owner-{uuid.uuid4().hex[:10]}@example.test"
    start = previous_month(datetime.now(UTC))[1]
    customer, admin_token = onboard(api, operator_token, name, start, owner_email=owner)
    token = wait_for_email(aws_endpoint_url, owner, INVITATION_TOKEN).group(0)
    api.call("POST", "/users/accept-invitation", {"token": token, "name": "Olive Owner", "password": PASSWORD})
    return Tenant(customer, admin_token, owner, PASSWORD, "owner")


def invoice_last_month(api: Api, operator_token: str, tenant: Tenant, usage: dict[str, int]) -> dict[str, Any]:
    """Last month's usage for the tenant, billed by the operator's finalizing run: the invoice in full.

    The run finalizes every customer's invoice for that month (the stack is
    the test module's own). Without a card the invoice stays ``finalized``.
    """
    period, first = previous_month(datetime.now(UTC))
    ingest(api, tenant.admin_token, first + timedelta(days=1), usage)
    finalize(api, operator_token, period)
    page = api.call("GET", "/invoices?limit=100", token=tenant.admin_token)
    [summary] = [item for item in page["items"] if item["period"] == period]
    invoice: dict[str, Any] = api.call("GET", f"/invoices/{summary['id']}", token=tenant.admin_token)
    return invoice
