"""The e-mails people at a tenant receive: an invitation, a password reset (text + HTML, from templates here).

Both are :class:`EmailMessage` values the users service queues with
``notifications.queue_email``/``queue_emails`` in the transaction that creates
the invitation or the reset token, so an e-mail exists exactly when its token
was committed, and the notifications jobs deliver it like the invoice e-mail
(``billing.invoice_email``, whose templating and escaping this follows).

The message carries the token in clear (the user needs it), and so does the
queued notification's body; the token tables keep only its hash. Nothing here
logs it, and the idempotency key is derived from the token's digest, never the
token (a message ``queue_emails`` refuses is logged by its key).
"""

from __future__ import annotations

import functools
import hashlib
import html
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from urllib.parse import quote

from chalicelib.core.settings import get_settings
from chalicelib.notifications.models import EmailMessage

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Named in subjects and bodies (the OpenAPI document's title names the API the same way).
PLATFORM_NAME = "SaaS Platform"

INVITATION_TEMPLATE = "user_invitation"
PASSWORD_RESET_TEMPLATE = "password_reset"
# How long each token is valid (the contract: 7 days, 1 hour); the service sets ``expires_at`` with them.
INVITATION_VALID_FOR = timedelta(days=7)
PASSWORD_RESET_VALID_FOR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text_body: str
    html_body: str


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def _render(name: str, values: dict[str, str]) -> tuple[str, str]:
    """The text body (values as they are) and the HTML body (every value escaped, quotes too)."""
    text = _template(f"{name}.txt").substitute(values)
    body = _template(f"{name}.html").substitute({key: html.escape(value) for key, value in values.items()})
    return text, body


def _link(page: str, token: str) -> str:
    """``<portal>/<page>?token=...``: the token percent-encoded, whatever alphabet it is drawn from."""
    return f"{get_settings().portal_url.rstrip('/')}/{page}?token={quote(token, safe='')}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        days = span // timedelta(days=1)
        return f"valid for {days} day{'s' if days != 1 else ''}"
    hours = span // timedelta(hours=1)
    return f"valid for {hours} hour{'s' if hours != 1 else ''}"


def render_invitation(*, email: str, role: str, token: str, expires_at: datetime, company_name: str) -> RenderedEmail:
    """Render the invitation: the portal link, the token for API users, the role and the expiry."""
    values = {
        "company_name": company_name,
        "platform": PLATFORM_NAME,
        "email": email,
        "role": role,
        "token": token,
        "link": _link("accept-invitation", token),
        "expires_at": _when(expires_at),
        "valid_for": _duration(INVITATION_VALID_FOR),
    }
    text, body = _render("invitation", values)
    # The subject is one header line: a company name cannot break it (or inject a header).
    subject = f"You're invited to {' '.join(company_name.split())} on {PLATFORM_NAME}"
    return RenderedEmail(subject=subject, text_body=text, html_body=body)


def render_password_reset(*, email: str, token: str, expires_at: datetime) -> RenderedEmail:
    """Render the reset e-mail: the portal link, the token, the expiry, and "ignore it if not you"."""
    values = {
        "platform": PLATFORM_NAME,
        "email": email,
        "token": token,
        "link": _link("reset-password", token),
        "expires_at": _when(expires_at),
        "valid_for": _duration(PASSWORD_RESET_VALID_FOR),
    }
    text, body = _render("password_reset", values)
    return RenderedEmail(subject=f"Reset your {PLATFORM_NAME} password", text_body=text, html_body=body)


def invitation_message(
    *,
    customer_id: uuid.UUID,
    invitation_id: uuid.UUID,
    email: str,
    role: str,
    token: str,
    expires_at: datetime,
    company_name: str,
) -> EmailMessage:
    """The e-mail to queue for a new invitation (idempotent per invitation: its id is unique)."""
    rendered = render_invitation(email=email, role=role, token=token, expires_at=expires_at, company_name=company_name)
    return EmailMessage(
        customer_id=customer_id,
        template=INVITATION_TEMPLATE,
        recipient=email,
        subject=rendered.subject,
        text_body=rendered.text_body,
        html_body=rendered.html_body,
        idempotency_key=f"user_invitation:{invitation_id}",
        related_type="user_invitation",
        related_id=invitation_id,
    )


def password_reset_message(
    *, customer_id: uuid.UUID, user_id: uuid.UUID, email: str, token: str, expires_at: datetime
) -> EmailMessage:
    """The e-mail to queue for a password-reset token.

    A user may ask again, so the key names the token, not the user: a digest of it,
    never the token itself. Queuing the same token twice sends one e-mail; a new
    request (a new token) sends a new one.
    """
    rendered = render_password_reset(email=email, token=token, expires_at=expires_at)
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
    return EmailMessage(
        customer_id=customer_id,
        template=PASSWORD_RESET_TEMPLATE,
        recipient=email,
        subject=rendered.subject,
        text_body=rendered.text_body,
        html_body=rendered.html_body,
        idempotency_key=f"password_reset:{user_id}:{digest}",
        related_type="user",
        related_id=user_id,
    )
