"""Looking a key up by public id before the tenant is known, under FORCE RLS."""

import psycopg
import pytest
from psycopg.rows import dict_row

from chalicelib.auth import key_format


def test_app_role_finds_one_key_by_public_id_without_tenant_context(app_url, key_row):
    customer_id, key_id, new = key_row
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM auth_find_customer_key(%s)", (new.public_id,)).fetchone()
        assert (row["key_id"], row["customer_id"], row["customer_status"]) == (key_id, customer_id, "active")
        assert conn.execute("SELECT * FROM auth_find_customer_key(%s)", ("nosuchkey123",)).fetchone() is None
        # Without tenant context the table itself still shows nothing to the app role.
        assert conn.execute("SELECT count(*) AS n FROM api_keys").fetchone()["n"] == 0


def test_the_schema_owner_still_sees_no_rows_under_force_rls(admin_url, key_row):
    with psycopg.connect(admin_url) as conn:
        conn.execute("SET ROLE saas_admin")
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 0


def test_the_lookup_function_cannot_list_keys(app_url, key_row):
    with psycopg.connect(app_url) as conn:
        for pattern in ("%", "", None):
            assert conn.execute("SELECT count(*) FROM auth_find_customer_key(%s)", (pattern,)).fetchone()[0] == 0


def test_saas_auth_cannot_be_assumed_by_the_app_login(app_url):
    with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SET ROLE saas_auth")


def test_operator_keys_are_found_by_their_own_function(app_url, stack):
    from chalicelib.auth.bootstrap import create_operator_key

    created = create_operator_key(email="lookup-op@saas.local")
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT * FROM auth_find_operator_key(%s)", (key_format.parse(created.key).public_id,)
        ).fetchone()
    assert row["operator_id"] == created.operator_id and row["operator_disabled"] is False
