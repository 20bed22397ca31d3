"""Issue 13, done when: people's flows work end to end over HTTP against ``make run``.

The stack runs in its own process (``conftest.local_stack``); this test is a
client from outside, with nothing but ``stack.json``: the demo owner logs in
with the printed credentials, invites a developer, the invitation e-mail is
read from the local SES over HTTP (``aws_endpoint_url``), the person accepts,
logs in, enrols MFA with codes computed from the secret, logs in with a TOTP
code (the same code again is a replay, refused) and with a recovery code; the
owner makes them a viewer, which ends their session at once, and their next
session is a viewer's. The audit trail records each step.

TOTP codes come from the real clock the server reads: enrolment is confirmed
with the previous step's code (the contract accepts ±1 step), so the current
step's code is still unused for the login after it, with no wait for the next
step. The one wait is before that pair of requests, when the current step is
nearly over, so both land in the steps they were computed for.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pyotp

PASSWORD = "e2e journey passphrase"
TOTP_STEP_S = 30
# The invitation token as the e-mail carries it (auth.user_tokens: inv_<tenant hex>_<43 url-safe>).
INVITATION_TOKEN = re.compile(r"inv_[0-9a-f]{32}_[A-Za-z0-9_-]{43}")
MAX_429_RETRIES = 5


class Http:
    """JSON over urllib; a ``429`` is retried after its ``Retry-After`` (the API's throttles are not the test)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        for _ in range(MAX_429_RETRIES):
            request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, raw = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, raw = error.code, error.read()
                if status == 429:
                    time.sleep(min(float(error.headers.get("Retry-After") or 1), 10.0))
                    continue
            return status, json.loads(raw) if raw else None
        raise AssertionError(f"{method} {path}: still 429 after {MAX_429_RETRIES} tries")


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return claims


def _invitation_token(aws_endpoint_url: str, recipient: str) -> str:
    """The token in the newest e-mail the local SES accepted for ``recipient`` (moto's model data, over HTTP)."""
    deadline = time.monotonic() + 10  # sent right after the invitation's commit; a moment's grace
    while True:
        with urllib.request.urlopen(f"{aws_endpoint_url}/moto-api/data.json", timeout=30) as response:
            messages = json.loads(response.read())["ses"]["Message"]
        mine = [m for m in messages if recipient in m["destinations"].get("ToAddresses", [])]
        if mine:
            found = INVITATION_TOKEN.search(mine[-1]["body"])
            assert found, mine[-1]["body"]
            return found.group(0)
        assert time.monotonic() < deadline, f"no e-mail to {recipient} in the local SES"
        time.sleep(0.2)


def _room_in_this_step(seconds: float) -> None:
    """Wait for the next TOTP step when fewer than ``seconds`` are left of this one (a wait, not a check)."""
    left = TOTP_STEP_S - time.time() % TOTP_STEP_S
    if left < seconds:
        time.sleep(left + 0.2)


def _audit_actions(api: Http, token: str) -> list[str]:
    actions: list[str] = []
    cursor = ""
    while True:
        status, page = api.call("GET", f"/audit-events?limit=100{cursor}", token=token)
        assert status == 200, page
        actions += [event["action"] for event in page["items"]]
        if not page["next_cursor"]:
            return actions
        cursor = f"&cursor={urllib.parse.quote(page['next_cursor'], safe='')}"


def _mfa_login(api: Http, email: str, code: str) -> tuple[int, Any]:
    status, challenge = api.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200 and challenge["mfa_required"] is True, challenge
    return api.call("POST", "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": code})


def test_invite_accept_login_mfa_recovery_and_a_role_change_over_http(local_stack):
    api = Http(local_stack["api_url"])

    # The demo owner logs in with the credentials make run printed (and wrote to stack.json).
    status, owner = api.call(
        "POST", "/auth/login", {"email": local_stack["demo_user_email"], "password": local_stack["demo_user_password"]}
    )
    assert status == 200, owner
    assert _claims(owner["token"])["tenant_role"] == "owner"
    owner_token = owner["token"]

    # Invite a developer; the e-mail went out through the local SES.
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.test"
    status, invitation = api.call("POST", "/users/invitations", {"email": email, "role": "developer"}, owner_token)
    assert status == 201, invitation
    assert invitation["email"] == email and invitation["role"] == "developer"
    token = _invitation_token(local_stack["aws_endpoint_url"], email)

    # Accept: a name and a password. The token is single use.
    acceptance = {"token": token, "name": "E2E Person", "password": PASSWORD}
    status, person = api.call("POST", "/users/accept-invitation", acceptance)
    assert status == 201, person
    assert person["email"] == email and person["role"] == "developer" and person["mfa_enabled"] is False
    assert api.call("POST", "/users/accept-invitation", acceptance)[0] == 400

    # The person logs in (password only) and enrols MFA with codes computed from the secret.
    status, pair = api.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, pair
    claims = _claims(pair["token"])
    assert claims["user_id"] == person["id"] and claims["tenant_role"] == "developer" and claims["amr"] == ["pwd"]
    status, enrolment = api.call("POST", "/users/me/mfa", {}, pair["token"])
    assert status == 201, enrolment
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrolment["secret"])
    _room_in_this_step(5)
    previous_step = totp.at(time.time() - TOTP_STEP_S)
    status, confirmed = api.call("POST", "/users/me/mfa/confirm", {"code": previous_step}, pair["token"])
    assert status == 200, confirmed
    recovery_codes = confirmed["recovery_codes"]
    assert len(set(recovery_codes)) == 10

    # Login with MFA: this step's code works once; the same code on a new challenge is a replay.
    code = totp.now()
    status, mfa_pair = _mfa_login(api, email, code)
    assert status == 200, mfa_pair
    assert _claims(mfa_pair["token"])["amr"] == ["pwd", "otp"]
    status, challenge = api.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200 and challenge["mfa_required"] is True, challenge
    assert api.call("POST", "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": code})[0] == 401

    # A recovery code logs in (once).
    status, session = api.call("POST", "/auth/mfa", {"mfa_token": challenge["mfa_token"], "code": recovery_codes[0]})
    assert status == 200, session
    assert api.call("GET", "/customers/me", token=session["token"])[0] == 200

    # The owner sees both people.
    status, users = api.call("GET", "/users", token=owner_token)
    assert status == 200, users
    listed = {user["email"]: user for user in users["items"]}
    assert listed[local_stack["demo_user_email"]]["role"] == "owner"
    assert listed[email]["role"] == "developer" and listed[email]["mfa_enabled"] is True

    # A role change ends the person's sessions at once: the next request is refused, the refresh too.
    status, changed = api.call("PATCH", f"/users/{person['id']}", {"role": "viewer"}, owner_token)
    assert status == 200, changed
    assert changed["role"] == "viewer"
    assert api.call("GET", "/customers/me", token=session["token"])[0] == 401
    assert api.call("POST", "/auth/refresh", {"refresh_token": session["refresh_token"]})[0] == 401

    # Logged in again (a fresh recovery code: the last TOTP step is spent), the person is a viewer.
    status, viewer = _mfa_login(api, email, recovery_codes[1])
    assert status == 200, viewer
    assert _claims(viewer["token"])["tenant_role"] == "viewer"
    assert api.call("GET", "/customers/me", token=viewer["token"])[0] == 200
    assert api.call("POST", "/metrics", {"events": []}, viewer["token"])[0] == 403

    actions = _audit_actions(api, owner_token)
    for action in ("user.created", "user.invited", "user.joined", "auth.succeeded", "user.mfa_enabled"):
        assert action in actions, (action, actions)
    assert "user.role_changed" in actions, actions
