"""Issue 11, item 5: unauthenticated callers cannot write at will into the audit chain.

Failed authentications used to append one permanent, hash-chained row each
(under the chain's single lock), unknown public ids into the platform chain.
Now: an unknown public id is logged only; a real key's failures give at most
one ``auth.failed`` event per public id and 5-minute window, on its holder's chain.
"""

from __future__ import annotations

import secrets

import pytest

from chalicelib.auth import authentication, key_format
from chalicelib.core import errors


def _audited(admin_conn, public_ids) -> list[dict]:
    return admin_conn.execute(
        "SELECT customer_id, action, detail FROM audit_events WHERE action LIKE 'auth.%%'"
        " AND detail->>'public_id' = ANY(%s)",
        (list(public_ids),),
    ).fetchall()


def test_i11_5_unknown_public_ids_write_nothing_to_the_audit_trail(admin_conn):
    public_ids = []
    for n in range(30):
        public_id = secrets.token_hex(6)
        public_ids.append(public_id)
        with pytest.raises(errors.Unauthorized):
            authentication.authenticate(f"sk_test_{public_id}_" + "A" * 43, client_address=f"192.0.2.{n}")
    assert _audited(admin_conn, public_ids) == []


def test_i11_5_a_real_keys_failures_are_audited_once_per_window(new_customer, admin_conn):
    customer = new_customer()
    parsed = key_format.parse(customer.api_key)
    wrong = f"{parsed.prefix}{parsed.public_id}_" + "Z" * 43
    for n in range(25):  # many addresses: the throttle does not stop them, the audit must still stay bounded
        with pytest.raises(errors.Unauthorized):
            authentication.authenticate(wrong, client_address=f"198.51.100.{n}")
    rows = _audited(admin_conn, [parsed.public_id])
    failed = [row for row in rows if row["action"] == "auth.failed"]
    assert 1 <= len(failed) <= 2  # one per 5-minute window; the loop may straddle a window boundary
    assert failed[0]["customer_id"] == customer.customer_id  # the holder's chain, not the platform's
    assert failed[0]["detail"]["reason"] == "wrong_secret" and failed[0]["detail"]["first_in_window"] is True
