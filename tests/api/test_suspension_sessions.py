"""Issue 11, item 7: a suspension ends the customer's sessions; reactivation needs a new authentication."""

from __future__ import annotations

import json

JSON = {"Content-Type": "application/json"}


def _patch(client, customer_id, body, headers):
    return client.http.patch(f"/admin/customers/{customer_id}", headers=headers, body=json.dumps(body))


def _me(client, token):
    return client.http.get("/customers/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _refresh(client, refresh_token):
    return client.http.post("/auth/refresh", headers=JSON, body=json.dumps({"refresh_token": refresh_token}))


def _authenticate(client, api_key):
    return client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))


def test_i11_7_reactivation_does_not_bring_back_old_tokens_or_refresh_tokens(
    client, operator_headers, new_customer, admin_conn
):
    customer = new_customer()
    refreshed = json.loads(_refresh(client, customer.refresh_token).body)  # a family with two sessions
    other = json.loads(_authenticate(client, customer.api_key).body)
    assert _me(client, refreshed["token"]) == 200 and _me(client, other["token"]) == 200

    assert _patch(client, customer.customer_id, {"status": "suspended"}, operator_headers).status_code == 200
    assert _me(client, refreshed["token"]) == 403  # the contract's answer while suspended
    assert _patch(client, customer.customer_id, {"status": "active"}, operator_headers).status_code == 200

    for token in (customer.token, refreshed["token"], other["token"]):
        assert _me(client, token) == 401
    for refresh_token in (refreshed["refresh_token"], other["refresh_token"]):
        assert _refresh(client, refresh_token).status_code == 401
    live = admin_conn.execute(
        "SELECT count(*) AS n FROM auth_sessions WHERE subject = %s AND revoked_at IS NULL", (customer.customer_id,)
    ).fetchone()["n"]
    assert live == 0

    # A new authentication works, and so does its refresh.
    fresh = json.loads(_authenticate(client, customer.api_key).body)
    assert _me(client, fresh["token"]) == 200
    again = _refresh(client, fresh["refresh_token"])
    assert again.status_code == 200 and _me(client, json.loads(again.body)["token"]) == 200


def test_i11_7_a_suspension_typed_into_the_database_ends_sessions_too(client, new_customer, admin_conn):
    customer = new_customer()
    admin_conn.execute("UPDATE customers SET status = 'suspended' WHERE id = %s", (customer.customer_id,))
    admin_conn.execute("UPDATE customers SET status = 'active' WHERE id = %s", (customer.customer_id,))
    assert _me(client, customer.token) == 401
    assert _refresh(client, customer.refresh_token).status_code == 401
    assert _authenticate(client, customer.api_key).status_code == 200


def test_i11_7_other_changes_leave_sessions_alone(client, operator_headers, new_customer):
    customer = new_customer()
    assert _patch(client, customer.customer_id, {"tier": "growth"}, operator_headers).status_code == 200
    assert _patch(client, customer.customer_id, {"status": "active"}, operator_headers).status_code == 200
    assert _me(client, customer.token) == 200
    assert _refresh(client, customer.refresh_token).status_code == 200
