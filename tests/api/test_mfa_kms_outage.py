"""A KMS outage (docs/RELIABILITY.md, "KMS unavailable"): only what needs an MFA secret answers 503.

MFA secrets are sealed with KMS (``auth.secret_box``), so enrolling, the MFA
login step and disabling MFA cannot be done without it: they answer ``503``
with ``Retry-After`` and change nothing, so the same request works afterwards.
Password-only logins, the password step and key authentication never call KMS
and go on. The outage is injected at the local AWS endpoint
(``LocalAws.outage("kms")``: every call signed for KMS gets ``503``).
"""

from __future__ import annotations

import json
import math

import pytest

from chalicelib.core import aws
from tests.api.test_login_mfa import JSON, PASSWORD, _bearer, _enrol, _post, auth_clock, person

__all__ = ["auth_clock", "person"]  # fixtures shared with test_login_mfa


@pytest.fixture
def kms_outage(stack):
    """``with kms_outage() as faults:`` KMS answers 503; every breaker is closed before and after."""
    aws.reset_breakers()
    yield lambda: stack.aws.outage("kms")
    aws.reset_breakers()


def _is_503_with_retry_after(response) -> bool:
    return response.status_code == 503 and response.headers.get("Retry-After") == str(math.ceil(aws.COOLDOWN_S))


def _user_row(admin_conn, user_id) -> dict:
    return admin_conn.execute(
        "SELECT mfa_enabled, mfa_secret, mfa_pending_secret FROM users WHERE id = %s", (user_id,)
    ).fetchone()


def test_mfa_paths_answer_503_and_change_nothing_while_password_and_key_logins_go_on(
    client, person, admin_conn, auth_clock, kms_outage
):
    customer, mfa_id, with_mfa = person()
    _, pair = _post(client, "/auth/login", {"email": with_mfa, "password": PASSWORD})
    _, totp, _ = _enrol(client, pair["token"], auth_clock)
    _, pending_id, enrolling = person(customer=customer)
    _, enrolling_pair = _post(client, "/auth/login", {"email": enrolling, "password": PASSWORD})
    assert _post(client, "/users/me/mfa", {}, enrolling_pair["token"])[0] == 201  # a pending enrolment
    pending_before = _user_row(admin_conn, pending_id)
    auth_clock.step()  # a code whose step is not used yet
    code = totp.at(auth_clock.now)

    with kms_outage() as faults:
        # The password step needs no KMS: the challenge is issued.
        status, challenge = _post(client, "/auth/login", {"email": with_mfa, "password": PASSWORD})
        assert status == 200 and challenge["mfa_required"] is True, challenge
        body = json.dumps({"mfa_token": challenge["mfa_token"], "code": code})
        mfa_step = client.http.post("/auth/mfa", headers=JSON, body=body)
        assert _is_503_with_retry_after(mfa_step), (mfa_step.status_code, mfa_step.body)
        assert faults.refused.get("kms", 0) >= 1  # the outage was really in the way
        disabled = client.http.delete("/users/me/mfa", headers=_bearer(pair["token"]), body=json.dumps({"code": code}))
        assert _is_503_with_retry_after(disabled), (disabled.status_code, disabled.body)
        enrol = client.http.post("/users/me/mfa", headers=_bearer(enrolling_pair["token"]), body="{}")
        assert _is_503_with_retry_after(enrol), (enrol.status_code, enrol.body)
        confirm = client.http.post(
            "/users/me/mfa/confirm", headers=_bearer(enrolling_pair["token"]), body=json.dumps({"code": "123456"})
        )
        assert _is_503_with_retry_after(confirm), (confirm.status_code, confirm.body)
        # A person without MFA logs in with a password; a key authenticates.
        status, password_only = _post(client, "/auth/login", {"email": enrolling, "password": PASSWORD})
        assert status == 200 and "token" in password_only, password_only
        status, by_key = _post(client, "/auth/authenticate", {"api_key": customer.api_key})
        assert status == 200 and "token" in by_key, by_key

    assert _user_row(admin_conn, pending_id) == pending_before, "a refused enrolment stores nothing"
    assert _user_row(admin_conn, mfa_id)["mfa_enabled"], "MFA stays on"
    aws.reset_breakers()  # the outage is over; a new process would not remember it either
    # The challenge was neither spent nor counted: the same request now logs in.
    status, logged_in = _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": code})
    assert status == 200, logged_in
