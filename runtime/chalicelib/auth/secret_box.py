"""Small secrets sealed at rest with KMS (a user's TOTP secret): what is stored is KMS ciphertext.

KMS ``Encrypt``/``Decrypt`` are called directly with the key named by
``MFA_KEY_ID`` (``Settings.mfa_key_id``): the customer-managed key in the
cloud, the local stack's key in moto. No data-key envelope: KMS encrypts up
to 4 KB itself and a TOTP secret is 32 bytes, so an envelope would only add
a second cipher to get right. The plaintext never leaves this process and
the key never leaves KMS.

Every ciphertext is bound to its owner by the *encryption context* (for
instance ``{"purpose": "mfa_totp", "customer_id": ..., "user_id": ...}``):
KMS authenticates it with the ciphertext, so a ciphertext copied to another
user's row (or read back for another purpose) does not decrypt. The
``purpose`` is one of ``contract.SealedPurpose``: the API role's IAM grant
allows direct Encrypt/Decrypt only with those, so the role cannot use the
key to open what the AWS services encrypt with it.

KMS behind the breaker (``core.aws``): an outage raises
``DependencyUnavailable`` (the HTTP layer answers 503 with Retry-After).
"""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import ClientError

from chalicelib.core import aws
from chalicelib.core.contract import SealedPurpose
from chalicelib.core.settings import get_settings

# KMS's own limits: Encrypt takes 1 to 4,096 bytes; a ciphertext blob is at most 6,144.
MAX_PLAINTEXT_BYTES = 4096
MAX_CIPHERTEXT_BYTES = 6144
PURPOSE = "purpose"
# What KMS answers when the ciphertext cannot be opened with this key and context (tampered,
# another owner's, another key's); anything else is the deployment's fault and stays a ClientError.
_UNOPENABLE = {"InvalidCiphertextException", "IncorrectKeyException"}


class SecretBoxError(Exception):
    """The ciphertext cannot be opened: altered, sealed for another context, or under another key."""


def seal(plaintext: bytes, context: Mapping[str, str]) -> bytes:
    """KMS ciphertext of ``plaintext``, openable only with the same ``context``.

    Raises ``ValueError`` for an empty or over-long plaintext or a context
    without a known ``purpose`` (the caller's bug, found by its tests), and
    ``DependencyUnavailable`` when KMS cannot serve.
    """
    if not 0 < len(plaintext) <= MAX_PLAINTEXT_BYTES:
        raise ValueError(f"a sealed secret is 1 to {MAX_PLAINTEXT_BYTES} bytes")
    answer = aws.client("kms").encrypt(
        KeyId=get_settings().mfa_key_id, Plaintext=bytes(plaintext), EncryptionContext=_checked(context)
    )
    return bytes(answer["CiphertextBlob"])


def unseal(ciphertext: bytes, context: Mapping[str, str]) -> bytes:
    """The plaintext :func:`seal` was given with this ``context``.

    Raises :class:`SecretBoxError` when the ciphertext cannot be opened with
    this key and context, and ``DependencyUnavailable`` when KMS cannot serve.
    The key is named on ``Decrypt`` too, so a ciphertext under some other key
    the role may use is refused rather than opened.
    """
    encryption_context = _checked(context)
    if not 0 < len(ciphertext) <= MAX_CIPHERTEXT_BYTES:
        raise SecretBoxError("not a ciphertext of this box")
    try:
        answer = aws.client("kms").decrypt(
            KeyId=get_settings().mfa_key_id, CiphertextBlob=bytes(ciphertext), EncryptionContext=encryption_context
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _UNOPENABLE:
            raise SecretBoxError("the ciphertext cannot be opened with this key and context") from error
        raise
    return bytes(answer["Plaintext"])


def _checked(context: Mapping[str, str]) -> dict[str, str]:
    """The context as KMS takes it; it must name a known purpose, and every value must be a non-empty string."""
    if context.get(PURPOSE) not in set(SealedPurpose):
        raise ValueError(f"the context's {PURPOSE!r} must be one of {sorted(SealedPurpose)}")
    if not all(isinstance(value, str) and value for value in context.values()):
        raise ValueError("encryption context values are non-empty strings")
    return {str(key): str(value) for key, value in context.items()}
