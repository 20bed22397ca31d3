"""Operator bootstrap: the local stack's credentials and the cloud's Lambda function."""

import base64
import json

from chalicelib.auth import key_format


def test_local_credentials_give_a_working_operator_and_demo_customer_key(client):
    from devstack.bootstrap import local_credentials

    first = local_credentials()
    second = local_credentials()  # a second start: fresh keys, same demo customer
    assert first["operator_api_key"].startswith("op_") and first["demo_customer_api_key"].startswith("sk_test_")
    assert second["demo_customer_api_key"] != first["demo_customer_api_key"]

    def authenticate(api_key):
        return client.http.post(
            "/auth/authenticate", headers={"Content-Type": "application/json"}, body=json.dumps({"api_key": api_key})
        )

    response = authenticate(second["demo_customer_api_key"])
    assert response.status_code == 200
    demo = json.loads(response.body)
    # Each start also revokes the previous start's demo key (it would otherwise pile up to the tier's
    # key limit): it is refused, and the demo customer has exactly one live local key.
    assert authenticate(first["demo_customer_api_key"]).status_code == 401
    listed = client.http.get("/api-keys", headers={"Authorization": f"Bearer {demo['token']}"})
    local = [k for k in json.loads(listed.body)["items"] if k["name"] == "local-stack" and k["revoked_at"] is None]
    assert len(local) == 1
    # Issue 11, item 11: each start revokes the previous start's operator key
    # (tests/api/test_operator_keys.py has the rest).
    assert authenticate(second["operator_api_key"]).status_code == 200
    assert authenticate(first["operator_api_key"]).status_code == 401
    third = local_credentials()  # and again: the same demo customer, only the newest key works
    assert json.loads(authenticate(third["demo_customer_api_key"]).body)["customer_id"] == demo["customer_id"]
    assert authenticate(second["demo_customer_api_key"]).status_code == 401


def test_create_operator_key_lambda_returns_a_working_key(client):
    response = client.lambda_.invoke("create_operator_key", {"email": "first-op@example.test", "name": "First"})
    created = response.payload
    assert key_format.parse(created["api_key"]).is_operator
    auth = client.http.post("/auth/authenticate", headers={"X-Api-Key": created["api_key"]})
    assert auth.status_code == 200
    token = json.loads(auth.body)["token"]
    assert client.http.get("/admin/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_operator_key_cli_prints_a_working_key(client, capsys):
    from chalicelib.auth import bootstrap

    assert bootstrap.main(["--email", "cli-op@example.test"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("api_key="))
    auth = client.http.post("/auth/authenticate", headers={"X-Api-Key": line.removeprefix("api_key=")})
    assert auth.status_code == 200


def _login(client, email, password):
    return client.http.post(
        "/auth/login",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"email": email, "password": password}),
    )


def _demo_owner_events(admin_conn, user_id):
    rows = admin_conn.execute(
        "SELECT action, actor FROM audit_events WHERE target_type = 'user' AND target_id = %s ORDER BY occurred_at, id",
        (str(user_id),),
    ).fetchall()
    return [(row["action"], row["actor"]) for row in rows]


def test_local_credentials_give_a_demo_owner_that_each_start_puts_back_as_printed(client, admin_conn):
    """Issue 13: the demo owner logs in with stack.json's password, whatever happened to it since the last start."""
    from chalicelib.auth import passwords
    from devstack.bootstrap import local_credentials

    first = local_credentials()
    email, password = first["demo_user_email"], first["demo_user_password"]
    assert email == "owner@demo.local" and len(password) >= passwords.MIN_LENGTH
    response = _login(client, email, password)
    assert response.status_code == 200, response.body
    claims = json.loads(base64.urlsafe_b64decode(json.loads(response.body)["token"].split(".")[1] + "=="))
    assert claims["tenant_role"] == "owner" and claims["amr"] == ["pwd"]
    user = admin_conn.execute("SELECT id, customer_id FROM users WHERE email = %s", (email,)).fetchone()
    demo = json.loads(
        client.http.post(
            "/auth/authenticate",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"api_key": first["demo_customer_api_key"]}),
        ).body
    )
    assert str(user["customer_id"]) == demo["customer_id"]
    assert ("user.created", "system:bootstrap") in _demo_owner_events(admin_conn, user["id"])

    # Since then: another password, MFA on, no longer owner. The next start undoes all three, audited.
    admin_conn.execute(
        "UPDATE users SET password_hash = %s, mfa_enabled = true, mfa_secret = '\\x00', role = 'viewer' WHERE id = %s",
        (passwords.hash_password("someone else's password", 4), user["id"]),
    )
    before = _demo_owner_events(admin_conn, user["id"])
    second = local_credentials()
    assert (second["demo_user_email"], second["demo_user_password"]) == (email, password)
    response = _login(client, email, password)
    assert response.status_code == 200 and "token" in json.loads(response.body)  # no MFA challenge
    row = admin_conn.execute("SELECT role, mfa_enabled, mfa_secret FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert (row["role"], row["mfa_enabled"], row["mfa_secret"]) == ("owner", False, None)
    restored = _demo_owner_events(admin_conn, user["id"])[len(before) :]
    for action in ("user.password_reset", "user.mfa_disabled", "user.role_changed"):
        assert (action, "system:bootstrap") in restored

    # An unchanged user is left alone: a start writes nothing about it.
    settled = _demo_owner_events(admin_conn, user["id"])
    local_credentials()
    assert _demo_owner_events(admin_conn, user["id"]) == settled
