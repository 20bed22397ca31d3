"""Tenant roles (issue 13): every tenant route of the OpenAPI document × every role, against the table.

For each role a key of that role is made and authenticated; each route is
called with random ids and an empty body. The permission guard runs before
the body is parsed and before any view, so a refused role gets ``403`` and an
allowed one gets anything else (``400``/``404``/``422``/``2xx``). The
expected answer comes from ``auth.permissions`` (the contract's table): a
route without a rule fails here, and so does a route that decides its own.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from chalicelib.auth import permissions
from chalicelib.core import db
from chalicelib.core.context import TenantRole
from chalicelib.keys.service import issue_key

JSON = {"Content-Type": "application/json"}


def _token(client, api_key: str) -> str:
    response = client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))
    assert response.status_code == 200, response.body
    return json.loads(response.body)["token"]


def _key_of_role(customer_id: uuid.UUID, role: TenantRole) -> str:
    with db.tenant_transaction(customer_id, actor="test") as conn:
        return issue_key(conn, customer_id=customer_id, name=f"role-{role}", expires_at=None, role=role).key


def _tenant_operations(client) -> list[tuple[str, str]]:
    document = json.loads(client.http.get("/openapi.json").body)
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("x-auth") in ("customer", "any"):
                operations.append((method.upper(), path))
    # Logging out ends the session used: last.
    return sorted(operations, key=lambda op: op == ("POST", "/auth/logout"))


def test_every_tenant_route_of_the_openapi_document_answers_each_role_as_the_table_says(client, new_customer):
    customer = new_customer(tier="enterprise")
    keys = {role: _key_of_role(customer.customer_id, role) for role in TenantRole}
    tokens = {role: _token(client, key) for role, key in keys.items()}
    operations = _tenant_operations(client)
    assert ("POST", "/metrics") in operations and ("GET", "/users") in operations
    mismatches = []
    for method, path in operations:
        permission = permissions.permission_for(method, path)
        assert permission is not None, f"{method} {path} has no rule in auth.permissions.ROUTES"
        concrete = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)
        for role in TenantRole:
            headers = {**JSON, "Authorization": f"Bearer {tokens[role]}"}
            body = None if method in ("GET", "DELETE") else "{}"
            response = client.http.request(method, concrete, headers=headers, body=body)
            allowed = permissions.allows(role, permission)
            if (response.status_code == 403) == allowed or response.status_code >= 500:
                mismatches.append((method, path, str(role), response.status_code, response.body[:120]))
    assert not mismatches, "answers that contradict the role table:\n" + "\n".join(map(str, mismatches))


def test_the_onboarding_key_is_admin_and_new_keys_default_to_developer(client, new_customer):
    customer = new_customer()
    listed = json.loads(client.http.get("/api-keys", headers=customer.headers).body)["items"]
    assert [k["role"] for k in listed] == ["admin"]
    created = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": "ci"}))
    assert created.status_code == 201 and json.loads(created.body)["role"] == "developer"


@pytest.mark.parametrize(
    ("caller", "asked", "status"),
    [
        ("admin", "owner", 403),
        ("admin", "admin", 201),
        ("admin", "viewer", 201),
        ("developer", "admin", 403),
        ("developer", "billing", 403),
        ("developer", "developer", 201),
        ("owner", "owner", 201),
    ],
)
def test_a_key_is_never_made_above_the_callers_role(client, new_customer, caller, asked, status):
    customer = new_customer(tier="enterprise")
    headers = {
        **JSON,
        "Authorization": f"Bearer {_token(client, _key_of_role(customer.customer_id, TenantRole(caller)))}",
    }
    response = client.http.post("/api-keys", headers=headers, body=json.dumps({"name": "k", "role": asked}))
    assert response.status_code == status, response.body
    if status == 201:
        made = json.loads(response.body)
        assert made["role"] == asked
        # The new key acts with its role: the token says so, and the guard applies it.
        token = _token(client, made["key"])
        claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["tenant_role"] == asked and claims["user_id"] is None and claims["amr"] == ["key"]


def test_a_developer_cannot_revoke_or_rotate_an_admin_key(client, new_customer):
    customer = new_customer(tier="enterprise")
    headers = {
        **JSON,
        "Authorization": f"Bearer {_token(client, _key_of_role(customer.customer_id, TenantRole.DEVELOPER))}",
    }
    assert client.http.delete(f"/api-keys/{customer.key_id}", headers=headers).status_code == 403
    rotated = client.http.post(f"/api-keys/{customer.key_id}/rotate", headers=headers, body="{}")
    assert rotated.status_code == 403
    # The admin key still works.
    assert client.http.get("/api-keys", headers=customer.headers).status_code == 200


def test_an_unknown_role_is_a_400(client, new_customer):
    customer = new_customer()
    response = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": "k", "role": "root"}))
    assert response.status_code == 400
