"""Local credentials written to ``.local/stack.json``: an operator key and a demo customer's key.

Fresh keys on every start: the full key is never stored anywhere but in
``.local/stack.json`` on this machine. Each start revokes the keys of the
previous one (the local operator's and the demo customer's live keys named
``local-stack``), so local keys do not pile up; only the newest works.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

OPERATOR_EMAIL = "operator@saas.local"
DEMO_EMAIL = "demo@saas.local"
LOCAL_KEY_NAME = "local-stack"


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
    """Create the operator key and the demo customer's key; the stack's environment must be exported."""
    from chalicelib.auth.bootstrap import create_operator_key

    operator = create_operator_key(
        email=OPERATOR_EMAIL, name="Local operator", key_name=LOCAL_KEY_NAME, replace_previous=True
    )
    return {"operator_api_key": operator.key, "demo_customer_api_key": demo_customer_key()}


def demo_customer_key() -> str:
    """Onboard the demo customer on first start; later starts give it a new key."""
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
        return created.api_key["key"]
    with db.tenant_transaction(existing["id"], actor="system:bootstrap") as conn:
        # The keys earlier starts made: the onboarding key of the first, ``local-stack`` of the others.
        previous = keys_repository.live_ids_named(conn, [LOCAL_KEY_NAME, customers_service.FIRST_KEY_NAME])
        key = issue_key(
            conn, customer_id=existing["id"], name=LOCAL_KEY_NAME, expires_at=None, role=TenantRole.ADMIN
        ).key
    # The previous start's key goes, as the operator's does: revoked (audited, its tokens dead at once)
    # through the same path as DELETE /api-keys/{id}, so local keys do not pile up past the tier's limit.
    for key_id in previous:
        keys_service.revoke(existing["id"], key_id, TenantRole.OWNER)  # the stack tidying up, not a tenant
    return key
