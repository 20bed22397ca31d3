"""The registered claims of a valid customer API-key token, for the token tests to vary."""

from __future__ import annotations

import time
import uuid
from typing import Any

ISS, AUD = "https://issuer.test", "saas-api"


def valid_claims(**overrides: Any) -> dict[str, Any]:
    """Claims ``tokens.verify`` accepts (issuer ``ISS``, audience ``AUD``); an override of ``...`` drops the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "role": "customer",
        "key_id": str(uuid.uuid4()),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 3600,
        "iss": ISS,
        "aud": AUD,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not ...}
