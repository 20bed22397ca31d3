"""GET /customers/me and the operator's /admin/customers."""

import json
import uuid

import pytest

JSON = {"Content-Type": "application/json"}


def authenticate(client, api_key):
    return client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))


def patch(client, customer_id, body, headers):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.patch(f"/admin/customers/{customer_id}", headers=headers, body=raw)


def test_me_returns_profile_tier_features_and_limits(client, new_customer):
    customer = new_customer("growth", tax_rate="0.0725")
    document = json.loads(client.http.get("/customers/me", headers=customer.headers).body)
    assert document["id"] == str(customer.customer_id) and document["tier"] == "growth"
    assert document["tax_rate"] == "0.0725" and document["status"] == "active"
    assert document["features"]["sso"] is True and document["features"]["support_level"] == "priority"
    assert document["limits"]["rate_limit_per_second"] == 50 and document["limits"]["max_api_keys"] == 25
    assert document["created_at"].endswith("Z")


def test_onboarding_creates_customer_and_first_key(client, operator_headers):
    email = f"onboard-{uuid.uuid4().hex[:8]}@example.test"
    body = {"name": "Acme", "email": email, "tier": "enterprise", "billing_start_date": "2026-03-15"}
    response = client.http.post("/admin/customers", headers=operator_headers, body=json.dumps(body))
    assert response.status_code == 201
    document = json.loads(response.body)
    assert document["customer"]["billing_start_date"] == "2026-03-15"
    assert document["customer"]["tax_rate"] == "0.08" and document["customer"]["tier"] == "enterprise"
    assert document["api_key"]["key"].startswith("sk_test_")
    assert (
        json.loads(authenticate(client, document["api_key"]["key"]).body)["customer_id"] == document["customer"]["id"]
    )
    fetched = client.http.get(f"/admin/customers/{document['customer']['id']}", headers=operator_headers)
    assert json.loads(fetched.body) == document["customer"]


def test_billing_start_date_defaults_to_today(client, operator_headers):
    from datetime import UTC, datetime

    body = {"name": "Acme", "email": f"d-{uuid.uuid4().hex[:8]}@example.test", "tier": "starter"}
    document = json.loads(client.http.post("/admin/customers", headers=operator_headers, body=json.dumps(body)).body)
    assert document["customer"]["billing_start_date"] == datetime.now(UTC).date().isoformat()


def test_duplicate_email_is_409_case_insensitively(client, operator_headers, new_customer):
    existing = new_customer()
    body = {"name": "Dup", "email": existing.email.upper(), "tier": "starter"}
    assert client.http.post("/admin/customers", headers=operator_headers, body=json.dumps(body)).status_code == 409


@pytest.mark.parametrize(
    "body,status",
    [
        ({"name": "x", "email": "a@b.co", "tier": "platinum"}, 422),
        ({"name": "x", "email": "a@b.co", "tier": "starter", "tax_rate": "1.5"}, 422),
        ({"name": "x", "email": "not-an-email", "tier": "starter"}, 400),
        ({"name": "", "email": "a@b.co", "tier": "starter"}, 400),
        ({"name": "x", "email": "a@b.co"}, 400),
        ({"name": "x", "email": "a@b.co", "tier": "starter", "tax_rate": 0.08}, 400),
        ({"name": "x", "email": "a@b.co", "tier": "starter", "tax_rate": "-0.1"}, 400),
        ({"name": "x", "email": "a@b.co", "tier": "starter", "billing_start_date": "2026-13-01"}, 400),
        ({"name": "x", "email": "a@b.co", "tier": "starter", "id": "x"}, 400),
        ("garbage", 400),
        ([], 400),
    ],
)
def test_bad_onboarding_bodies_are_4xx(client, operator_headers, body, status):
    raw = body if isinstance(body, str) else json.dumps(body)
    assert client.http.post("/admin/customers", headers=operator_headers, body=raw).status_code == status


def test_list_customers_paginates(client, operator_headers, new_customer):
    for _ in range(3):
        new_customer()
    first = json.loads(client.http.get("/admin/customers?limit=2", headers=operator_headers).body)
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = json.loads(
        client.http.get(f"/admin/customers?limit=2&cursor={first['next_cursor']}", headers=operator_headers).body
    )
    assert second["items"] and not {c["id"] for c in first["items"]} & {c["id"] for c in second["items"]}
    assert client.http.get("/admin/customers?limit=0", headers=operator_headers).status_code == 400
    assert client.http.get("/admin/customers?cursor=@@", headers=operator_headers).status_code == 400


@pytest.mark.parametrize("path", ["nope", str(uuid.uuid4())])
def test_unknown_customer_is_404(client, operator_headers, path):
    assert client.http.get(f"/admin/customers/{path}", headers=operator_headers).status_code == 404
    assert patch(client, path, {"tier": "growth"}, operator_headers).status_code == 404


def test_patch_changes_tier_tax_rate_and_email(client, operator_headers, new_customer):
    customer = new_customer()
    new_email = f"new-{uuid.uuid4().hex[:8]}@example.test"
    response = patch(
        client, customer.customer_id, {"tier": "growth", "tax_rate": "0.1", "email": new_email}, operator_headers
    )
    assert response.status_code == 200
    document = json.loads(response.body)
    assert (document["tier"], document["tax_rate"], document["email"]) == ("growth", "0.1", new_email)
    me = json.loads(client.http.get("/customers/me", headers=customer.headers).body)
    assert me["tier"] == "growth" and me["limits"]["max_api_keys"] == 25


def test_patch_to_an_existing_email_is_409(client, operator_headers, new_customer):
    a, b = new_customer(), new_customer()
    assert patch(client, b.customer_id, {"email": a.email}, operator_headers).status_code == 409


@pytest.mark.parametrize("body", [{"status": "deleted"}, {"tier": 3}, {"tax_rate": "abc"}, {"name": "x"}, "zzz"])
def test_bad_patch_bodies_are_400(client, operator_headers, new_customer, body):
    customer = new_customer()
    assert patch(client, customer.customer_id, body, operator_headers).status_code == 400


def test_suspended_customer_gets_403_on_tokens_and_keys_and_reactivation_needs_a_new_authentication(
    client, operator_headers, new_customer
):
    customer = new_customer()
    assert patch(client, customer.customer_id, {"status": "suspended"}, operator_headers).status_code == 200
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 403
    assert authenticate(client, customer.api_key).status_code == 403  # cached verification
    refresh = client.http.post(
        "/auth/refresh", headers=JSON, body=json.dumps({"refresh_token": customer.refresh_token})
    )
    assert refresh.status_code == 403
    assert patch(client, customer.customer_id, {"status": "active"}, operator_headers).status_code == 200
    # Issue 11, item 7: the suspension ended the old sessions; the key works again, the old tokens do not.
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 401
    pair = json.loads(authenticate(client, customer.api_key).body)
    assert client.http.get("/customers/me", headers={"Authorization": f"Bearer {pair['token']}"}).status_code == 200


def test_a_customer_created_suspended_cannot_authenticate(client, make_customer, admin_conn):
    from chalicelib.auth import key_format

    customer_id = make_customer(status="suspended")
    new = key_format.generate("sk_test_", cost=4)
    admin_conn.execute(
        "INSERT INTO api_keys (customer_id, name, prefix, public_id, secret_hash) VALUES (%s, 'k', %s, %s, %s)",
        (customer_id, new.prefix, new.public_id, new.secret_hash),
    )
    assert authenticate(client, new.key).status_code == 403


def test_customer_tokens_cannot_use_admin_routes(client, new_customer):
    customer = new_customer()
    assert client.http.get("/admin/customers", headers=customer.headers).status_code == 403
    assert patch(client, customer.customer_id, {"tier": "enterprise"}, customer.headers).status_code == 403
