"""What a change to keys or their holders does in DynamoDB, once it has committed in PostgreSQL.

A revocation, a rotation or a suspension takes effect when it commits:
authentication (``auth_open_session``) and the per-request guard
(``auth_request_state``) read PostgreSQL, so every process refuses the key,
or its holder's sessions, from the next request on. Only *after* the commit
does the area that made the change call :func:`after_keys_changed`, which
tidies DynamoDB: the keys' verification-cache entries (the order the cache's
protocol relies on: ``auth.verification_cache``) and, for keys that are now
dead, their session records. Keys (``chalicelib.keys``), operator keys
(``chalicelib.operator_keys``, ``auth.bootstrap``) and customers
(``chalicelib.customers``) all call it; none touches the cache itself.

During a DynamoDB outage the clean-ups are skipped and logged; PostgreSQL
still refuses a dead key or holder on every authentication and request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from chalicelib.auth import session_records, verification_cache


def after_keys_changed(key_ids: Iterable[uuid.UUID], *, keys_revoked: bool) -> None:
    """Call after the commit that changed ``key_ids`` (revoked, rotated) or their holder (suspended).

    Their cache entries are always deleted: an entry carries the key's
    validity, which a rotation's overlap shortens, and a suspended holder's
    keys must be verified against PostgreSQL again. With ``keys_revoked``
    (revoked now, or rotated without overlap) their session records are
    flagged revoked too.
    """
    ids = list(key_ids)
    if not ids:
        return
    verification_cache.forget_keys(ids)
    if keys_revoked:
        for key_id in ids:
            session_records.revoke_key_sessions(key_id)
