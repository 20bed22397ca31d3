"""Issue 11, item 3: ``max_api_keys`` holds against concurrent creates and repeated rotation.

Keys in a rotation's overlap are live, so they count; creates and rotations of
one tenant are serialized before the count.
"""

from __future__ import annotations

import json
import threading

import psycopg

from chalicelib.core import errors
from chalicelib.core.context import TenantRole
from chalicelib.keys import service as keys_service
from chalicelib.keys.models import CreateKeyBody

STARTER_LIMIT = 5  # max_api_keys of the starter tier


def _live_keys(admin_url, customer_id) -> int:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM api_keys WHERE customer_id = %s"
            " AND (revoked_at IS NULL OR revoked_at > now())"
            " AND (expires_at IS NULL OR expires_at > now())",
            (customer_id,),
        ).fetchone()[0]


def test_i11_3_twelve_concurrent_creates_never_exceed_a_five_key_tier(new_customer, admin_url):
    customer = new_customer("starter")  # one key from onboarding
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def create(n: int) -> None:
        barrier.wait()
        try:
            keys_service.create(customer.customer_id, CreateKeyBody(name=f"k{n}"), TenantRole.ADMIN)
            outcomes.append("created")
        except errors.Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert _live_keys(admin_url, customer.customer_id) == STARTER_LIMIT
    assert sorted(outcomes) == ["conflict"] * 8 + ["created"] * 4


def _rotate(client, customer, key_id, overlap=None):
    body = {} if overlap is None else {"overlap_seconds": overlap}
    return client.http.post(f"/api-keys/{key_id}/rotate", headers=customer.headers, body=json.dumps(body))


def test_i11_3_rotating_repeatedly_cannot_exceed_the_limit(client, new_customer, admin_url):
    customer = new_customer("starter")
    key_id = customer.key_id
    statuses = []
    for _ in range(10):  # each rotation keeps the old key for a day; rotate the newest again
        response = _rotate(client, customer, key_id)
        statuses.append(response.status_code)
        if response.status_code == 201:
            key_id = json.loads(response.body)["id"]
    assert statuses == [201] * (STARTER_LIMIT - 1) + [409] * (10 - STARTER_LIMIT + 1)
    assert _live_keys(admin_url, customer.customer_id) == STARTER_LIMIT
    # At the limit, a rotation without overlap replaces the key and stays at the limit.
    response = _rotate(client, customer, key_id, overlap=0)
    assert response.status_code == 201, response.body
    assert _live_keys(admin_url, customer.customer_id) == STARTER_LIMIT
    # ... and a create is still refused.
    created = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": "more"}))
    assert created.status_code == 409 and "overlap" in json.loads(created.body)["Message"]


def test_i11_3_keys_in_their_overlap_count_against_creates(client, new_customer, admin_url):
    customer = new_customer("starter")
    assert _rotate(client, customer, customer.key_id, overlap=3600).status_code == 201
    statuses = [
        client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": f"k{n}"})).status_code
        for n in range(4)
    ]
    assert statuses == [201, 201, 201, 409]  # 1 new + 1 in overlap + 3 created = 5
    assert _live_keys(admin_url, customer.customer_id) == STARTER_LIMIT
