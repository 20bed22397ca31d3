"""Issue 11, item 4: knowing a key's public id is not enough to lock its holder out.

The public id is visible in ``GET /api-keys``, in audit details and in logs.
Failed attempts are throttled per public id *and client address*: the
guesser's address gets 429 (before any bcrypt work), the holder elsewhere -
even on a cold verification cache, where bcrypt must run - still gets a token.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.auth import authentication, clock, key_format, signing, throttle, verification_cache
from chalicelib.core import errors

ATTACKER = "203.0.113.7"
HOLDER = "198.51.100.20"


@pytest.fixture
def uncached_key(client, new_customer):
    """A key its holder has never used: no verification is cached, so authenticating it runs bcrypt."""
    customer = new_customer()
    response = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": "cold"}))
    assert response.status_code == 201
    return json.loads(response.body)["key"]


def _wrong(api_key: str) -> str:
    parsed = key_format.parse(api_key)
    return f"{parsed.prefix}{parsed.public_id}_" + "Z" * 43


def test_i11_4_guesses_on_a_public_id_do_not_lock_out_the_holder(uncached_key, monkeypatch):
    for _ in range(throttle.MAX_FAILURES):
        with pytest.raises(errors.Unauthorized):
            authentication.authenticate(_wrong(uncached_key), client_address=ATTACKER)
    bcrypt_calls = []
    real_checkpw = key_format.bcrypt.checkpw
    monkeypatch.setattr(key_format.bcrypt, "checkpw", lambda *a: bcrypt_calls.append(1) or real_checkpw(*a))
    # The guesser is stopped, and costs no bcrypt any more ...
    with pytest.raises(errors.RateLimited):
        authentication.authenticate(_wrong(uncached_key), client_address=ATTACKER)
    assert bcrypt_calls == []
    # ... while the holder, from its own address and on a cold cache, authenticates.
    assert (
        verification_cache.cached_verification(
            key_format.cache_digest(signing.pepper(), uncached_key), int(clock.now())
        )
        is None
    )
    pair = authentication.authenticate(uncached_key, client_address=HOLDER)
    assert pair.token and bcrypt_calls == [1]


def test_i11_4_the_route_passes_api_gateways_source_address(client, uncached_key, monkeypatch):
    seen = []
    real = authentication.authenticate
    monkeypatch.setattr(
        authentication,
        "authenticate",
        lambda key, *, client_address=None: seen.append(client_address) or real(key, client_address=client_address),
    )
    response = client.http.post(
        "/auth/authenticate", headers={"Content-Type": "application/json"}, body=json.dumps({"api_key": uncached_key})
    )
    assert response.status_code == 200
    assert seen == ["127.0.0.1"]  # chalice's local gateway: requestContext.identity.sourceIp
