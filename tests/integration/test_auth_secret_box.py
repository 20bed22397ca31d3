"""auth.secret_box against the local stack's KMS (moto): sealing, owner binding, outages, restarts."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.auth import secret_box
from chalicelib.auth.secret_box import SecretBoxError
from chalicelib.core import aws
from chalicelib.core.contract import LOCAL_MFA_KEY_ID, Env, SealedPurpose
from chalicelib.core.settings import get_settings


def _context(customer_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None) -> dict[str, str]:
    return {
        "purpose": SealedPurpose.MFA_TOTP,
        "customer_id": str(customer_id or uuid.uuid4()),
        "user_id": str(user_id or uuid.uuid4()),
    }


@pytest.fixture
def secret():
    return b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a TOTP secret: 32 bytes


def test_the_stack_gives_the_runtime_its_kms_key(stack):
    assert stack.env[Env.MFA_KEY_ID] == LOCAL_MFA_KEY_ID == get_settings().mfa_key_id
    metadata = aws.client("kms").describe_key(KeyId=LOCAL_MFA_KEY_ID)["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled" and metadata["KeyUsage"] == "ENCRYPT_DECRYPT"


def test_seal_and_unseal_round_trip_and_the_ciphertext_is_not_the_plaintext(stack, secret):
    context = _context()
    sealed = secret_box.seal(secret, context)
    assert secret not in sealed and sealed != secret
    assert secret_box.unseal(sealed, context) == secret
    assert secret_box.unseal(sealed, dict(reversed(context.items()))) == secret  # order is no part of it
    assert secret_box.seal(secret, context) != sealed  # a fresh IV each time


def test_a_ciphertext_copied_to_another_user_or_tenant_does_not_open(stack, secret):
    customer_id, user_id = uuid.uuid4(), uuid.uuid4()
    sealed = secret_box.seal(secret, _context(customer_id, user_id))
    with pytest.raises(SecretBoxError):
        secret_box.unseal(sealed, _context(customer_id, uuid.uuid4()))
    with pytest.raises(SecretBoxError):
        secret_box.unseal(sealed, _context(uuid.uuid4(), user_id))
    with pytest.raises(SecretBoxError):
        secret_box.unseal(sealed, {**_context(customer_id, user_id), "extra": "field"})


def test_an_altered_or_foreign_ciphertext_does_not_open(stack, secret):
    context = _context()
    sealed = bytearray(secret_box.seal(secret, context))
    sealed[-1] ^= 0x01
    with pytest.raises(SecretBoxError):
        secret_box.unseal(bytes(sealed), context)
    # (Not a well-formed blob naming an unknown key: real KMS calls that InvalidCiphertext, moto AccessDenied.)
    for garbage in (b"", b"x", b"y" * (secret_box.MAX_CIPHERTEXT_BYTES + 1)):
        with pytest.raises(SecretBoxError):
            secret_box.unseal(garbage, context)


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"customer_id": "c", "user_id": "u"},
        {"purpose": "something_else", "user_id": "u"},
        {"purpose": SealedPurpose.MFA_TOTP, "user_id": ""},
    ],
)
def test_a_context_without_a_known_purpose_or_with_empty_values_is_the_callers_bug(stack, secret, context):
    with pytest.raises(ValueError, match=r"purpose|non-empty"):
        secret_box.seal(secret, context)
    with pytest.raises(ValueError, match=r"purpose|non-empty"):
        secret_box.unseal(b"ciphertext", context)


@pytest.mark.parametrize("plaintext", [b"", b"x" * (secret_box.MAX_PLAINTEXT_BYTES + 1)])
def test_plaintext_outside_kms_limits_is_refused(stack, plaintext):
    with pytest.raises(ValueError, match="1 to 4096 bytes"):
        secret_box.seal(plaintext, _context())


def test_a_kms_outage_is_dependency_unavailable_and_the_breaker_then_answers_at_once(stack, secret):
    context = _context()
    sealed = secret_box.seal(secret, context)
    aws.reset_breakers()
    try:
        with stack.aws.outage("kms") as outages:
            with pytest.raises(aws.DependencyUnavailable) as raised:
                secret_box.unseal(sealed, context)
            assert raised.value.service == "kms"
            calls = outages.refused["kms"]
            with pytest.raises(aws.DependencyUnavailable):
                secret_box.seal(secret, context)
            assert outages.refused["kms"] == calls, "the open breaker does not call KMS again"
    finally:
        aws.reset_breakers()
    assert secret_box.unseal(sealed, context) == secret


def test_the_local_key_outlives_a_restart_of_the_local_endpoint(stack, tmp_path, secret):
    """``make run`` keeps PostgreSQL across restarts and moto keeps nothing: the sealed secrets must still open."""
    from moto.kms.models import kms_backends

    from devstack.aws import local_kms_key

    alias, key_file = f"alias/test-restart-{uuid.uuid4().hex[:8]}", tmp_path / "key.json"
    arn = local_kms_key(stack.aws, alias, key_file)
    assert local_kms_key(stack.aws, alias, key_file) == arn  # idempotent while running
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    kms = stack.aws.client("kms")
    context = _context()
    sealed = kms.encrypt(KeyId=alias, Plaintext=secret, EncryptionContext=context)["CiphertextBlob"]

    # A restart: moto forgets the key and its alias.
    account, region, key_id = arn.split(":")[4], arn.split(":")[3], arn.rsplit("/", 1)[1]
    kms.delete_alias(AliasName=alias)
    del kms_backends[account][region].keys[key_id]

    assert local_kms_key(stack.aws, alias, key_file) == arn
    assert kms.decrypt(KeyId=alias, CiphertextBlob=sealed, EncryptionContext=context)["Plaintext"] == secret
