"""What a change to keys or their holders does in DynamoDB, once it has committed in PostgreSQL.

A revocation, a rotation or a suspension takes effect when it commits:
authentication (``auth_open_session3``), refresh (``auth_refresh_session``)
and the per-request guard (``auth_*_session_state``, migration 0045) read PostgreSQL, so every
process refuses the key, its holder's sessions and their refresh tokens from
the next request on. Only *after* the commit does the area that made the
change call :func:`after_keys_changed`, which deletes the keys'
verification-cache entries (the order the cache's protocol relies on:
``auth.verification_cache``). Keys (``chalicelib.keys``), operator keys
(``chalicelib.operator_keys``, ``auth.bootstrap``) and customers
(``chalicelib.customers``) all call it; none touches the cache itself.
Sessions have no record in DynamoDB to tidy (migration 0044).

During a DynamoDB outage the clean-up is skipped and logged; PostgreSQL
still refuses a dead key or holder on every authentication and request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from chalicelib.auth import verification_cache


def after_keys_changed(key_ids: Iterable[uuid.UUID]) -> None:
    """Call after the commit that changed ``key_ids`` (revoked, rotated) or their holder (suspended).

    Their cache entries are deleted: an entry carries the key's validity,
    which a rotation's overlap shortens, and a suspended holder's keys must be
    verified against PostgreSQL again.
    """
    ids = list(key_ids)
    if ids:
        verification_cache.forget_keys(ids)
