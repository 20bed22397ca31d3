"""POST /auth/authenticate, /auth/refresh, /auth/logout and the per-request guard."""

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from chalicelib.auth import clock, key_format, signing, throttle
from chalicelib.auth import dynamodb as auth_dynamodb
from chalicelib.auth import repository as auth_repository

JSON = {"Content-Type": "application/json"}


def post(client, path, body=None, headers=None):
    raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    return client.http.post(path, headers={**JSON, **(headers or {})}, body=raw or "")


def authenticate(client, api_key):
    return post(client, "/auth/authenticate", {"api_key": api_key})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def me(client, token):
    return client.http.get("/customers/me", headers=bearer(token))


# ---------------------------------------------------------------- authenticate
def test_authenticate_returns_a_24_hour_token_pair(client, new_customer):
    customer = new_customer()
    response = authenticate(client, customer.api_key)
    assert response.status_code == 200
    document = json.loads(response.body)
    assert document["token_type"] == "Bearer" and document["expires_in"] == 86400
    assert document["customer_id"] == str(customer.customer_id)
    assert document["expires_at"].endswith("Z") and document["refresh_token"].startswith("rt_")
    claims = jwt.decode(document["token"], options={"verify_signature": False})
    assert claims["sub"] == str(customer.customer_id) and claims["role"] == "customer"
    assert claims["key_id"] == str(customer.key_id) and claims["exp"] - claims["iat"] == 86400
    assert jwt.get_unverified_header(document["token"])["kid"] == signing.keyring().current.kid
    assert me(client, document["token"]).status_code == 200


def test_authenticate_accepts_the_x_api_key_header(client, new_customer):
    customer = new_customer()
    response = client.http.post("/auth/authenticate", headers={"X-Api-Key": customer.api_key})
    assert response.status_code == 200
    assert json.loads(response.body)["customer_id"] == str(customer.customer_id)


def test_operator_key_authenticates_as_operator_without_customer(client, operator_key):
    document = json.loads(authenticate(client, operator_key).body)
    assert document["customer_id"] is None
    assert jwt.decode(document["token"], options={"verify_signature": False})["role"] == "operator"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"api_key": ""},
        {"api_key": "nonsense"},
        {"api_key": "sk_test_abcdefghijkl_" + "A" * 43},
        {"api_key": "op_abcdefghijkl_" + "A" * 43},
    ],
)
def test_unknown_or_malformed_keys_are_401(client, body):
    assert post(client, "/auth/authenticate", body).status_code == 401


def test_wrong_secret_is_401(client, new_customer):
    customer = new_customer()
    parsed = key_format.parse(customer.api_key)
    wrong = f"{parsed.prefix}{parsed.public_id}_" + ("B" if parsed.secret[0] == "A" else "A") + parsed.secret[1:]
    assert authenticate(client, wrong).status_code == 401


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1,2]",
        '"string"',
        '{"api_key": 5}',
        '{"api_key": "x", "extra": 1}',
        '{"api_key": "' + "a" * 500 + '"}',
    ],
)
def test_garbage_authenticate_bodies_are_4xx(client, raw):
    status = post(client, "/auth/authenticate", raw).status_code
    assert 400 <= status < 500


class _Clock:
    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset


def test_expired_key_and_its_tokens_are_401_once_it_expires(client, new_customer, monkeypatch):
    customer = new_customer()
    expires = datetime.now(UTC) + timedelta(hours=1)
    created = json.loads(
        post(client, "/api-keys", {"name": "short", "expires_at": expires.isoformat()}, bearer(customer.token)).body
    )
    token = json.loads(authenticate(client, created["key"]).body)["token"]  # now cached
    assert me(client, token).status_code == 200
    monkeypatch.setattr(clock, "time", _Clock(3601))
    assert authenticate(client, created["key"]).status_code == 401
    assert me(client, token).status_code == 401
    assert me(client, customer.token).status_code == 200  # the customer's other key is unaffected


def test_cache_hit_does_no_bcrypt_and_no_database_read_of_the_hash(client, new_customer, monkeypatch):
    customer = new_customer()  # the fixture authenticated once: the verification is cached
    calls = {"bcrypt": 0, "lookup": 0}

    def spy_bcrypt(*args):
        calls["bcrypt"] += 1
        raise AssertionError("bcrypt called on a cache hit")

    def spy_lookup(*args):
        calls["lookup"] += 1
        raise AssertionError("hash read on a cache hit")

    monkeypatch.setattr(key_format.bcrypt, "checkpw", spy_bcrypt)
    monkeypatch.setattr(auth_repository, "find_customer_key", spy_lookup)
    response = authenticate(client, customer.api_key)
    assert response.status_code == 200
    assert calls == {"bcrypt": 0, "lookup": 0}


def test_a_warm_cache_hit_and_a_refresh_make_no_dynamodb_call(client, new_customer, monkeypatch):
    """Issue 16: the session and its refresh token are recorded in PostgreSQL only (migration 0044)."""
    customer = new_customer()  # authenticated once: this process holds the verification

    def no_dynamodb():
        raise AssertionError("DynamoDB called")

    monkeypatch.setattr(auth_dynamodb, "client", no_dynamodb)
    response = authenticate(client, customer.api_key)
    assert response.status_code == 200
    pair = json.loads(response.body)
    refreshed = post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    monkeypatch.undo()
    assert me(client, json.loads(refreshed.body)["token"]).status_code == 200
    assert me(client, pair["token"]).status_code == 401  # refreshed away


def test_cache_miss_calls_bcrypt_once_then_hits(client, new_customer, monkeypatch):
    customer = new_customer()
    calls = []
    real = key_format.bcrypt.checkpw
    monkeypatch.setattr(key_format.bcrypt, "checkpw", lambda *args: calls.append(1) or real(*args))
    # A different key of the same customer: not cached yet.
    created = json.loads(post(client, "/api-keys", {"name": "second"}, bearer(customer.token)).body)
    assert authenticate(client, created["key"]).status_code == 200
    assert authenticate(client, created["key"]).status_code == 200
    assert len(calls) == 1


def test_failures_are_never_cached_as_successes(client, new_customer, monkeypatch):
    customer = new_customer()
    created = json.loads(post(client, "/api-keys", {"name": "x"}, bearer(customer.token)).body)
    monkeypatch.setattr(key_format, "verify_secret", lambda secret, hashed: False)
    assert authenticate(client, created["key"]).status_code == 401
    monkeypatch.undo()
    # The failure left nothing behind that would now skip verification wrongly, and success still works.
    calls = []
    real = key_format.verify_secret
    monkeypatch.setattr(key_format, "verify_secret", lambda *a: calls.append(1) or real(*a))
    assert authenticate(client, created["key"]).status_code == 200
    assert calls == [1]


def test_repeated_failures_against_one_public_id_are_throttled(client, new_customer, monkeypatch):
    customer = new_customer()
    parsed = key_format.parse(customer.api_key)
    wrong = f"{parsed.prefix}{parsed.public_id}_" + "Z" * 43
    statuses = [authenticate(client, wrong).status_code for _ in range(throttle.MAX_FAILURES)]
    assert statuses == [401] * throttle.MAX_FAILURES
    bcrypt_calls = []
    monkeypatch.setattr(key_format.bcrypt, "checkpw", lambda *a: bcrypt_calls.append(1) or False)
    throttled = authenticate(client, wrong)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 300
    assert bcrypt_calls == []  # no CPU burnt once throttled
    # The legitimate holder's cached key is not locked out.
    monkeypatch.undo()
    assert authenticate(client, customer.api_key).status_code == 200


# ---------------------------------------------------------------- the guard
def _forge(claims_overrides=None, *, secret=None, kid=None, alg="HS256", header_overrides=None, base_token=None):
    ring = signing.keyring()
    claims = jwt.decode(base_token, options={"verify_signature": False})
    claims.update(claims_overrides or {})
    headers = {"kid": kid or ring.current.kid, **(header_overrides or {})}
    return jwt.encode(claims, secret or ring.current.secret, algorithm=alg, headers=headers)


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda t: {}, id="missing"),
        pytest.param(lambda t: {"Authorization": ""}, id="empty"),
        pytest.param(lambda t: {"Authorization": f"Basic {t}"}, id="wrong-scheme"),
        pytest.param(lambda t: {"Authorization": "Bearer"}, id="no-token"),
        pytest.param(lambda t: {"Authorization": "Bearer not.a.jwt"}, id="malformed"),
        pytest.param(lambda t: {"Authorization": "Bearer " + "x" * 5000}, id="huge"),
        pytest.param(lambda t: bearer(_forge(secret=b"w" * 64, base_token=t)), id="wrong-signature"),
        pytest.param(lambda t: bearer(_forge({"aud": "someone-else"}, base_token=t)), id="wrong-aud"),
        pytest.param(lambda t: bearer(_forge({"iss": "https://evil"}, base_token=t)), id="wrong-iss"),
        pytest.param(
            lambda t: bearer(_forge({"exp": int(time.time()) - 5, "iat": int(time.time()) - 100}, base_token=t)),
            id="expired",
        ),
        pytest.param(
            lambda t: bearer(
                _b64({"alg": "none", "typ": "JWT", "kid": signing.keyring().current.kid}) + "." + t.split(".")[1] + "."
            ),
            id="alg-none",
        ),
        pytest.param(lambda t: bearer(_forge(alg="HS384", base_token=t)), id="hs384"),
        pytest.param(lambda t: bearer(_forge(kid="no-such-kid", base_token=t)), id="unknown-kid"),
        pytest.param(lambda t: bearer(_forge({"jti": uuid.uuid4().hex}, base_token=t)), id="no-session-for-jti"),
        pytest.param(lambda t: bearer(_forge({"sub": str(uuid.uuid4())}, base_token=t)), id="other-subject"),
        pytest.param(lambda t: bearer(_forge({"role": "operator"}, base_token=t)), id="role-escalation"),
    ],
)
def test_bad_bearer_tokens_are_401(client, new_customer, make_headers):
    customer = new_customer()
    response = client.http.get("/customers/me", headers=make_headers(customer.token))
    assert response.status_code == 401
    assert json.loads(response.body)["Code"] == "UnauthorizedError"


def test_tokens_signed_with_the_previous_jwt_key_stay_valid_after_rotation(client, new_customer, stack):
    customer = new_customer()
    from chalicelib.core import aws
    from chalicelib.core.settings import get_settings

    sm = aws.client("secretsmanager")
    secret_id = get_settings().jwt_secret_id
    old = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    rotated = {"current": {"kid": uuid.uuid4().hex[:16], "secret": "n" * 64}, "previous": old["current"]}
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(rotated))
    try:
        signing.forget()
        assert me(client, customer.token).status_code == 200  # old kid, still valid
        fresh = json.loads(authenticate(client, customer.api_key).body)["token"]
        assert jwt.get_unverified_header(fresh)["kid"] == rotated["current"]["kid"]
        assert me(client, fresh).status_code == 200
    finally:
        sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(old))
        signing.forget()


def test_operator_token_cannot_call_customer_routes_and_vice_versa(client, new_customer, operator_headers):
    customer = new_customer()
    assert client.http.get("/customers/me", headers=operator_headers).status_code == 403
    assert client.http.get("/admin/customers", headers=customer.headers).status_code == 403


# ---------------------------------------------------------------- refresh and logout
def test_refresh_rotates_the_pair_and_the_old_refresh_token_stops_working(client, new_customer):
    customer = new_customer()
    first = post(client, "/auth/refresh", {"refresh_token": customer.refresh_token})
    assert first.status_code == 200
    pair = json.loads(first.body)
    assert pair["refresh_token"] != customer.refresh_token
    assert me(client, pair["token"]).status_code == 200
    assert me(client, customer.token).status_code == 401  # the refreshed-away session ends
    second = post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200


def test_refresh_token_reuse_revokes_the_whole_family(client, new_customer):
    customer = new_customer()
    pair = json.loads(post(client, "/auth/refresh", {"refresh_token": customer.refresh_token}).body)
    reuse = post(client, "/auth/refresh", {"refresh_token": customer.refresh_token})
    assert reuse.status_code == 401
    assert me(client, pair["token"]).status_code == 401  # the family's live token is revoked too
    assert post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}).status_code == 401
    # A fresh authentication is unaffected.
    assert authenticate(client, customer.api_key).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{}",
        '{"refresh_token": ""}',
        '{"refresh_token": 1}',
        "nope",
        '{"refresh_token": "rt_doesnotexist"}',
        '{"refresh_token": "abc"}',
    ],
)
def test_bad_refresh_requests_are_4xx(client, raw):
    status = post(client, "/auth/refresh", raw).status_code
    assert status in (400, 401)


def test_logout_revokes_the_session_and_its_refresh_token(client, new_customer):
    customer = new_customer()
    other = json.loads(authenticate(client, customer.api_key).body)
    response = post(client, "/auth/logout", headers=bearer(customer.token))
    assert response.status_code == 204
    assert me(client, customer.token).status_code == 401
    assert post(client, "/auth/refresh", {"refresh_token": customer.refresh_token}).status_code == 401
    assert me(client, other["token"]).status_code == 200  # only that session


def test_logout_ends_every_session_refreshed_from_the_same_authentication(client, new_customer, admin_conn):
    customer = new_customer()
    pair = json.loads(post(client, "/auth/refresh", {"refresh_token": customer.refresh_token}).body)
    assert post(client, "/auth/logout", headers=bearer(pair["token"])).status_code == 204
    assert me(client, pair["token"]).status_code == 401
    assert post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}).status_code == 401
    session_id = jwt.decode(pair["token"], options={"verify_signature": False})["jti"]
    logged = admin_conn.execute(
        "SELECT count(*) AS n FROM audit_events WHERE customer_id = %s AND action = 'auth.logout'"
        " AND detail->>'session_id' = %s",
        (customer.customer_id, session_id),
    ).fetchone()["n"]
    assert logged == 1


def test_refresh_reuse_is_audited_on_the_holders_chain(client, new_customer, admin_conn):
    customer = new_customer()
    assert post(client, "/auth/refresh", {"refresh_token": customer.refresh_token}).status_code == 200
    assert post(client, "/auth/refresh", {"refresh_token": customer.refresh_token}).status_code == 401
    actions = [
        row["action"]
        for row in admin_conn.execute(
            "SELECT action FROM audit_events WHERE customer_id = %s AND action LIKE 'auth.refresh%%' ORDER BY chain_seq",
            (customer.customer_id,),
        )
    ]
    assert actions == ["auth.refreshed", "auth.refresh_reused"]


def test_logout_without_a_token_is_401(client):
    assert post(client, "/auth/logout").status_code == 401


def test_an_operator_session_refreshes_and_its_reuse_ends_the_family(client, operator_key):
    pair = json.loads(authenticate(client, operator_key).body)
    refreshed = post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    token = json.loads(refreshed.body)["token"]
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "operator"
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 200
    assert post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}).status_code == 401
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 401


def test_operator_can_log_out(client, operator_key):
    token = json.loads(authenticate(client, operator_key).body)["token"]
    assert post(client, "/auth/logout", headers=bearer(token)).status_code == 204
    assert client.http.get("/admin/customers", headers=bearer(token)).status_code == 401
