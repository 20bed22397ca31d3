"""API key format and HS256 tokens: pure rules, no stack."""

import base64
import json
import time
import uuid

import jwt
import pytest

from chalicelib.auth import key_format, tokens
from chalicelib.auth.signing import Keyring, SigningKey
from tests.unit.token_claims import AUD, ISS
from tests.unit.token_claims import valid_claims as _claims

CURRENT = SigningKey(kid="k2", secret=b"c" * 64)
PREVIOUS = SigningKey(kid="k1", secret=b"p" * 64)
RING = Keyring(current=CURRENT, previous=PREVIOUS)


def _sign(claims, key=CURRENT, alg="HS256", kid=None):
    return jwt.encode(claims, key.secret, algorithm=alg, headers={"kid": kid or key.kid})


def _b64(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_generated_key_has_prefix_public_id_and_32_byte_secret_and_verifies():
    new = key_format.generate("sk_test_", cost=4)
    parsed = key_format.parse(new.key)
    assert parsed.prefix == "sk_test_" and parsed.public_id == new.public_id
    assert len(base64.urlsafe_b64decode(parsed.secret + "=")) == 32
    assert parsed.secret not in new.secret_hash
    assert key_format.verify_secret(parsed.secret, new.secret_hash)
    assert not key_format.verify_secret(
        parsed.secret[:-1] + ("A" if parsed.secret[-1] != "A" else "B"), new.secret_hash
    )


def test_bcrypt_cost_comes_from_the_caller():
    assert key_format.generate("op_", cost=5).secret_hash.startswith("$2b$05$")


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "sk_live_",
        "pk_live_abcdefghijkl_" + "a" * 43,
        "sk_test_ABCDEFGHIJKL_" + "a" * 43,
        "sk_test_abcdefghijkl_" + "a" * 42,
        "sk_test_abcdefghijkl_" + "a" * 43 + "x" * 200,
        12345,
    ],
)
def test_malformed_keys_do_not_parse(raw):
    assert key_format.parse(raw) is None


def test_corrupt_stored_hash_is_a_failed_verification():
    assert key_format.verify_secret("x" * 43, "not-a-bcrypt-hash") is False


def test_cache_digest_is_keyed_and_never_the_key():
    key = key_format.generate("sk_test_", cost=4).key
    digest = key_format.cache_digest(b"pepper-1", key)
    assert key not in digest and len(digest) == 64
    assert digest != key_format.cache_digest(b"pepper-2", key)


def test_issued_token_verifies_with_all_claims():
    subject, key_id = uuid.uuid4(), uuid.uuid4()
    token = tokens.issue(
        RING, subject=subject, role="operator", key_id=key_id, jti="abc", now=int(time.time()), issuer=ISS, audience=AUD
    )
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": "k2"}
    claims = tokens.verify(token, RING, issuer=ISS, audience=AUD)
    assert (claims.subject, claims.role, claims.key_id, claims.jti) == (subject, "operator", key_id, "abc")
    assert claims.expires_at - claims.issued_at == 24 * 3600
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"sub", "role", "key_id", "jti", "iat", "exp", "iss", "aud"}


def test_token_signed_with_previous_key_still_verifies():
    tokens.verify(_sign(_claims(), key=PREVIOUS), RING, issuer=ISS, audience=AUD)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _sign(_claims(), key=SigningKey("k2", b"x" * 64)), id="wrong-signature"),
        pytest.param(lambda: _sign(_claims(aud="other")), id="wrong-aud"),
        pytest.param(lambda: _sign(_claims(iss="https://evil.test")), id="wrong-iss"),
        pytest.param(lambda: _sign(_claims(exp=int(time.time()) - 1)), id="expired"),
        pytest.param(lambda: _sign(_claims(), kid="unknown"), id="unknown-kid"),
        pytest.param(lambda: _sign(_claims(), alg="HS512"), id="hs512"),
        pytest.param(
            lambda: _b64({"alg": "none", "typ": "JWT", "kid": "k2"}) + "." + _b64(_claims()) + ".", id="alg-none"
        ),
        pytest.param(lambda: "not.a.jwt", id="malformed"),
        pytest.param(lambda: "", id="empty"),
        pytest.param(lambda: _sign({k: v for k, v in _claims().items() if k != "exp"}), id="no-exp"),
        pytest.param(lambda: _sign({k: v for k, v in _claims().items() if k != "jti"}), id="no-jti"),
        pytest.param(lambda: _sign(_claims(role="admin")), id="bad-role"),
        pytest.param(lambda: _sign(_claims(sub="not-a-uuid")), id="bad-sub"),
        pytest.param(lambda: _sign({k: v for k, v in _claims().items() if k != "key_id"}), id="no-key-id"),
    ],
)
def test_invalid_tokens_are_rejected(make):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(make(), RING, issuer=ISS, audience=AUD)


def test_keyring_parses_the_secret_document():
    ring = Keyring.from_json(json.dumps({"current": {"kid": "a", "secret": "s1"}, "previous": None}))
    assert ring.find("a").secret == b"s1" and ring.find("b") is None


def test_customer_keys_are_live_keys_on_the_prod_stage_only():
    assert key_format.customer_prefix("prod") == "sk_live_"
    assert {key_format.customer_prefix(stage) for stage in ("dev", "staging", "local")} == {"sk_test_"}
