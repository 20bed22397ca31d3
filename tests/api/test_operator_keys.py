"""Issue 11, item 11: operator keys are created, listed and revoked through /admin/operator-keys.

Revocation is immediate, like a customer key's: the key, every token already
minted from it and its refresh tokens are refused on their next use, the
verification cache included. An optional ``expires_at`` ends the key (and its
tokens) no later than that moment. The local bootstrap revokes the key of the
previous start. The shared ``operator_headers`` key is never revoked here:
every key revoked is one these tests made.
"""

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.auth import clock

JSON = {"Content-Type": "application/json"}
PATH = "/admin/operator-keys"


def post(client, body, headers):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.post(PATH, headers={**JSON, **headers}, body=raw)


def authenticate(client, api_key):
    return client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))


def bearer(token):
    return {"Authorization": f"Bearer {token}", **JSON}


def subject_of(headers) -> str:
    """The ``sub`` of the bearer token in ``headers`` (read, not verified: the server did that)."""
    payload = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def listed(client, headers, **query) -> list[dict]:
    """Every item of ``GET /admin/operator-keys``, following the cursor."""
    items, cursor = [], None
    while True:
        params = "&".join(f"{k}={v}" for k, v in {**query, **({"cursor": cursor} if cursor else {})}.items())
        response = client.http.get(f"{PATH}?{params}" if params else PATH, headers=headers)
        assert response.status_code == 200, response.body
        page = json.loads(response.body)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def audit_events(admin_conn, key_id) -> list[dict]:
    return admin_conn.execute(
        "SELECT customer_id, actor, action, detail FROM audit_events WHERE target_type = 'operator_api_key'"
        " AND target_id = %s ORDER BY chain_seq",
        (str(key_id),),
    ).fetchall()


class _Clock:
    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset


@pytest.fixture
def new_key(client, operator_headers):
    """Factory: a new operator key made through the API by the shared operator (never its own key)."""

    def create(name="ops-ci", **fields) -> dict:
        response = post(client, {"name": name, **fields}, operator_headers)
        assert response.status_code == 201, response.body
        return json.loads(response.body)

    return create


def test_i11_11_create_shows_the_key_once_and_the_list_never(client, operator_headers, new_key, admin_conn):
    created = new_key("deploy-bot")
    assert set(created) == {
        "id",
        "operator_id",
        "name",
        "prefix",
        "key",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    }
    assert created["prefix"].startswith("op_") and created["key"].startswith(created["prefix"] + "_")
    assert created["name"] == "deploy-bot" and created["operator_id"] == subject_of(operator_headers)
    assert created["expires_at"] is None and created["revoked_at"] is None and created["last_used_at"] is None
    assert authenticate(client, created["key"]).status_code == 200

    mine = next(item for item in listed(client, operator_headers) if item["id"] == created["id"])
    assert set(mine) == set(created) - {"key"}
    assert mine["last_used_at"] is not None  # stamped by the authentication above
    everything = json.dumps(listed(client, operator_headers))
    assert created["key"] not in everything and "secret_hash" not in everything and "$2b$" not in everything
    stored = admin_conn.execute("SELECT secret_hash FROM operator_api_keys WHERE id = %s", (created["id"],)).fetchone()
    assert stored["secret_hash"].startswith("$2") and created["key"].split("_")[-1] not in stored["secret_hash"]

    [event] = audit_events(admin_conn, created["id"])
    assert event["customer_id"] is None and event["action"] == "operator_key.created"  # the platform's chain
    assert event["actor"] == f"operator:{subject_of(operator_headers)}"
    assert event["detail"]["public_id"] == created["prefix"].removeprefix("op_")
    assert created["key"] not in json.dumps(event["detail"])


def test_i11_11_revocation_ends_the_key_its_tokens_and_refresh_tokens_on_the_next_request(
    client, operator_headers, new_key, admin_conn
):
    created = new_key()
    first = json.loads(authenticate(client, created["key"]).body)  # bcrypt, fills the verification cache
    second = json.loads(authenticate(client, created["key"]).body)  # from the cache
    for pair in (first, second):
        assert client.http.get("/admin/customers", headers=bearer(pair["token"])).status_code == 200

    assert client.http.delete(f"{PATH}/{created['id']}", headers=operator_headers).status_code == 204

    for pair in (first, second):  # tokens issued before the revocation
        assert client.http.get("/admin/customers", headers=bearer(pair["token"])).status_code == 401
    refreshed = client.http.post(
        "/auth/refresh", headers=JSON, body=json.dumps({"refresh_token": second["refresh_token"]})
    )
    assert refreshed.status_code == 401
    assert authenticate(client, created["key"]).status_code == 401  # the cached verification is gone too
    assert client.http.get(PATH, headers=operator_headers).status_code == 200  # the shared key is untouched

    mine = next(item for item in listed(client, operator_headers) if item["id"] == created["id"])
    assert mine["revoked_at"] is not None
    # Revoking again changes nothing and records nothing more.
    assert client.http.delete(f"{PATH}/{created['id']}", headers=operator_headers).status_code == 204
    assert (
        next(i for i in listed(client, operator_headers) if i["id"] == created["id"])["revoked_at"]
        == mine["revoked_at"]
    )
    assert [e["action"] for e in audit_events(admin_conn, created["id"])] == [
        "operator_key.created",
        "operator_key.revoked",
    ]
    revoked = audit_events(admin_conn, created["id"])[1]
    assert revoked["customer_id"] is None and revoked["actor"] == f"operator:{subject_of(operator_headers)}"


def test_i11_11_an_operator_may_revoke_the_key_it_is_using(client, new_key):
    created = new_key("revokes-itself")
    own = bearer(json.loads(authenticate(client, created["key"]).body)["token"])
    assert client.http.delete(f"{PATH}/{created['id']}", headers=own).status_code == 204
    assert client.http.get(PATH, headers=own).status_code == 401  # its very next request


def test_i11_11_an_expired_key_cannot_authenticate_and_its_tokens_stop_at_the_expiry(client, new_key, monkeypatch):
    expires = datetime.now(UTC) + timedelta(seconds=600)
    created = new_key("short-lived", expires_at=expires.astimezone(timezone(timedelta(hours=2))).isoformat())
    assert created["expires_at"].endswith("Z")  # the same instant, written in UTC
    assert datetime.fromisoformat(created["expires_at"]) == expires
    token = json.loads(authenticate(client, created["key"]).body)["token"]
    assert authenticate(client, created["key"]).status_code == 200  # now cached, with the key's expiry
    assert client.http.get(PATH, headers=bearer(token)).status_code == 200

    monkeypatch.setattr(clock, "time", _Clock(601))  # just past expires_at
    assert client.http.get(PATH, headers=bearer(token)).status_code == 401
    assert authenticate(client, created["key"]).status_code == 401


def test_i11_11_an_expiry_that_passed_in_the_database_is_honoured_on_the_next_request(client, new_key, admin_conn):
    created = new_key("expired-in-db", expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    token = json.loads(authenticate(client, created["key"]).body)["token"]
    admin_conn.execute(
        "UPDATE operator_api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", (created["id"],)
    )
    assert client.http.get(PATH, headers=bearer(token)).status_code == 401
    assert authenticate(client, created["key"]).status_code == 401


@pytest.mark.parametrize(
    "body, status",
    [
        ('{"name": "x", "expires_at": "2020-01-01T00:00:00Z"}', 422),  # in the past
        ('{"name": "x", "expires_at": "9999-12-31T23:00:00-05:00"}', 422),  # after year 9999 in UTC
        ('{"name": "x", "expires_at": "2099-01-01T00:00:00"}', 400),  # no zone
        ('{"name": "x", "expires_at": 4102444800}', 400),  # a number, not ISO 8601
        ('{"name": "x", "expires_at": "next week"}', 400),
        ('{"name": ""}', 400),
        ('{"name": "' + "x" * 101 + '"}', 400),
        ("{}", 400),
        ('{"name": "x", "operator_id": "00000000-0000-0000-0000-000000000000"}', 400),  # unknown field
        ('{"name": "x\\u0000"}', 400),
        ("not json", 400),
        ("[]", 400),
    ],
)
def test_i11_11_create_refuses_invalid_bodies(client, operator_headers, body, status):
    response = post(client, body, operator_headers)
    assert response.status_code == status, response.body
    assert set(json.loads(response.body)) == {"Code", "Message"}


def test_i11_11_expires_at_just_ahead_is_accepted(client, new_key):
    ahead = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert new_key("five-minutes", expires_at=ahead)["expires_at"] is not None


def test_i11_11_list_paginates_newest_first_with_an_opaque_cursor(client, operator_headers, new_key):
    made = [new_key(f"page-{n}")["id"] for n in range(3)]
    items = listed(client, operator_headers, limit=2)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) and set(made) <= set(ids)
    assert [ids.index(key_id) for key_id in reversed(made)] == sorted(ids.index(key_id) for key_id in made)
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)
    first = json.loads(client.http.get(f"{PATH}?limit=2", headers=operator_headers).body)
    assert len(first["items"]) == 2 and first["next_cursor"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=not-a-cursor", "unknown=1"])
def test_i11_11_list_refuses_bad_queries(client, operator_headers, query):
    assert client.http.get(f"{PATH}?{query}", headers=operator_headers).status_code == 400


@pytest.mark.parametrize("key_id", ["not-a-uuid", "1", "%00", str(uuid.uuid4())])
def test_i11_11_revoking_a_malformed_or_unknown_id_is_404(client, operator_headers, key_id):
    response = client.http.delete(f"{PATH}/{key_id}", headers=operator_headers)
    assert response.status_code == 404
    assert json.loads(response.body)["Code"] == "NotFoundError"


def test_i11_11_customer_credentials_get_403_and_no_credentials_401(client, new_customer, new_key):
    customer = new_customer()
    target = new_key("not-for-customers")
    assert post(client, {"name": "x"}, customer.headers).status_code == 403
    assert client.http.get(PATH, headers=customer.headers).status_code == 403
    assert client.http.delete(f"{PATH}/{target['id']}", headers=customer.headers).status_code == 403
    assert post(client, {"name": "x"}, {}).status_code == 401
    assert client.http.get(PATH).status_code == 401
    assert client.http.delete(f"{PATH}/{target['id']}").status_code == 401
    assert authenticate(client, target["key"]).status_code == 200  # still live


def test_i11_11_the_local_bootstrap_revokes_the_previous_local_operator_key(client, admin_conn):
    from chalicelib.auth.bootstrap import create_operator_key
    from devstack.bootstrap import LOCAL_KEY_NAME, OPERATOR_EMAIL, local_credentials

    other = create_operator_key(email=OPERATOR_EMAIL, name="Local operator", key_name="kept")  # another name
    first = local_credentials()
    first_token = json.loads(authenticate(client, first["operator_api_key"]).body)["token"]
    assert client.http.get(PATH, headers=bearer(first_token)).status_code == 200

    second = local_credentials()  # the next `make run`

    assert authenticate(client, first["operator_api_key"]).status_code == 401
    assert client.http.get(PATH, headers=bearer(first_token)).status_code == 401  # minted before: dead too
    second_token = json.loads(authenticate(client, second["operator_api_key"]).body)["token"]
    assert client.http.get(PATH, headers=bearer(second_token)).status_code == 200
    assert authenticate(client, other.key).status_code == 200  # only the local-stack key is replaced

    live_local = admin_conn.execute(
        "SELECT k.id FROM operator_api_keys k JOIN operators o ON o.id = k.operator_id"
        " WHERE o.email = %s AND k.name = %s AND k.revoked_at IS NULL",
        (OPERATOR_EMAIL, LOCAL_KEY_NAME),
    ).fetchall()
    assert len(live_local) == 1
    first_id = admin_conn.execute(
        "SELECT id FROM operator_api_keys WHERE public_id = %s", (first["operator_api_key"].split("_")[1],)
    ).fetchone()["id"]
    revoked = [e for e in audit_events(admin_conn, first_id) if e["action"] == "operator_key.revoked"]
    assert len(revoked) == 1 and revoked[0]["customer_id"] is None and revoked[0]["actor"] == "system:bootstrap"
    assert revoked[0]["detail"]["reason"] == "replaced_by_bootstrap"
