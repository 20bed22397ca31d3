"""Local credentials written to ``.local/stack.json``: an operator key, a demo customer's key, its owner.

Fresh keys on every start: the full key is never stored anywhere but in
``.local/stack.json`` on this machine. Each start revokes the keys of the
previous one (the local operator's and the demo customer's live keys named
``local-stack``), so local keys do not pile up; only the newest works.

The demo customer's owner, a person (``DEMO_USER_EMAIL``), has a fixed local
password instead: each start puts the user back as printed (that password, no
MFA, role owner), whatever was done to it since, so the printed credentials
always log in. Only what differs is changed, and each change is audited.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

OPERATOR_EMAIL = "operator@saas.local"
DEMO_EMAIL = "demo@saas.local"
LOCAL_KEY_NAME = "local-stack"
# The demo customer's owner: a local-only password, printed at start (never a cloud credential).
DEMO_USER_EMAIL = "owner@demo.local"
DEMO_USER_PASSWORD = "demo-owner-password"
DEMO_USER_NAME = "Demo Owner"
BOOTSTRAP_ACTOR = "system:bootstrap"


def write_stack_info(path: Path, info: dict[str, Any]) -> None:
    """Write ``stack.json`` readable by its owner only (0600): it holds live API keys.

    The content goes to a temporary file created 0600 in the same directory and
    then replaces ``path``, so the keys are never readable by others, not even
    for a moment, and an older world-readable file is replaced, not reused.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".stack-", suffix=".json")  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(info, indent=2) + "\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def local_credentials() -> dict[str, str | None]:
    """The operator key, the demo customer's key and its owner; the stack's environment must be exported."""
    from chalicelib.auth.bootstrap import create_operator_key

    operator = create_operator_key(
        email=OPERATOR_EMAIL, name="Local operator", key_name=LOCAL_KEY_NAME, replace_previous=True
    )
    customer_id, key = demo_customer()
    demo_owner(customer_id)
    return {
        "operator_api_key": operator.key,
        "demo_customer_api_key": key,
        "demo_user_email": DEMO_USER_EMAIL,
        "demo_user_password": DEMO_USER_PASSWORD,
    }


def demo_customer() -> tuple[uuid.UUID, str]:
    """Onboard the demo customer on first start; later starts give it a new key. Its id and key."""
    from chalicelib.core import db
    from chalicelib.core.context import TenantRole
    from chalicelib.customers import repository, service
    from chalicelib.customers import service as customers_service
    from chalicelib.customers.models import OnboardBody
    from chalicelib.keys import repository as keys_repository
    from chalicelib.keys import service as keys_service
    from chalicelib.keys.service import issue_key

    with db.operator_transaction() as conn:
        existing = repository.find_by_email(conn, DEMO_EMAIL)
    if existing is None:
        created = service.onboard(OnboardBody(name="Demo Co", email=DEMO_EMAIL, tier="growth"))
        return created.customer.id, created.api_key["key"]
    with db.tenant_transaction(existing["id"], actor=BOOTSTRAP_ACTOR) as conn:
        # The keys earlier starts made: the onboarding key of the first, ``local-stack`` of the others.
        previous = keys_repository.live_ids_named(conn, [LOCAL_KEY_NAME, customers_service.FIRST_KEY_NAME])
        key = issue_key(
            conn, customer_id=existing["id"], name=LOCAL_KEY_NAME, expires_at=None, role=TenantRole.ADMIN
        ).key
    # The previous start's key goes, as the operator's does: revoked (audited, its tokens dead at once)
    # through the same path as DELETE /api-keys/{id}, so local keys do not pile up past the tier's limit.
    for key_id in previous:
        keys_service.revoke(existing["id"], key_id, TenantRole.OWNER)  # the stack tidying up, not a tenant
    return existing["id"], key


def demo_owner(customer_id: uuid.UUID) -> uuid.UUID:
    """Create the demo customer's owner, or put it back as printed: the known password, no MFA, owner.

    Through the runtime's own code: its SQL (``users.repository``, ``auth.people``,
    ``users.mfa``), bcrypt at the stack's cost, one tenant transaction audited as
    ``system:bootstrap``. Each change is the audit event the API would record for
    it; an unchanged user (the usual restart) is left alone and nothing is written.
    """
    from chalicelib.auth import passwords, people
    from chalicelib.core import db
    from chalicelib.core.settings import get_settings
    from chalicelib.users import mfa
    from chalicelib.users import repository as users

    cost = get_settings().bcrypt_cost
    with db.tenant_transaction(customer_id, actor=BOOTSTRAP_ACTOR) as conn:
        found = people.find_user(conn, DEMO_USER_EMAIL)
        if found is None:
            password_hash = passwords.hash_password(DEMO_USER_PASSWORD, cost)
            user = users.insert_user(
                conn,
                customer_id=customer_id,
                email=DEMO_USER_EMAIL,
                name=DEMO_USER_NAME,
                role="owner",
                password_hash=password_hash,
            )
            user_id: uuid.UUID = user["id"]
            _audit(conn, customer_id, user_id, "user.created", {"email": DEMO_USER_EMAIL, "role": "owner"})
            return user_id
        if found.customer_id != customer_id:
            raise RuntimeError(f"{DEMO_USER_EMAIL} is a user of another customer ({found.customer_id}), not the demo's")
        user_id = found.user_id
        current = people.get_user(conn, user_id, for_update=True)
        if current is None:  # removed between the two statements: the next start creates it again
            raise RuntimeError(f"{DEMO_USER_EMAIL} disappeared while the local stack was starting; start it again")
        if not passwords.verify_password(DEMO_USER_PASSWORD, found.password_hash):
            people.set_password(conn, user_id, passwords.hash_password(DEMO_USER_PASSWORD, cost))
            _audit(conn, customer_id, user_id, "user.password_reset", {"by": "local stack"})
        if current["mfa_enabled"] or current["mfa_pending_secret"] is not None:
            conn.execute(mfa.DISABLE, {"id": user_id})
            conn.execute(mfa.DELETE_CODES, {"id": user_id})
            _audit(conn, customer_id, user_id, "user.mfa_disabled", {"by": "local stack"})
        if current["role"] != "owner":
            users.set_role(conn, user_id, "owner")
            detail = {"from": current["role"], "to": "owner", "sessions_ended": True}
            _audit(conn, customer_id, user_id, "user.role_changed", detail)
    return user_id


def _audit(conn: Any, customer_id: uuid.UUID, user_id: uuid.UUID, action: str, detail: dict[str, Any]) -> None:
    from chalicelib.audit import recorder

    recorder.record(conn, customer_id=customer_id, action=action, target_type="user", target_id=user_id, detail=detail)
