"""The fuzzing gate: schemathesis against the app's own /openapi.json — zero 5xx, zero document violations.

How it runs, and why:

* Over real HTTP against Chalice's local server (``devstack.server``, what
  ``make run`` serves) in a thread on a free port, in this pytest process with
  the session's local stack (embedded PostgreSQL, moto). Chalice apps are
  neither WSGI nor ASGI, so schemathesis' in-process transports do not apply;
  the real server also exercises what a client meets and an adaptor would skip:
  Chalice's routing answers (405, 415), header handling, body encoding.
* The schemathesis CLI in a subprocess: it runs every phase (examples,
  coverage, fuzzing, stateful) with one configuration and prints a readable
  report, which this test shows when it fails.
* Deterministic: ``--generation-deterministic`` (no seed, no randomness), no
  example database, one worker. Bounded by ``--max-examples`` per operation.
* Every check except ``positive_data_acceptance``: an opaque cursor, an unknown
  id or a closed ticket are schema-valid inputs that must get a 4xx.
* Once as a customer (public and customer operations) and once as an operator
  (operator and any-role operations); the other role's operations would only
  answer 403. Operations that destroy the fuzzer's own credentials (logout,
  deleting or rotating API keys) would leave the rest of a run
  unauthenticated; they get their own runs, each with a throwaway customer
  (or, for operator keys, a throwaway operator).

It lives in its own directory and pytest process (``make test``) so that the
customers, invoices and billing runs it creates never meet other tests' data.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path

import pytest

from chalicelib.core.observability import logger
from devstack.postgres import free_port
from devstack.server import local_server

MAX_EXAMPLES = 20
# Operations that end the fuzzer's own session or revoke its key: (method, path pattern).
LOGOUT = (("POST", r"/auth/logout"),)
KEY_REVOCATION = (("DELETE", r"/api-keys/{[^}]+}"), ("POST", r"/api-keys/{[^}]+}/rotate"))
# Run with KEY_REVOCATION so the stateful phase has keys to rotate and delete.
KEY_CREATION = (("POST", r"/api-keys"), ("GET", r"/api-keys"))
# The same for operator keys: the list names the fuzzer's own key, which it may then revoke.
OPERATOR_KEY_REVOCATION = (("DELETE", r"/admin/operator-keys/{[^}]+}"),)
OPERATOR_KEY_CREATION = (("POST", r"/admin/operator-keys"), ("GET", r"/admin/operator-keys"))


@pytest.fixture(scope="module")
def api_url(chalice_app):
    # Thousands of requests: keep the application's INFO lines out of the report.
    level = logger.log_level
    logger.setLevel("WARNING")
    port = free_port()
    server = local_server(chalice_app, "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, name="fuzz-api", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server.server_close()
    thread.join(10)
    logger.setLevel(level)


def schemathesis(
    api_url: str, token: str, workdir: Path, *selection: str, authenticated_throughout: bool = True
) -> subprocess.CompletedProcess:
    """Run the CLI; with ``authenticated_throughout`` an operation that only ever got 401/403 fails the run
    (a token that silently stopped working must not pass as "no 5xx")."""
    config = workdir / "schemathesis.toml"
    config.write_text('[warnings]\nfail-on = ["missing_auth"]\n' if authenticated_throughout else "")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{api_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--generation-deterministic",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        *selection,
    ]
    # cwd: no stray report or config files in the repository.
    # check=False: _assert_clean fails the test with schemathesis's report, not a CalledProcessError.
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)


def _assert_clean(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"schemathesis found problems:\n{result.stdout[-30000:]}\n{result.stderr[-5000:]}"
    print(result.stdout[-3000:])  # the summary, shown with -s (figures for the report)


@pytest.fixture(scope="module")
def operations(api_url) -> list[tuple[str, str, str, str | None]]:
    """(operationId, METHOD, path, x-auth) of every documented operation."""
    with urllib.request.urlopen(f"{api_url}/openapi.json", timeout=30) as response:
        document = json.load(response)
    return [
        (operation["operationId"], method.upper(), path, operation.get("x-auth"))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _matching(operations, patterns) -> set[str]:
    return {
        op_id
        for op_id, method, path, _ in operations
        if any(method == m and re.fullmatch(pattern, path) for m, pattern in patterns)
    }


def _only(operation_ids) -> list[str]:
    assert operation_ids
    return [arg for op_id in sorted(operation_ids) for arg in ("--include-operation-id", op_id)]


def test_as_a_customer(api_url, operations, new_customer, tmp_path):
    """Public, customer and any-role operations (operator-only ones would all be 403) as a demo customer."""
    selected = {op_id for op_id, _, _, auth in operations if auth in (None, "customer", "any")}
    selected -= _matching(operations, LOGOUT + KEY_REVOCATION)
    customer = new_customer("enterprise")
    _assert_clean(schemathesis(api_url, customer.token, tmp_path, *_only(selected)))


def test_as_an_operator(api_url, operations, operator_headers, tmp_path):
    """Operator and any-role operations (public ones ran in the customer pass)."""
    selected = {op_id for op_id, _, _, auth in operations if auth in ("operator", "any")}
    selected -= _matching(operations, LOGOUT + KEY_REVOCATION + OPERATOR_KEY_REVOCATION)
    token = operator_headers["Authorization"].removeprefix("Bearer ")
    _assert_clean(schemathesis(api_url, token, tmp_path, *_only(selected)))


def test_key_rotation_and_revocation_with_a_throwaway_customer(api_url, operations, new_customer, tmp_path):
    selected = _matching(operations, KEY_REVOCATION + KEY_CREATION)
    assert len(selected) == 4, "expected POST/GET /api-keys, DELETE /api-keys/{id}, POST /api-keys/{id}/rotate"
    # Deleting or rotating its own key may end the session mid-run: later 401s are expected there.
    _assert_clean(
        schemathesis(
            api_url, new_customer("enterprise").token, tmp_path, *_only(selected), authenticated_throughout=False
        )
    )


def test_operator_key_revocation_with_a_throwaway_operator(api_url, operations, tmp_path):
    from chalicelib.auth.bootstrap import create_operator_key

    selected = _matching(operations, OPERATOR_KEY_REVOCATION + OPERATOR_KEY_CREATION)
    assert len(selected) == 3, "expected POST/GET /admin/operator-keys, DELETE /admin/operator-keys/{id}"
    created = create_operator_key(email=f"fuzz-{uuid.uuid4().hex[:8]}@saas.local", name="Fuzz", key_name="fuzz")
    request = urllib.request.Request(
        f"{api_url}/auth/authenticate",
        data=json.dumps({"api_key": created.key}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token = json.load(response)["token"]
    # Revoking its own key (it is in the list) ends the session mid-run: later 401s are expected there.
    _assert_clean(schemathesis(api_url, token, tmp_path, *_only(selected), authenticated_throughout=False))


def test_logout_with_a_throwaway_customer(api_url, operations, new_customer, tmp_path):
    _assert_clean(
        schemathesis(
            api_url,
            new_customer("enterprise").token,
            tmp_path,
            *_only(_matching(operations, LOGOUT)),
            authenticated_throughout=False,
        )
    )


# A person's own routes (issue 13): MFA enrolment and the users area, as a person's session
# rather than a key's (a key has no user: those routes would only answer 404).
PEOPLE = (("POST", r"/users/me/mfa"), ("POST", r"/users/me/mfa/confirm"), ("DELETE", r"/users/me/mfa"))
PEOPLE_AREA = (("GET", r"/users"), ("GET", r"/users/me"), ("PATCH", r"/users/{[^}]+}"), ("DELETE", r"/users/{[^}]+}"))


def test_a_persons_routes_with_a_throwaway_owner(api_url, operations, new_customer, admin_conn, tmp_path):
    from chalicelib.auth import passwords
    from chalicelib.core.settings import get_settings

    customer = new_customer("enterprise")
    email, password = f"fuzz-{uuid.uuid4().hex[:8]}@example.test", "fuzzing person password"
    admin_conn.execute(
        "INSERT INTO users (customer_id, email, name, role, password_hash) VALUES (%s, %s, 'Fuzz', 'owner', %s)",
        (customer.customer_id, email, passwords.hash_password(password, get_settings().bcrypt_cost)),
    )
    request = urllib.request.Request(
        f"{api_url}/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token = json.load(response)["token"]
    selected = _matching(operations, PEOPLE + PEOPLE_AREA)
    assert len(selected) >= 3, "expected the /users/me/mfa operations"
    # Changing its own role or removing itself (as the only owner: 409) may end the session: 401s are expected.
    _assert_clean(schemathesis(api_url, token, tmp_path, *_only(selected), authenticated_throughout=False))
