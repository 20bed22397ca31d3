"""The invitation and password-reset e-mails: link, token, role and expiry in both bodies, HTML escaped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.core.contract import Env
from chalicelib.core.settings import reset_settings
from chalicelib.notifications.service import _check
from chalicelib.users.emails import invitation_message, password_reset_message

CUSTOMER = uuid.UUID("00000000-0000-4000-8000-000000000001")
INVITATION = uuid.UUID("00000000-0000-4000-8000-000000000002")
USER = uuid.UUID("00000000-0000-4000-8000-000000000003")
TOKEN = "inv_Abc-123_xyz"
EXPIRES = datetime(2026, 5, 8, 14, 3, 59, tzinfo=UTC)


@pytest.fixture(autouse=True)
def portal(monkeypatch):
    monkeypatch.setenv(Env.PORTAL_URL, "https://portal.example.com/")
    reset_settings()
    yield
    reset_settings()


def invitation(company="Acme Inc.", token=TOKEN, invitation_id=INVITATION):
    return invitation_message(
        customer_id=CUSTOMER,
        invitation_id=invitation_id,
        email="dev@acme.example",
        role="developer",
        token=token,
        expires_at=EXPIRES,
        company_name=company,
    )


def reset(token=TOKEN):
    return password_reset_message(
        customer_id=CUSTOMER, user_id=USER, email="dev@acme.example", token=token, expires_at=EXPIRES
    )


def test_invitation_carries_link_token_role_and_expiry():
    message = invitation()
    assert message.subject == "You're invited to Acme Inc. on SaaS Platform"
    assert (message.customer_id, message.recipient) == (CUSTOMER, "dev@acme.example")
    for body in (message.text_body, message.html_body):
        assert "https://portal.example.com/accept-invitation?token=inv_Abc-123_xyz" in body
        assert "POST /users/accept-invitation" in body
        assert TOKEN in body
        assert "developer" in body
        assert "Acme Inc." in body
        assert "2026-05-08 14:03 UTC" in body
        assert "7 days" in body


def test_invitation_names_the_invitation_and_is_queued_once_per_invitation():
    message = invitation()
    _check(message)  # what queue_email(s) accepts: identifier template/type, address, one-line subject
    assert (message.template, message.related_type, message.related_id) == (
        "user_invitation",
        "user_invitation",
        INVITATION,
    )
    assert message.idempotency_key == f"user_invitation:{INVITATION}"
    assert invitation(invitation_id=uuid.uuid4()).idempotency_key != message.idempotency_key


def test_html_escapes_every_value_and_the_text_keeps_it():
    message = invitation(company='<b>&"Co"')
    assert message.html_body is not None
    assert "<b>&" not in message.html_body
    assert "&lt;b&gt;&amp;&quot;Co&quot;" in message.html_body
    assert '<b>&"Co"' in message.text_body
    assert message.subject == 'You\'re invited to <b>&"Co" on SaaS Platform'


def test_a_company_name_cannot_break_the_subject_line():
    message = invitation(company="Acme\r\nBcc: x@evil.example")
    assert "\r" not in message.subject and "\n" not in message.subject
    _check(message)


def test_the_token_is_percent_encoded_in_the_link_and_escaped_in_html():
    message = invitation(token="a+b/c&d=e")
    assert "accept-invitation?token=a%2Bb%2Fc%26d%3De" in message.text_body
    assert message.html_body is not None
    assert "a+b/c&amp;d=e" in message.html_body and "a+b/c&d=e" not in message.html_body


def test_password_reset_carries_link_token_expiry_and_ignore_hint():
    message = reset()
    _check(message)
    assert message.subject == "Reset your SaaS Platform password"
    for body in (message.text_body, message.html_body):
        assert "https://portal.example.com/reset-password?token=inv_Abc-123_xyz" in body
        assert TOKEN in body
        assert "2026-05-08 14:03 UTC" in body
        assert "1 hour" in body
        assert "If you did not ask for this, ignore this e-mail" in body
    assert (message.template, message.related_type, message.related_id) == ("password_reset", "user", USER)


def test_each_reset_token_is_its_own_e_mail_and_the_key_never_holds_the_token():
    first, again, other = reset(), reset(), reset(token="another-token")
    assert first.idempotency_key == again.idempotency_key
    assert first.idempotency_key != other.idempotency_key
    assert first.idempotency_key.startswith(f"password_reset:{USER}:")
    assert TOKEN not in first.idempotency_key
