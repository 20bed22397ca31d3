"""Fixtures shared by the integration tests."""

from __future__ import annotations

import psycopg
import pytest

from chalicelib.auth import key_format


@pytest.fixture
def key_row(admin_url, make_customer):
    """A customer and one API key inserted directly: ``(customer_id, key_id, generated key)``."""
    customer_id = make_customer()
    new = key_format.generate("sk_test_", cost=4)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        key_id = conn.execute(
            "INSERT INTO api_keys (customer_id, name, prefix, public_id, secret_hash)"
            " VALUES (%s, 'k', %s, %s, %s) RETURNING id",
            (customer_id, new.prefix, new.public_id, new.secret_hash),
        ).fetchone()[0]
    return customer_id, key_id, new
