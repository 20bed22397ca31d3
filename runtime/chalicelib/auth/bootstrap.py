"""Creating operator keys: the local stack's bootstrap and the cloud's first operator.

In the cloud, after ``cdk deploy``, invoke the ``create_operator_key`` Lambda
function once (see README.md); locally, ``make operator-key`` or the dev stack
call :func:`create_operator_key` directly. The key is returned once and never
logged.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from chalicelib.audit import recorder
from chalicelib.auth import keys, repository
from chalicelib.core import db
from chalicelib.core.settings import get_settings

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class OperatorKey:
    operator_id: uuid.UUID
    key_id: uuid.UUID
    key: str


def create_operator_key(*, email: str, name: str = "Platform operator", key_name: str = "bootstrap") -> OperatorKey:
    """Create (or reuse) the operator with ``email`` and give it a new ``op_`` key."""
    if not _EMAIL.match(email or "") or len(email) > 320:
        raise ValueError("a valid operator e-mail address is required")
    new = keys.generate(keys.OPERATOR_PREFIX, cost=get_settings().bcrypt_cost)
    with db.operator_transaction() as conn:
        operator_id = repository.upsert_operator(conn, name=name[:200] or "Platform operator", email=email)
        row = repository.insert_operator_key(conn, operator_id=operator_id, name=key_name[:100] or "bootstrap",
                                             public_id=new.public_id, secret_hash=new.secret_hash, expires_at=None)
        recorder.record(conn, customer_id=None, action="operator_key.created", target_type="operator_api_key",
                        target_id=row["id"], detail={"operator_id": str(operator_id), "public_id": new.public_id},
                        actor="system:bootstrap")
    return OperatorKey(operator_id=operator_id, key_id=row["id"], key=new.key)


def main(argv: list[str] | None = None) -> int:
    """``python -m chalicelib.auth.bootstrap --email ops@example.com``: print a new operator key once."""
    import argparse

    parser = argparse.ArgumentParser(description="Create an operator API key against the configured database.")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", default="Platform operator")
    args = parser.parse_args(argv)
    created = create_operator_key(email=args.email, name=args.name, key_name="cli")
    print(f"operator_id={created.operator_id}\nkey_id={created.key_id}\napi_key={created.key}")
    print("Store the key now: it is shown only once.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
