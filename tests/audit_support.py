"""Helpers shared by the audit tests (integration, API and the Lambda harness)."""

from __future__ import annotations

import psycopg

# As the superuser with triggers off (what only an attacker with superuser rights, or a
# test, can do): move the chain's newest event back and recompute its hash.
_AGE_NEWEST = """
UPDATE audit_events
   SET occurred_at = occurred_at - make_interval(years => %(years)s),
       hash = audit_event_hash(chain_key, chain_seq, prev_hash, occurred_at - make_interval(years => %(years)s),
                               actor, action, target_type, target_id, detail, request_id)
 WHERE chain_key = %(chain)s
   AND chain_seq = (SELECT max(chain_seq) FROM audit_events WHERE chain_key = %(chain)s)
"""


def age_newest_event(admin_url: str, customer_id, years: int) -> None:
    """Make ``customer_id``'s newest audit event ``years`` old, as if it had been written then.

    Since migration 0034 nobody can date an event (the trigger takes the
    database's clock), so a test of the 7-year retention needs this. The
    newest event is the one changed, so the chain stays intact and the next
    event links to the new hash.
    """
    with psycopg.connect(admin_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(_AGE_NEWEST, {"chain": customer_id, "years": years})
