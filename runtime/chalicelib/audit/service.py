"""A tenant's own audit trail, newest first (``GET /audit-events``), its chain head, and the retention purge.

The chain columns (sequence, hashes) stay internal, except the newest link
(``GET /audit-events/head``): a customer who keeps it can later have the
chain checked against it (``verify_audit_chain`` recomputes every hash up to
that event), so history before it cannot be rewritten unnoticed.
"""

from __future__ import annotations

import uuid

from chalicelib.audit import recorder, repository
from chalicelib.audit.models import AuditChainHead, AuditEvent, AuditEventPage, AuditEventQuery
from chalicelib.core import db
from chalicelib.core.pagination import keyset_page

RETENTION_ACTOR = "system:audit_retention"
RETENTION_YEARS = 7


def list_events(customer_id: uuid.UUID, query: AuditEventQuery) -> AuditEventPage:
    """``query.limit`` events of ``customer_id``'s trail after ``query.cursor``, newest first."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_events(conn, limit=limit, after=after), sort="occurred_at"
        )
    return AuditEventPage(items=[AuditEvent.model_validate(row) for row in rows], next_cursor=next_cursor)


def chain_head(customer_id: uuid.UUID) -> AuditChainHead:
    """The newest event of ``customer_id``'s chain (count 0 and nulls when it has none)."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.chain_head(conn, customer_id)
    return AuditChainHead(
        count=row["chain_seq"] or 0, last_event_id=row["last_event_id"], last_hash=row["last_hash"], as_of=row["as_of"]
    )


def purge_expired() -> int:
    """Delete audit events past the retention, nothing else; a purge that removed any says so on the platform chain.

    Runs as the purge's own role (migration 0034), which this job may only call;
    the ``audit.purged`` event commits with the deletion.
    """
    with db.operator_transaction(actor=RETENTION_ACTOR) as conn:
        purged = repository.purge_expired(conn)
        if purged:
            recorder.record(
                conn,
                customer_id=None,
                action="audit.purged",
                target_type="audit_events",
                detail={"purged": purged, "retention_years": RETENTION_YEARS},
            )
    return purged
