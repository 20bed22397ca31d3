"""/api-keys: create, list, revoke (immediate), rotate (overlap), tenant isolation."""

import json
import time
import uuid

import pytest

from chalicelib.auth import clock

JSON = {"Content-Type": "application/json"}


def post(client, path, body, headers):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.post(path, headers={**JSON, **headers}, body=raw)


def authenticate(client, api_key):
    return client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))


def me(client, token):
    return client.http.get("/customers/me", headers={"Authorization": f"Bearer {token}"})


class _Clock:
    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset


def test_create_shows_the_key_once_and_list_never(client, new_customer):
    customer = new_customer()
    response = post(client, "/api-keys", {"name": "ci"}, customer.headers)
    assert response.status_code == 201
    created = json.loads(response.body)
    assert set(created) == {
        "id",
        "name",
        "prefix",
        "key",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "role",
    }
    assert created["role"] == "developer"
    assert created["key"].startswith(created["prefix"] + "_") and created["prefix"].startswith("sk_test_")
    assert created["last_used_at"] is None
    assert authenticate(client, created["key"]).status_code == 200
    listed = json.loads(client.http.get("/api-keys", headers=customer.headers).body)
    assert {item["id"] for item in listed["items"]} == {created["id"], str(customer.key_id)}
    assert all("key" not in item for item in listed["items"])
    assert created["key"] not in json.dumps(listed)


def test_list_paginates_with_an_opaque_cursor(client, new_customer):
    customer = new_customer()
    for n in range(3):
        post(client, "/api-keys", {"name": f"k{n}"}, customer.headers)
    first = json.loads(client.http.get("/api-keys?limit=2", headers=customer.headers).body)
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = json.loads(
        client.http.get(f"/api-keys?limit=2&cursor={first['next_cursor']}", headers=customer.headers).body
    )
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=WyJhIiwiYiJd", "unknown=1"]
)
def test_bad_list_queries_are_400(client, new_customer, query):
    customer = new_customer()
    assert client.http.get(f"/api-keys?{query}", headers=customer.headers).status_code == 400


@pytest.mark.parametrize(
    "raw",
    [
        "nope",
        "[]",
        "{}",
        '{"name": ""}',
        '{"name": 5}',
        '{"name": "' + "n" * 101 + '"}',
        '{"name": "x", "expires_at": "yesterday"}',
        '{"name": "x", "expires_at": "2030-01-01T00:00:00"}',
        '{"name": "x", "other": 1}',
    ],
)
def test_garbage_create_bodies_are_400(client, new_customer, raw):
    customer = new_customer()
    assert post(client, "/api-keys", raw, customer.headers).status_code == 400


def test_expiry_in_the_past_is_422(client, new_customer):
    customer = new_customer()
    response = post(client, "/api-keys", {"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, customer.headers)
    assert response.status_code == 422


def test_expiry_past_year_9999_in_utc_is_422_not_500(client, new_customer):
    customer = new_customer()
    response = post(client, "/api-keys", {"name": "x", "expires_at": "9999-12-31T23:00:00-05:00"}, customer.headers)
    assert response.status_code == 422
    ahead = post(client, "/api-keys", {"name": "x", "expires_at": "9999-12-31T23:59:59+14:00"}, customer.headers)
    assert ahead.status_code == 201 and json.loads(ahead.body)["expires_at"] == "9999-12-31T09:59:59Z"


def test_tier_key_allowance_is_enforced(client, new_customer):
    customer = new_customer("starter")  # max_api_keys = 5, one exists already
    statuses = [post(client, "/api-keys", {"name": f"k{n}"}, customer.headers).status_code for n in range(5)]
    assert statuses == [201, 201, 201, 201, 409]


def test_revoked_key_and_every_token_from_it_are_401_on_the_next_call(client, new_customer):
    customer = new_customer()
    created = json.loads(post(client, "/api-keys", {"name": "doomed"}, customer.headers).body)
    pair = json.loads(authenticate(client, created["key"]).body)  # cached verification + a session
    second = json.loads(authenticate(client, created["key"]).body)
    assert me(client, pair["token"]).status_code == 200
    response = client.http.delete(f"/api-keys/{created['id']}", headers=customer.headers)
    assert response.status_code == 204
    assert me(client, pair["token"]).status_code == 401
    assert me(client, second["token"]).status_code == 401
    assert authenticate(client, created["key"]).status_code == 401
    refresh = client.http.post("/auth/refresh", headers=JSON, body=json.dumps({"refresh_token": pair["refresh_token"]}))
    assert refresh.status_code == 401
    listed = json.loads(client.http.get("/api-keys", headers=customer.headers).body)
    assert next(i for i in listed["items"] if i["id"] == created["id"])["revoked_at"] is not None
    # Revoking again is idempotent; the customer's own session is untouched.
    assert client.http.delete(f"/api-keys/{created['id']}", headers=customer.headers).status_code == 204
    assert me(client, customer.token).status_code == 200


def test_revoking_the_key_behind_the_callers_own_token_ends_that_token(client, new_customer):
    customer = new_customer()
    assert client.http.delete(f"/api-keys/{customer.key_id}", headers=customer.headers).status_code == 204
    assert me(client, customer.token).status_code == 401


def test_rotation_keeps_the_old_key_during_the_overlap_then_revokes_it(client, new_customer, monkeypatch):
    customer = new_customer()
    response = post(client, f"/api-keys/{customer.key_id}/rotate", {"overlap_seconds": 3600}, customer.headers)
    assert response.status_code == 201
    new_key = json.loads(response.body)
    assert new_key["key"] != customer.api_key and new_key["name"] == "default"
    old_pair = json.loads(authenticate(client, customer.api_key).body)
    assert me(client, old_pair["token"]).status_code == 200
    assert me(client, customer.token).status_code == 200
    new_pair = json.loads(authenticate(client, new_key["key"]).body)
    listed = {i["id"]: i for i in json.loads(client.http.get("/api-keys", headers=customer.headers).body)["items"]}
    assert listed[str(customer.key_id)]["revoked_at"] is not None  # scheduled at the overlap's end
    monkeypatch.setattr(clock, "time", _Clock(3601))
    assert authenticate(client, customer.api_key).status_code == 401
    assert me(client, old_pair["token"]).status_code == 401
    assert me(client, customer.token).status_code == 401
    assert me(client, new_pair["token"]).status_code == 200
    assert authenticate(client, new_key["key"]).status_code == 200


def test_rotation_with_zero_overlap_revokes_immediately_and_default_is_a_day(client, new_customer):
    customer = new_customer()
    response = post(client, f"/api-keys/{customer.key_id}/rotate", {"overlap_seconds": 0}, customer.headers)
    assert response.status_code == 201
    assert authenticate(client, customer.api_key).status_code == 401
    assert me(client, customer.token).status_code == 401
    other = new_customer()
    response = client.http.post(f"/api-keys/{other.key_id}/rotate", headers=other.headers)
    assert response.status_code == 201
    listed = {i["id"]: i for i in json.loads(client.http.get("/api-keys", headers=other.headers).body)["items"]}
    assert listed[str(other.key_id)]["revoked_at"] is not None
    assert authenticate(client, other.api_key).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        '{"overlap_seconds": -1}',
        '{"overlap_seconds": 604801}',
        '{"overlap_seconds": "1"}',
        '{"overlap_seconds": true}',
        '{"overlap_seconds": 1.5}',
        "[]",
        "x",
    ],
)
def test_bad_rotation_bodies_are_400(client, new_customer, raw):
    customer = new_customer()
    assert post(client, f"/api-keys/{customer.key_id}/rotate", raw, customer.headers).status_code == 400


def test_rotating_a_revoked_key_is_409(client, new_customer):
    customer = new_customer()
    created = json.loads(post(client, "/api-keys", {"name": "x"}, customer.headers).body)
    client.http.delete(f"/api-keys/{created['id']}", headers=customer.headers)
    assert post(client, f"/api-keys/{created['id']}/rotate", {}, customer.headers).status_code == 409


def test_a_tenant_cannot_see_revoke_or_rotate_another_tenants_keys(client, new_customer):
    a, b = new_customer(), new_customer()
    listed = json.loads(client.http.get("/api-keys", headers=b.headers).body)
    assert str(a.key_id) not in {item["id"] for item in listed["items"]}
    assert client.http.delete(f"/api-keys/{a.key_id}", headers=b.headers).status_code == 404
    assert post(client, f"/api-keys/{a.key_id}/rotate", {}, b.headers).status_code == 404
    assert me(client, a.token).status_code == 200
    assert authenticate(client, a.api_key).status_code == 200


@pytest.mark.parametrize("path", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_or_malformed_key_ids_are_404(client, new_customer, path):
    customer = new_customer()
    assert client.http.delete(f"/api-keys/{path}", headers=customer.headers).status_code == 404
    assert post(client, f"/api-keys/{path}/rotate", {}, customer.headers).status_code == 404


def test_operators_cannot_use_customer_key_routes(client, operator_headers):
    assert client.http.get("/api-keys", headers=operator_headers).status_code == 403
    assert client.http.get("/api-keys").status_code == 401
