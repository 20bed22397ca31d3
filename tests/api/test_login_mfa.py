"""People log in (issue 13): passwords, TOTP MFA with replay refusal, recovery codes, resets, sessions.

Users are created here straight in PostgreSQL (the invitation flow has its own
tests); everything after that goes through the HTTP API. Authentication's
clock (``auth.clock``) is set per test to whole TOTP steps in the recent past,
so codes are computed for known steps and no test straddles a step boundary
(the past, because the JWT library refuses a token issued in the future).
"""

from __future__ import annotations

import base64
import json
import re
import types
import uuid

import pyotp
import pytest

from chalicelib.auth import clock, login, passwords, throttle
from chalicelib.core import errors
from chalicelib.core.settings import get_settings
from tests.billing_support import moto_ses_messages

JSON = {"Content-Type": "application/json"}
PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def step(self, steps: int = 1) -> None:
        self.now += 30 * steps


@pytest.fixture
def auth_clock(monkeypatch):
    """Authentication's clock, stopped at the start of a TOTP step four steps ago."""
    import time

    start = float(int(time.time()) // 30 * 30 - 120)
    fake = Clock(start)
    monkeypatch.setattr(clock, "time", types.SimpleNamespace(time=fake.time))
    return fake


@pytest.fixture
def person(admin_conn, new_customer):
    """Factory: a user of a new customer, straight in PostgreSQL; returns (customer, user id, e-mail)."""

    def make(role: str = "owner", customer=None):
        customer = customer or new_customer()
        email = f"p-{uuid.uuid4().hex[:12]}@example.test"
        password_hash = passwords.hash_password(PASSWORD, get_settings().bcrypt_cost)
        user_id = admin_conn.execute(
            "INSERT INTO users (customer_id, email, name, role, password_hash) VALUES (%s, %s, 'P', %s, %s)"
            " RETURNING id",
            (customer.customer_id, email, role, password_hash),
        ).fetchone()["id"]
        return customer, user_id, email

    return make


def _post(client, path, body, token=None):
    headers = dict(JSON)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = client.http.post(path, headers=headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body) if response.body else None


def _bearer(token):
    return {**JSON, "Authorization": f"Bearer {token}"}


def _claims(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def _enrol(client, token, auth_clock):
    status, enrolment = _post(client, "/users/me/mfa", {}, token)
    assert status == 201, enrolment
    totp = pyotp.TOTP(enrolment["secret"])
    status, confirmed = _post(client, "/users/me/mfa/confirm", {"code": totp.at(auth_clock.now)}, token)
    assert status == 200, confirmed
    return enrolment, totp, confirmed["recovery_codes"]


def test_a_person_without_mfa_logs_in_and_acts_with_their_role(client, person, auth_clock):
    customer, user_id, email = person(role="billing")
    status, pair = _post(client, "/auth/login", {"email": email.upper(), "password": PASSWORD})
    assert status == 200, pair
    claims = _claims(pair["token"])
    assert claims["sub"] == str(customer.customer_id) and claims["role"] == "customer"
    assert claims["user_id"] == str(user_id) and claims["tenant_role"] == "billing" and claims["amr"] == ["pwd"]
    assert claims["key_id"] is None
    assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 200
    # billing may not send usage (the role table), and the answer is 403
    assert _post(client, "/metrics", {"events": []}, pair["token"])[0] == 403


def test_wrong_password_and_unknown_address_get_the_same_401(client, person, auth_clock):
    _, _, email = person()
    wrong = client.http.post("/auth/login", headers=JSON, body=json.dumps({"email": email, "password": "nope" * 4}))
    unknown = client.http.post(
        "/auth/login", headers=JSON, body=json.dumps({"email": "nobody@example.test", "password": PASSWORD})
    )
    assert wrong.status_code == unknown.status_code == 401
    assert json.loads(wrong.body) == json.loads(unknown.body)


def test_mfa_enrolment_login_replay_and_recovery_codes(client, person, admin_conn, auth_clock):
    customer, user_id, email = person()
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    enrolment, totp, codes = _enrol(client, pair["token"], auth_clock)
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = admin_conn.execute("SELECT mfa_secret, mfa_enabled FROM users WHERE id = %s", (user_id,)).fetchone()
    assert stored["mfa_enabled"] and enrolment["secret"].encode() not in bytes(stored["mfa_secret"])
    hashes = admin_conn.execute("SELECT code_hash FROM user_recovery_codes WHERE user_id = %s", (user_id,)).fetchall()
    assert len(hashes) == 10 and not {h["code_hash"] for h in hashes} & set(codes)

    # The code that confirmed enrolment cannot log in (its step is used).
    status, challenge = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200 and challenge["mfa_required"] is True and challenge["expires_in"] == 300
    assert _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": totp.at(auth_clock.now)})[0] == 401
    # The next step's code does; the same code again (new challenge) is a replay.
    auth_clock.step()
    code = totp.at(auth_clock.now)
    status, mfa_pair = _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": code})
    assert status == 200, mfa_pair
    assert _claims(mfa_pair["token"])["amr"] == ["pwd", "otp"]
    _, again = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    assert _post(client, "/auth/mfa", {"mfa_token": again["mfa_token"], "code": code})[0] == 401
    # A spent challenge is single use.
    auth_clock.step()
    assert _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": totp.at(auth_clock.now)})[0] == 401
    # A recovery code works once (formatting forgiven), and is then spent.
    _, third = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    status, recovered = _post(client, "/auth/mfa", {"mfa_token": third["mfa_token"], "code": codes[0].upper()})
    assert status == 200, recovered
    _, fourth = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    assert _post(client, "/auth/mfa", {"mfa_token": fourth["mfa_token"], "code": codes[0]})[0] == 401
    actions = [
        r["action"]
        for r in admin_conn.execute(
            "SELECT action FROM audit_events WHERE customer_id = %s ORDER BY occurred_at, id", (customer.customer_id,)
        ).fetchall()
    ]
    for action in ("user.mfa_enrolment_started", "user.mfa_enabled", "auth.succeeded", "auth.mfa_failed"):
        assert action in actions


def test_an_mfa_token_allows_five_wrong_codes_then_dies(client, person, auth_clock):
    _, _, email = person()
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    _, totp, _ = _enrol(client, pair["token"], auth_clock)
    auth_clock.step()
    _, challenge = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    for _ in range(login.MFA_ATTEMPTS):
        assert _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": "000000"})[0] == 401
    good = totp.at(auth_clock.now)
    assert _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": good})[0] == 401


def test_disabling_mfa_ends_every_session_of_the_person(client, person, auth_clock):
    _, _, email = person()
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    _, totp, _ = _enrol(client, pair["token"], auth_clock)
    auth_clock.step()
    assert _post(client, "/auth/mfa", {"mfa_token": "mfa_x", "code": "123456"})[0] == 401
    response = client.http.delete("/users/me/mfa", headers=_bearer(pair["token"]), body=json.dumps({"code": "999999"}))
    assert response.status_code == 400
    response = client.http.delete(
        "/users/me/mfa", headers=_bearer(pair["token"]), body=json.dumps({"code": totp.at(auth_clock.now)})
    )
    assert response.status_code == 204, response.body
    assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 401
    assert _post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 401
    status, fresh = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200 and "token" in fresh  # no MFA any more


def test_an_api_key_has_no_mfa(client, new_customer):
    customer = new_customer()
    assert client.http.post("/users/me/mfa", headers=customer.headers, body="{}").status_code == 404


def test_require_mfa_refuses_a_person_without_a_second_factor_but_lets_them_enrol(
    client, person, admin_conn, auth_clock
):
    customer, _, email = person()
    admin_conn.execute("UPDATE customers SET require_mfa = true WHERE id = %s", (customer.customer_id,))
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    refused = client.http.get("/customers/me", headers=_bearer(pair["token"]))
    assert refused.status_code == 403 and "multi-factor" in json.loads(refused.body)["Message"]
    # API keys are not people: unaffected.
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 200
    _, totp, _ = _enrol(client, pair["token"], auth_clock)
    # Still the password-only session: log in again with the second factor.
    assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 403
    auth_clock.step()
    _, challenge = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    _, mfa_pair = _post(client, "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": totp.at(auth_clock.now)})
    assert client.http.get("/customers/me", headers=_bearer(mfa_pair["token"])).status_code == 200
    assert client.http.post("/auth/logout", headers=_bearer(pair["token"])).status_code == 204


def test_refresh_and_logout_work_for_people_and_an_epoch_change_ends_the_family(client, person, admin_conn, auth_clock):
    _, user_id, email = person()
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    status, refreshed = _post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert status == 200, refreshed
    assert _claims(refreshed["token"])["user_id"] == str(user_id)
    assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 401  # refreshed away
    assert client.http.get("/customers/me", headers=_bearer(refreshed["token"])).status_code == 200
    # A role change moves the epoch (the users area does it on PATCH): the session and its refresh die.
    admin_conn.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = %s", (user_id,))
    assert client.http.get("/customers/me", headers=_bearer(refreshed["token"])).status_code == 401
    assert _post(client, "/auth/refresh", {"refresh_token": refreshed["refresh_token"]})[0] == 401
    _, second = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    assert client.http.post("/auth/logout", headers=_bearer(second["token"])).status_code == 204
    assert client.http.get("/customers/me", headers=_bearer(second["token"])).status_code == 401


def test_a_removed_person_is_refused_at_once(client, person, admin_conn, auth_clock):
    _, user_id, email = person(role="viewer")
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    admin_conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
    assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 401
    assert _post(client, "/auth/login", {"email": email, "password": PASSWORD})[0] == 401


def _reset_token(stack, email):
    """The newest reset token e-mailed to ``email`` (read from the local SES, as the person would)."""
    bodies = [str(getattr(m, "body", "")) for m in moto_ses_messages(stack, email)]
    return re.findall(r"pwr_[0-9a-f]{32}_[A-Za-z0-9_-]{43}", bodies[-1])[0]


def test_password_reset_by_e_mail_ends_every_session(client, stack, person, admin_conn, auth_clock):
    customer, _, email = person()
    _, pair = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
    known = client.http.post("/auth/password-reset", headers=JSON, body=json.dumps({"email": email}))
    nobody = client.http.post("/auth/password-reset", headers=JSON, body=json.dumps({"email": "nobody@example.test"}))
    assert known.status_code == nobody.status_code == 202 and known.body == nobody.body
    token = _reset_token(stack, email)
    # Sent: the stored e-mail no longer holds the token in clear (only its hash is kept).
    stored = admin_conn.execute(
        "SELECT status, text_body, html_body FROM notifications WHERE customer_id = %s AND template = 'password_reset'",
        (customer.customer_id,),
    ).fetchone()
    assert stored["status"] == "sent" and token not in stored["text_body"] and stored["html_body"] is None
    assert _post(client, "/auth/password-reset/confirm", {"token": token, "password": "short"})[0] == 400
    new_password = "a brand new passphrase"
    assert _post(client, "/auth/password-reset/confirm", {"token": token, "password": new_password})[0] == 204
    assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 401
    assert _post(client, "/auth/password-reset/confirm", {"token": token, "password": new_password})[0] == 400
    assert _post(client, "/auth/login", {"email": email, "password": PASSWORD})[0] == 401
    assert _post(client, "/auth/login", {"email": email, "password": new_password})[0] == 200
    assert _post(client, "/auth/password-reset/confirm", {"token": "pwr_garbage", "password": new_password})[0] == 400


def test_failed_logins_lock_out_one_address_for_one_account_not_the_person(person, auth_clock):
    _, _, email = person()
    for _ in range(throttle.MAX_FAILURES):
        with pytest.raises(errors.Unauthorized):
            login.login(email, "wrong password!", client_address="198.51.100.7")
    with pytest.raises(errors.RateLimited):
        login.login(email, PASSWORD, client_address="198.51.100.7")
    # The person, from their own address, is not locked out.
    assert login.login(email, PASSWORD, client_address="203.0.113.9").token
