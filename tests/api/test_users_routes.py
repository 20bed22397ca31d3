"""/users: invitations by e-mail, acceptance, the team, role changes, removal; PATCH /customers/me.

A customer's onboarding key is ``admin``; an owner credential is an owner-role
API key made in the tenant (what onboarding's ``owner_email`` invitation gives
a person, a key gives a test without logging in). Invitation tokens are read
from the e-mail moto's SES received.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest

from chalicelib.core import db
from chalicelib.core.context import TenantRole
from chalicelib.keys.service import issue_key
from chalicelib.notifications import service as notifications
from tests.billing_support import moto_ses_messages

JSON = {"Content-Type": "application/json"}
TOKEN = re.compile(r"inv_[0-9a-f]{32}_[A-Za-z0-9_-]{43}")
PASSWORD = "correct horse battery"


def _address() -> str:
    return f"person-{uuid.uuid4().hex[:12]}@example.test"


def _headers_of_role(client, customer_id: uuid.UUID, role: TenantRole) -> dict:
    with db.tenant_transaction(customer_id, actor="test") as conn:
        key = issue_key(conn, customer_id=customer_id, name=f"test-{role}", expires_at=None, role=role).key
    response = client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": key}))
    assert response.status_code == 200, response.body
    return {**JSON, "Authorization": f"Bearer {json.loads(response.body)['token']}"}


def _invite(client, headers: dict, email: str, role: str = "developer"):
    return client.http.post("/users/invitations", headers=headers, body=json.dumps({"email": email, "role": role}))


def _tokens_sent_to(stack, customer_id: uuid.UUID, email: str) -> list[str]:
    """Every invitation token e-mailed to ``email``, oldest first (delivering anything still queued)."""
    notifications.deliver_pending(customer_id=customer_id)
    tokens = []
    for message in moto_ses_messages(stack, email):
        tokens += TOKEN.findall(str(getattr(message, "body", "")))
    return list(dict.fromkeys(tokens))


def _accept(client, token: str, *, name: str = "Ada Lovelace", password: str = PASSWORD):
    body = {"token": token, "name": name, "password": password}
    return client.http.post("/users/accept-invitation", headers=JSON, body=json.dumps(body))


def _join(client, stack, customer, headers: dict, role: str = "developer") -> dict:
    """Invite a new address as ``role`` and accept it: the new user."""
    email = _address()
    assert _invite(client, headers, email, role).status_code == 201
    (token,) = _tokens_sent_to(stack, customer.customer_id, email)
    accepted = _accept(client, token)
    assert accepted.status_code == 201, accepted.body
    return json.loads(accepted.body)


def _users(client, headers: dict) -> list[dict]:
    response = client.http.get("/users", headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)["items"]


def _audit(client, headers: dict) -> list[dict]:
    response = client.http.get("/audit-events?limit=100", headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)["items"]


def test_invite_emails_a_token_and_accepting_it_makes_a_listed_user(client, stack, new_customer, admin_conn):
    customer = new_customer()
    email = _address()
    invited = _invite(client, customer.headers, email.upper(), "billing")
    assert invited.status_code == 201, invited.body
    invitation = json.loads(invited.body)
    assert set(invitation) == {"id", "email", "role", "expires_at"}
    assert invitation["email"] == email and invitation["role"] == "billing"
    stored = admin_conn.execute("SELECT * FROM user_invitations WHERE id = %s", (invitation["id"],)).fetchone()
    (token,) = _tokens_sent_to(stack, customer.customer_id, email)
    assert token.startswith(f"inv_{customer.customer_id.hex}_")
    assert token not in json.dumps(stored, default=str)  # only its hash is stored
    assert stored["expires_at"] - stored["created_at"] == timedelta(days=7)

    accepted = _accept(client, token, name="  Ada  ")
    assert accepted.status_code == 201, accepted.body
    user = json.loads(accepted.body)
    assert set(user) == {"id", "email", "name", "role", "mfa_enabled", "created_at", "last_login_at"}
    assert (user["email"], user["name"], user["role"], user["mfa_enabled"]) == (email, "Ada", "billing", False)
    assert user["last_login_at"] is None
    row = admin_conn.execute("SELECT password_hash, customer_id FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row["customer_id"] == customer.customer_id and row["password_hash"].startswith("$2b$")
    assert PASSWORD not in row["password_hash"]
    assert [u["id"] for u in _users(client, customer.headers)] == [user["id"]]
    again = admin_conn.execute("SELECT accepted_at, user_id FROM user_invitations WHERE id = %s", (invitation["id"],))
    assert again.fetchone()["user_id"] == uuid.UUID(user["id"])

    # An API key is no person; the list pages like every list.
    assert client.http.get("/users/me", headers=customer.headers).status_code == 404
    _join(client, stack, customer, customer.headers)
    first = json.loads(client.http.get("/users?limit=1", headers=customer.headers).body)
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = json.loads(client.http.get(f"/users?limit=1&cursor={first['next_cursor']}", headers=customer.headers).body)
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert rest["items"][0]["id"] != first["items"][0]["id"]


def test_inviting_a_member_is_409_and_reinviting_replaces_the_pending_invitation(client, stack, new_customer):
    customer = new_customer()
    user = _join(client, stack, customer, customer.headers)
    assert _invite(client, customer.headers, user["email"]).status_code == 409
    assert _invite(client, customer.headers, user["email"].upper()).status_code == 409

    email = _address()
    assert _invite(client, customer.headers, email).status_code == 201
    assert _invite(client, customer.headers, email, "viewer").status_code == 201
    first, second = _tokens_sent_to(stack, customer.customer_id, email)
    assert _accept(client, first).status_code == 400  # replaced
    accepted = _accept(client, second)
    assert accepted.status_code == 201 and json.loads(accepted.body)["role"] == "viewer"


def test_used_expired_unknown_and_malformed_tokens_are_400(client, stack, new_customer, admin_conn):
    customer = new_customer()
    email = _address()
    assert _invite(client, customer.headers, email).status_code == 201
    (token,) = _tokens_sent_to(stack, customer.customer_id, email)
    assert _accept(client, token).status_code == 201
    used = _accept(client, token)
    assert used.status_code == 400 and b"Invalid or expired invitation" in used.body

    other = _address()
    invitation = json.loads(_invite(client, customer.headers, other).body)
    (expiring,) = _tokens_sent_to(stack, customer.customer_id, other)
    admin_conn.execute(
        "UPDATE user_invitations SET expires_at = now() - interval '1 second' WHERE id = %s", (invitation["id"],)
    )
    assert _accept(client, expiring).status_code == 400

    unknown = f"inv_{customer.customer_id.hex}_{'A' * 43}"
    elsewhere = f"inv_{uuid.uuid4().hex}_{'A' * 43}"
    for token in (unknown, elsewhere, "inv_x", "", "pwr" + expiring[3:], "x" * 500):
        response = _accept(client, token)
        assert response.status_code == 400, (token, response.body)
    assert admin_conn.execute("SELECT count(*) AS n FROM users WHERE email = %s", (other,)).fetchone()["n"] == 0


@pytest.mark.parametrize(("password", "status"), [("a" * 11, 400), ("a" * 129, 400), ("a" * 12, 201)])
def test_password_length_is_12_to_128(client, stack, new_customer, password, status):
    customer = new_customer()
    email = _address()
    assert _invite(client, customer.headers, email).status_code == 201
    (token,) = _tokens_sent_to(stack, customer.customer_id, email)
    assert _accept(client, token, password=password).status_code == status


def test_bad_bodies_are_400(client, stack, new_customer):
    customer = new_customer()
    for body in ({}, {"email": "nope", "role": "developer"}, {"email": _address(), "role": "root"}):
        response = client.http.post("/users/invitations", headers=customer.headers, body=json.dumps(body))
        assert response.status_code == 400, (body, response.body)
    email = _address()
    assert _invite(client, customer.headers, email).status_code == 201
    (token,) = _tokens_sent_to(stack, customer.customer_id, email)
    assert _accept(client, token, name="").status_code == 400
    assert _accept(client, token, name="x" * 201).status_code == 400
    assert _accept(client, token, name="Ok\u0000").status_code == 400


def test_an_address_with_an_account_elsewhere_cannot_accept(client, stack, new_customer):
    first, second = new_customer(), new_customer()
    user = _join(client, stack, first, first.headers)
    assert _invite(client, second.headers, user["email"]).status_code == 201  # not a member there
    *_, token = _tokens_sent_to(stack, second.customer_id, user["email"])
    assert token.startswith(f"inv_{second.customer_id.hex}_")
    assert _accept(client, token).status_code == 409


def test_admins_cannot_invite_or_touch_owners_but_owners_can(client, stack, new_customer):
    customer = new_customer()
    admin = customer.headers
    owner = _headers_of_role(client, customer.customer_id, TenantRole.OWNER)
    assert _invite(client, admin, _address(), "owner").status_code == 403
    first_owner = _join(client, stack, customer, owner, "owner")
    second_owner = _join(client, stack, customer, owner, "owner")
    developer = _join(client, stack, customer, admin, "developer")

    patch = f"/users/{first_owner['id']}"
    assert client.http.patch(patch, headers=admin, body=json.dumps({"role": "viewer"})).status_code == 403
    assert client.http.delete(patch, headers=admin).status_code == 403
    promote = client.http.patch(f"/users/{developer['id']}", headers=admin, body=json.dumps({"role": "owner"}))
    assert promote.status_code == 403
    changed = client.http.patch(f"/users/{developer['id']}", headers=admin, body=json.dumps({"role": "admin"}))
    assert changed.status_code == 200 and json.loads(changed.body)["role"] == "admin"

    demoted = client.http.patch(patch, headers=owner, body=json.dumps({"role": "admin"}))
    assert demoted.status_code == 200 and json.loads(demoted.body)["role"] == "admin"
    assert client.http.delete(f"/users/{second_owner['id']}", headers=owner).status_code == 409  # the last owner
    assert client.http.delete(patch, headers=admin).status_code == 204  # an admin now
    assert {u["id"] for u in _users(client, admin)} == {second_owner["id"], developer["id"]}


def test_the_last_owner_cannot_be_demoted_or_removed(client, stack, new_customer):
    customer = new_customer()
    owner = _headers_of_role(client, customer.customer_id, TenantRole.OWNER)
    only = _join(client, stack, customer, owner, "owner")
    path = f"/users/{only['id']}"
    demote = client.http.patch(path, headers=owner, body=json.dumps({"role": "admin"}))
    assert demote.status_code == 409, demote.body
    assert client.http.delete(path, headers=owner).status_code == 409
    same = client.http.patch(path, headers=owner, body=json.dumps({"role": "owner"}))
    assert same.status_code == 200  # no change: allowed
    other = _join(client, stack, customer, owner, "owner")
    assert client.http.delete(path, headers=owner).status_code == 204
    assert client.http.patch(f"/users/{other['id']}", headers=owner, body='{"role":"viewer"}').status_code == 409


def test_a_role_change_moves_the_session_epoch_and_a_no_op_does_not(client, stack, new_customer, admin_conn):
    customer = new_customer()
    user = _join(client, stack, customer, customer.headers, "developer")

    def epoch() -> int:
        return admin_conn.execute("SELECT session_epoch FROM users WHERE id = %s", (user["id"],)).fetchone()[
            "session_epoch"
        ]

    before = epoch()
    path = f"/users/{user['id']}"
    assert client.http.patch(path, headers=customer.headers, body=json.dumps({"role": "developer"})).status_code == 200
    assert epoch() == before
    assert client.http.patch(path, headers=customer.headers, body=json.dumps({"role": "viewer"})).status_code == 200
    assert epoch() == before + 1


def test_unknown_and_malformed_ids_are_404(client, new_customer):
    customer = new_customer()
    for path in (f"/users/{uuid.uuid4()}", "/users/not-a-uuid"):
        assert client.http.patch(path, headers=customer.headers, body='{"role":"viewer"}').status_code == 404
        assert client.http.delete(path, headers=customer.headers).status_code == 404


def test_another_tenant_cannot_see_change_or_remove_users(client, stack, new_customer):
    tenant_a, tenant_b = new_customer(), new_customer()
    user = _join(client, stack, tenant_a, tenant_a.headers)
    owner_b = _headers_of_role(client, tenant_b.customer_id, TenantRole.OWNER)
    assert _users(client, owner_b) == []
    path = f"/users/{user['id']}"
    assert client.http.patch(path, headers=owner_b, body='{"role":"viewer"}').status_code == 404
    assert client.http.delete(path, headers=owner_b).status_code == 404
    assert [u["role"] for u in _users(client, tenant_a.headers)] == ["developer"]
    # B inviting the same address does not reveal A's member (it is simply not B's).
    assert _invite(client, owner_b, user["email"]).status_code == 201


def test_onboarding_with_owner_email_invites_the_first_owner(client, stack, new_customer, admin_conn):
    email = _address()
    customer = new_customer(owner_email=email)
    row = admin_conn.execute("SELECT * FROM user_invitations WHERE customer_id = %s", (customer.customer_id,))
    (invitation,) = row.fetchall()
    assert (invitation["email"], invitation["role"]) == (email, "owner")
    assert invitation["invited_by"].startswith("operator:")
    (token,) = _tokens_sent_to(stack, customer.customer_id, email)
    accepted = _accept(client, token)
    assert accepted.status_code == 201 and json.loads(accepted.body)["role"] == "owner"
    key_roles = admin_conn.execute("SELECT role FROM api_keys WHERE customer_id = %s", (customer.customer_id,))
    assert [r["role"] for r in key_roles.fetchall()] == ["admin"]
    actions = [e["action"] for e in _audit(client, customer.headers)]
    assert "user.invited" in actions and "user.joined" in actions


def test_require_mfa_is_a_tenant_setting(client, new_customer):
    customer = new_customer()
    me = json.loads(client.http.get("/customers/me", headers=customer.headers).body)
    assert me["require_mfa"] is False
    changed = client.http.patch("/customers/me", headers=customer.headers, body='{"require_mfa": true}')
    assert changed.status_code == 200, changed.body
    document = json.loads(changed.body)
    assert document["require_mfa"] is True and set(me) == set(document)
    assert json.loads(client.http.get("/customers/me", headers=customer.headers).body)["require_mfa"] is True
    for body in ("{}", '{"require_mfa": "yes"}', '{"require_mfa": true, "tier": "enterprise"}'):
        assert client.http.patch("/customers/me", headers=customer.headers, body=body).status_code == 400
    events = [e for e in _audit(client, customer.headers) if e["action"] == "customer.settings_changed"]
    assert [e["detail"] for e in events] == [{"require_mfa": True}]


def test_every_user_action_is_audited(client, stack, new_customer):
    customer = new_customer()
    owner = _headers_of_role(client, customer.customer_id, TenantRole.OWNER)
    user = _join(client, stack, customer, owner, "developer")
    assert client.http.patch(f"/users/{user['id']}", headers=owner, body='{"role":"billing"}').status_code == 200
    assert client.http.delete(f"/users/{user['id']}", headers=owner).status_code == 204
    events = [e for e in _audit(client, customer.headers) if e["action"].startswith("user.")]
    by_action = {e["action"]: e for e in events}
    assert by_action["user.invited"]["detail"] == {"email": user["email"], "role": "developer"}
    assert by_action["user.invited"]["target_type"] == "user_invitation"
    joined = by_action["user.joined"]
    assert joined["target_id"] == user["id"] and joined["detail"]["role"] == "developer"
    assert joined["actor"] == f"customer:{customer.customer_id}/user:{user['id']}"
    changed = by_action["user.role_changed"]
    assert changed["detail"]["from"] == "developer" and changed["detail"]["to"] == "billing"
    assert changed["actor"].startswith(f"customer:{customer.customer_id}/key:")
    assert by_action["user.removed"]["detail"] == {"email": user["email"], "role": "billing"}
    assert all(TOKEN.search(json.dumps(e)) is None for e in events)  # never a token in the trail


def test_concurrent_demotions_of_the_two_owners_leave_one(client, stack, new_customer, admin_conn):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.core.errors import Conflict
    from chalicelib.users import service

    customer = new_customer()
    owner = _headers_of_role(client, customer.customer_id, TenantRole.OWNER)
    for _ in range(3):
        owners = [_join(client, stack, customer, owner, "owner")["id"] for _ in range(2)]

        def demote(user_id: str) -> str:
            try:
                service.change_role(customer.customer_id, uuid.UUID(user_id), TenantRole.ADMIN, TenantRole.OWNER)
            except Conflict:
                return "409"
            return "200"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(demote, owners))
        assert outcomes == ["200", "409"]
        remaining = admin_conn.execute(
            "SELECT id FROM users WHERE customer_id = %s AND role = 'owner'", (customer.customer_id,)
        ).fetchall()
        assert len(remaining) == 1
        admin_conn.execute("DELETE FROM users WHERE customer_id = %s", (customer.customer_id,))
