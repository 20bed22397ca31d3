"""Per-request liveness read from PostgreSQL: changes made straight in the database, operators, no DynamoDB."""

import json

import pytest

from chalicelib.auth.bootstrap import create_operator_key
from chalicelib.core import aws
from chalicelib.ratelimit import service as ratelimit_service

JSON = {"Content-Type": "application/json"}


def authenticate(client, api_key):
    return client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def own_operator(client):
    """An operator of its own (the shared operator token must stay usable for other tests)."""
    import uuid

    created = create_operator_key(email=f"liveness-{uuid.uuid4().hex[:8]}@saas.local", key_name="liveness")
    response = authenticate(client, created.key)
    assert response.status_code == 200
    return created, json.loads(response.body)["token"]


def test_operator_token_is_401_once_its_key_is_revoked_in_the_database(client, own_operator, admin_conn):
    created, token = own_operator
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 200
    admin_conn.execute("UPDATE operator_api_keys SET revoked_at = now() WHERE id = %s", (created.key_id,))
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 401
    assert authenticate(client, created.key).status_code == 401  # the cached verification is refused too


def test_operator_token_is_401_once_its_key_expires_in_the_database(client, own_operator, admin_conn):
    created, token = own_operator
    admin_conn.execute(
        "UPDATE operator_api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", (created.key_id,)
    )
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 401


def test_operator_token_is_401_once_the_operator_is_disabled(client, own_operator, admin_conn):
    created, token = own_operator
    admin_conn.execute("UPDATE operators SET disabled_at = now() WHERE id = %s", (created.operator_id,))
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 401
    assert authenticate(client, created.key).status_code == 401
    admin_conn.execute("UPDATE operators SET disabled_at = NULL WHERE id = %s", (created.operator_id,))
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 200


def test_customer_suspended_in_the_database_gets_403_on_its_existing_token(client, new_customer, admin_conn):
    customer = new_customer()
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 200
    admin_conn.execute("UPDATE customers SET status = 'suspended' WHERE id = %s", (customer.customer_id,))
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 403
    # The verification is still cached (nothing told DynamoDB), yet no session is handed out.
    assert authenticate(client, customer.api_key).status_code == 403
    refresh = client.http.post(
        "/auth/refresh", headers=JSON, body=json.dumps({"refresh_token": customer.refresh_token})
    )
    assert refresh.status_code == 403
    admin_conn.execute("UPDATE customers SET status = 'active' WHERE id = %s", (customer.customer_id,))
    # Issue 11, item 7: a suspension - even one typed into the database - ends the old sessions.
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 401
    refresh = client.http.post(
        "/auth/refresh", headers=JSON, body=json.dumps({"refresh_token": customer.refresh_token})
    )
    assert refresh.status_code == 401
    assert authenticate(client, customer.api_key).status_code == 200


def test_customer_key_revoked_in_the_database_ends_its_tokens_and_cached_verification(client, new_customer, admin_conn):
    customer = new_customer()
    admin_conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (customer.key_id,))
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 401
    assert authenticate(client, customer.api_key).status_code == 401


def test_the_guard_makes_no_dynamodb_call(client, new_customer, monkeypatch):
    customer = new_customer()
    # The rate-limit guard (after this one) counts in DynamoDB by design; this test is about authentication.
    monkeypatch.setattr(ratelimit_service, "enforce", lambda customer_id: None)
    ddb = aws.client("dynamodb")
    calls = []

    def refuse(operation, params):
        calls.append(operation)
        raise AssertionError(f"DynamoDB {operation} during an authorized request")

    monkeypatch.setattr(ddb, "_make_api_call", refuse)
    real_client = aws.client
    monkeypatch.setattr(aws, "client", lambda service: ddb if service == "dynamodb" else real_client(service))
    monkeypatch.setattr(aws, "dynamodb_table", lambda name: refuse("Table", name))
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 200
    assert client.http.get("/api-keys", headers=customer.headers).status_code == 200
    assert calls == []
    # The spy is live: a route that does use DynamoDB trips it.
    with pytest.raises(AssertionError):
        ddb.get_item(TableName="x", Key={"pk": {"S": "x"}})


def _cache_reads(monkeypatch) -> list[str]:
    """Record every GetItem against the DynamoDB verification cache."""
    from chalicelib.core.settings import get_settings

    ddb = aws.client("dynamodb")
    real = ddb._make_api_call
    reads: list[str] = []

    def spy(operation, params):
        if operation == "GetItem" and params.get("TableName") == get_settings().cache_table:
            reads.append(params["Key"]["pk"]["S"])
        return real(operation, params)

    monkeypatch.setattr(ddb, "_make_api_call", spy)
    return reads


def test_a_warm_process_answers_a_cache_hit_without_reading_dynamodb(client, new_customer, monkeypatch):
    customer = new_customer()  # authenticated once: cached in DynamoDB and in this process
    reads = _cache_reads(monkeypatch)
    assert authenticate(client, customer.api_key).status_code == 200
    assert reads == []


def test_a_cold_process_reads_the_dynamodb_entry_once_then_keeps_it(client, new_customer, monkeypatch):
    from chalicelib.auth import verification_cache

    customer = new_customer()
    verification_cache._local.clear()  # as a freshly started Lambda would be
    reads = _cache_reads(monkeypatch)
    assert authenticate(client, customer.api_key).status_code == 200
    assert authenticate(client, customer.api_key).status_code == 200
    assert len(reads) == 1


def test_this_process_copy_never_outlives_a_revocation_made_elsewhere(client, new_customer, admin_conn, monkeypatch):
    """Another process revokes the key (here: straight in the database); our copy cannot mint a session."""
    from chalicelib.auth import key_format, signing, verification_cache

    customer = new_customer()
    digest = key_format.cache_digest(signing.pepper(), customer.api_key)
    assert verification_cache._local.get(digest) is not None
    admin_conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (customer.key_id,))
    assert authenticate(client, customer.api_key).status_code == 401
    assert verification_cache._local.get(digest) is None


def test_revoking_through_the_api_drops_this_process_copy(client, new_customer):
    from chalicelib.auth import key_format, signing, verification_cache

    customer = new_customer()
    created = json.loads(
        client.http.post("/api-keys", headers={**JSON, **customer.headers}, body=json.dumps({"name": "second"})).body
    )
    assert authenticate(client, created["key"]).status_code == 200
    digest = key_format.cache_digest(signing.pepper(), created["key"])
    assert verification_cache._local.get(digest) is not None
    assert client.http.delete(f"/api-keys/{created['id']}", headers=customer.headers).status_code == 204
    assert verification_cache._local.get(digest) is None
    assert authenticate(client, created["key"]).status_code == 401
