"""Creating operator keys outside the API: the local stack's bootstrap and the cloud's first operator.

In the cloud, after ``cdk deploy``, invoke the ``create_operator_key`` Lambda
function once (see README.md); locally, ``make operator-key`` or the dev stack
call :func:`create_operator_key` directly. The key is returned once and never
logged. Once an operator holds a key, further keys are made, listed and
revoked through ``/admin/operator-keys`` (``chalicelib.operator_keys``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chalicelib.auth import repository
from chalicelib.auth.revocation import after_keys_changed
from chalicelib.core import db
from chalicelib.core.text import is_email_address
from chalicelib.operator_keys import service as operator_keys

ACTOR = "system:bootstrap"


@dataclass(frozen=True, slots=True)
class OperatorKey:
    operator_id: uuid.UUID
    key_id: uuid.UUID
    key: str


def create_operator_key(
    *, email: str, name: str = "Platform operator", key_name: str = "bootstrap", replace_previous: bool = False
) -> OperatorKey:
    """Create (or reuse) the operator with ``email`` and give it a new ``op_`` key named ``key_name``.

    With ``replace_previous`` the operator's live keys of that same name are
    revoked in the same transaction (the local stack's key of its previous
    start: one live local key, not one more per start); audited, and refused
    on their next use like any revoked key.
    """
    if not is_email_address(email or ""):
        raise ValueError("a valid operator e-mail address is required")
    key_name = key_name[:100] or "bootstrap"
    new = operator_keys.new_key()
    with db.operator_transaction() as conn:
        # The upsert locks the operator's row: two bootstraps of one operator take turns.
        operator_id = repository.upsert_operator(conn, name=name[:200] or "Platform operator", email=email)
        replaced = (
            operator_keys.revoke_named(
                conn, operator_id=operator_id, name=key_name, reason="replaced_by_bootstrap", actor=ACTOR
            )
            if replace_previous
            else []
        )
        created = operator_keys.issue_key(
            conn, operator_id=operator_id, name=key_name, expires_at=None, new=new, actor=ACTOR
        )
    after_keys_changed(replaced)
    return OperatorKey(operator_id=operator_id, key_id=created.id, key=new.key)


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
