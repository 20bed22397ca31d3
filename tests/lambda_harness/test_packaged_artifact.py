"""The packaged artifact, run as Lambda runs it: the contract's flows, the jobs, the deploy-time handlers.

Every request goes HTTP → API-Gateway-shaped proxy event → the unzipped
package in a Python of the Lambda runtime's version → proxy response. No
test here may see a 5xx (the autouse fixture checks every response).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from chalicelib.core import contract
from chalicelib.core.contract import Env
from devstack.lambda_harness import REPO, custom_resource_event, scheduled_event
from tests.audit_support import age_newest_event


@pytest.fixture(autouse=True)
def no_server_errors(deployment):
    """Zero 5xx: whatever a test asserts, no response it caused may be a server error."""
    seen = len(deployment.api.statuses)
    yield
    errors = [s for s in deployment.api.statuses[seen:] if s >= 500]
    assert not errors, f"5xx from the packaged API: {errors}; see {deployment.logs}"


def operator_token(deployment) -> str:
    status, _, body = deployment.request("POST", "/auth/authenticate", body={"api_key": deployment.operator_key})
    assert status == 200, body
    return body["token"]


def onboard(deployment, token: str, tier: str = "growth") -> dict:
    email = f"lambda-{uuid.uuid4().hex[:10]}@example.test"
    status, _, created = deployment.request(
        "POST",
        "/admin/customers",
        token=token,
        body={"name": "Harness Co", "email": email, "tier": tier, "billing_start_date": "2020-01-01"},
    )
    assert status == 201, created
    status, _, tokens = deployment.request("POST", "/auth/authenticate", body={"api_key": created["api_key"]["key"]})
    assert status == 200, tokens
    return {
        "id": created["customer"]["id"],
        "key": created["api_key"]["key"],
        "key_id": created["api_key"]["id"],
        "token": tokens["token"],
        "refresh_token": tokens["refresh_token"],
    }


def last_month() -> tuple[str, datetime]:
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - timedelta(days=1)).replace(day=10)
    return previous.strftime("%Y-%m"), previous


# ----------------------------------------------------------- the package
def test_c7_the_package_runs_on_its_own_sdk_pair_and_nothing_from_the_developer_machine(deployment):
    """Only the task root and the runtime's libraries are importable; boto3 and botocore are one vendored pair."""
    ready = deployment.functions.spawn(contract.API_HANDLER).ready
    task_root = str(deployment.package.task_root)
    assert ready["sys_path"][0] == task_root
    forbidden = [
        p for p in ready["sys_path"] if ".venv" in p or p.startswith(str(REPO / "runtime")) or "site-packages" in p
    ]
    assert not forbidden, forbidden
    for name in ("boto3", "botocore"):
        assert ready["modules"][name].startswith(task_root + "/"), f"{name} came from {ready['modules'][name]}"
    pins = dict(
        re.findall(r"^(boto3|botocore)==(\S+)$", (REPO / "runtime" / "requirements.txt").read_text(), re.MULTILINE)
    )
    assert ready["versions"] == pins


def test_c1_sampled_requests_answer_and_trace_a_request_subsegment(deployment):
    """Every invocation carries a sampled trace header; the request id is annotated on our own subsegment."""
    before = len(deployment.xray.documents)
    status, headers, _ = deployment.request("GET", "/health")
    assert status == 200
    request_id = headers["X-Request-Id"]
    documents = deployment.xray.documents[before:]
    annotated = [
        d
        for d in documents
        if d.get("name") == "## request" and (d.get("annotations") or {}).get("request_id") == request_id
    ]
    assert annotated, f"no '## request' subsegment for {request_id} among {[d.get('name') for d in documents]}"


# ------------------------------------------------------- deploy-time handlers
def test_the_migrations_custom_resource_migrates_a_new_database_and_shapes_the_jwt_secret(deployment):
    from chalicelib.auth.signing import seed_kid
    from chalicelib.core.migrations import discover

    applied = deployment.migrate_result["Data"]["Applied"].split(",")
    assert applied == [m.path.name for m in discover(deployment.package.task_root / "chalicelib" / "migrations")]
    secret = json.loads(
        deployment.aws.client("secretsmanager").get_secret_value(SecretId=deployment.variables[Env.JWT_SECRET_ID])[
            "SecretString"
        ]
    )
    assert secret["current"]["kid"] == seed_kid(secret["current"]["secret"])
    # The app login's password was set (as a verifier) from its secret.
    with psycopg.connect(deployment.admin_url) as conn:
        [stored] = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (contract.APP_LOGIN,)
        ).fetchone()
    assert stored.startswith("SCRAM-SHA-256$")


def test_the_custom_resource_update_is_idempotent_and_delete_keeps_the_schema(deployment):
    digest = deployment.migrate_result["Data"]["Digest"]
    update = deployment.functions.invoke(
        contract.MIGRATE.logical_id,
        custom_resource_event("Update", {"MigrationsDigest": digest}, "saas-database-migrations"),
    )
    assert update["result"]["Data"]["Applied"] == "none", update
    delete = deployment.functions.invoke(
        contract.MIGRATE.logical_id,
        custom_resource_event("Delete", {"MigrationsDigest": digest}, "saas-database-migrations"),
    )
    assert delete["result"] == {"PhysicalResourceId": "saas-database-migrations"}
    assert deployment.request("GET", "/health")[0] == 200


# ------------------------------------------------------------- API flows
def test_onboard_authenticate_ingest_bill_and_read_the_invoice(deployment):
    operator = operator_token(deployment)
    customer = onboard(deployment, operator)
    period, when = last_month()
    events = [
        {"event_id": f"e{i}", "metric": "api_calls", "quantity": 1000, "timestamp": when.isoformat()} for i in range(3)
    ]
    status, _, body = deployment.request(
        "POST", "/metrics", token=customer["token"], body={"events": events + events[:1]}
    )
    assert (status, body) == (200, {"accepted": 3, "duplicates": 1})
    status, _, usage = deployment.request("GET", f"/metrics?period={period}", token=customer["token"])
    assert status == 200, usage
    status, _, run = deployment.request(
        "POST", "/admin/billing-runs", token=operator, body={"period": period, "finalize": True}
    )
    assert status == 200 and run["period"] == period, run
    status, _, page = deployment.request("GET", "/invoices", token=customer["token"])
    assert status == 200 and len(page["items"]) == 1, page
    invoice_id = page["items"][0]["id"]
    status, _, invoice = deployment.request("GET", f"/invoices/{invoice_id}", token=customer["token"])
    assert status == 200 and invoice["status"] == "finalized" and invoice["total_cents"] > 0, invoice
    # Another tenant sees nothing of it.
    other = onboard(deployment, operator, tier="starter")
    assert deployment.request("GET", f"/invoices/{invoice_id}", token=other["token"])[0] == 404


def test_an_invoice_pdf_comes_through_the_gateway_as_binary(deployment):
    """Issue 14: fpdf2 in the package; Chalice base64-encodes the PDF, the gateway hands back the bytes."""
    import io

    from pypdf import PdfReader

    operator = operator_token(deployment)
    customer = onboard(deployment, operator)
    period, when = last_month()
    event = {"event_id": "pdf-1", "metric": "api_calls", "quantity": 1_500_000, "timestamp": when.isoformat()}
    assert deployment.request("POST", "/metrics", token=customer["token"], body={"events": [event]})[0] == 200
    status, _, _ = deployment.request(
        "POST", "/admin/billing-runs", token=operator, body={"period": period, "finalize": False}
    )
    assert status == 200
    [summary] = deployment.request("GET", "/invoices", token=customer["token"])[2]["items"]
    status, headers, body = deployment.request(
        "GET", f"/invoices/{summary['id']}/pdf", token=customer["token"], headers={"Accept": "application/pdf"}
    )
    assert status == 200 and headers["Content-Type"] == "application/pdf", (status, headers)
    assert isinstance(body, bytes) and body.startswith(b"%PDF"), body[:40]
    text = " ".join(PdfReader(io.BytesIO(body)).pages[0].extract_text().split())
    total = f"${summary['total_cents'] / 100:,.2f}"
    assert "DRAFT" in text and summary["number"] in text and period in text and total in text, text


def test_keys_rotate_and_revoke_and_the_old_credentials_stop_working(deployment):
    customer = onboard(deployment, operator_token(deployment))
    status, _, created = deployment.request("POST", "/api-keys", token=customer["token"], body={"name": "ci"})
    assert status == 201, created
    status, _, rotated = deployment.request(
        "POST", f"/api-keys/{created['id']}/rotate", token=customer["token"], body={}
    )
    assert status == 201, rotated
    status, _, page = deployment.request("GET", "/api-keys", token=customer["token"])
    assert status == 200 and {created["id"], rotated["id"]} <= {k["id"] for k in page["items"]}
    assert deployment.request("DELETE", f"/api-keys/{rotated['id']}", token=customer["token"])[0] == 204
    assert deployment.request("POST", "/auth/authenticate", body={"api_key": rotated["key"]})[0] == 401
    # Refresh, then logout ends the session: the next request is 401.
    status, _, refreshed = deployment.request(
        "POST", "/auth/refresh", body={"refresh_token": customer["refresh_token"]}
    )
    assert status == 200, refreshed
    assert deployment.request("POST", "/auth/logout", token=refreshed["token"])[0] == 204
    assert deployment.request("GET", "/customers/me", token=refreshed["token"])[0] == 401


def test_tickets_open_comment_close(deployment):
    customer = onboard(deployment, operator_token(deployment))
    status, _, ticket = deployment.request(
        "POST",
        "/support-tickets",
        token=customer["token"],
        body={"subject": "Invoice question", "body": "Why is March higher?", "priority": "normal"},
    )
    assert status == 201, ticket
    status, _, comment = deployment.request(
        "POST", f"/support-tickets/{ticket['id']}/comments", token=customer["token"], body={"body": "Any news?"}
    )
    assert status == 201, comment
    status, _, closed = deployment.request(
        "PATCH", f"/support-tickets/{ticket['id']}", token=customer["token"], body={"status": "closed"}
    )
    assert status == 200 and closed["status"] == "closed", closed


def test_a_suspended_customer_is_refused_at_once(deployment):
    operator = operator_token(deployment)
    customer = onboard(deployment, operator)
    status, _, _ = deployment.request(
        "PATCH", f"/admin/customers/{customer['id']}", token=operator, body={"status": "suspended"}
    )
    assert status == 200
    assert deployment.request("GET", "/customers/me", token=customer["token"])[0] in (401, 403)
    assert deployment.request("POST", "/auth/authenticate", body={"api_key": customer["key"]})[0] in (401, 403)


def test_bad_input_is_4xx_through_the_gateway(deployment):
    customer = onboard(deployment, operator_token(deployment))
    assert deployment.request("POST", "/metrics", token=customer["token"], raw=b"{not json")[0] == 400
    assert deployment.request("GET", "/invoices?limit=0", token=customer["token"])[0] == 400
    assert deployment.request("GET", "/customers/me")[0] == 401
    # A binary content type arrives base64-encoded, as API Gateway sends it; still a clear 4xx.
    status, _, _ = deployment.request(
        "POST",
        "/metrics",
        token=customer["token"],
        raw=b"\x00\x01binary",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert 400 <= status < 500


@pytest.mark.parametrize("method,path", [("GET", "/no-such-route"), ("DELETE", "/health"), ("QUERY", "/metrics")])
def test_c9_api_gateway_answers_unknown_routes_itself_in_the_contract_shape(deployment, method, path):
    """Rendered from the template's own gateway responses: the contract's error shape and X-Request-Id."""
    status, headers, body = deployment.request(method, path)
    assert status == 404
    assert headers.get("X-Request-Id")
    assert body == {"Code": "NotFoundError", "Message": "Missing Authentication Token"}


# ------------------------------------------------------------ scheduled jobs
@pytest.mark.parametrize("job", [job.logical_id for job in contract.SCHEDULED_JOBS])
def test_each_scheduled_job_runs_on_the_event_eventbridge_sends(deployment, job):
    assert job in deployment.package.scheduled()
    answer = deployment.functions.invoke(job, scheduled_event(f"Saas-dev-Stateless-{job}"))
    assert "error" not in answer, answer


def test_c11_the_audit_retention_purge_runs_on_its_schedule_and_deletes_only_expired_events(deployment):
    customer = onboard(deployment, operator_token(deployment))
    with psycopg.connect(deployment.admin_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_events (customer_id, action, target_type) VALUES (%s, 'ancient.event', 'thing')",
            (customer["id"],),
        )
    age_newest_event(deployment.admin_url, customer["id"], years=8)  # the trigger dates every event "now"
    answer = deployment.functions.invoke(contract.AUDIT_RETENTION_PURGE.logical_id, scheduled_event("purge"))
    assert answer.get("result", {}).get("purged", 0) >= 1, answer
    with psycopg.connect(deployment.admin_url) as conn:
        actions = [
            r[0] for r in conn.execute("SELECT action FROM audit_events WHERE customer_id = %s", (customer["id"],))
        ]
    assert "ancient.event" not in actions and actions


def test_the_delivery_job_sends_the_queued_invoice_email_through_ses(deployment):
    operator = operator_token(deployment)
    customer = onboard(deployment, operator)
    period, when = last_month()
    deployment.request(
        "POST",
        "/metrics",
        token=customer["token"],
        body={"events": [{"event_id": "x1", "metric": "api_calls", "quantity": 10, "timestamp": when.isoformat()}]},
    )
    status, _, _ = deployment.request(
        "POST", "/admin/billing-runs", token=operator, body={"period": period, "finalize": True}
    )
    assert status == 200
    answer = deployment.functions.invoke(contract.NOTIFICATIONS_DELIVERY.logical_id, scheduled_event("delivery"))
    assert "error" not in answer, answer
    status, _, notes = deployment.request("GET", "/notifications", token=customer["token"])
    assert status == 200
    assert [n["status"] for n in notes["items"] if n["template"].startswith("invoice")] == ["sent"], notes


def test_a_person_logs_in_with_mfa_and_acts_with_their_role(deployment):
    """Issue 13 through the package: bcrypt, pyotp and the KMS-sealed secret as Lambda runs them."""
    import time

    import pyotp

    from chalicelib.auth import passwords

    customer = onboard(deployment, operator_token(deployment))
    email, password = f"person-{uuid.uuid4().hex[:8]}@example.test", "a harness person password"
    with psycopg.connect(deployment.admin_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (customer_id, email, name, role, password_hash) VALUES (%s, %s, 'P', 'owner', %s)",
            (customer["id"], email, passwords.hash_password(password, 4)),
        )
    status, _, pair = deployment.request("POST", "/auth/login", body={"email": email, "password": password})
    assert status == 200 and "token" in pair, pair
    status, _, enrolment = deployment.request("POST", "/users/me/mfa", token=pair["token"], body={})
    assert status == 201, enrolment
    totp = pyotp.TOTP(enrolment["secret"])
    now = time.time()
    status, _, codes = deployment.request(
        "POST", "/users/me/mfa/confirm", token=pair["token"], body={"code": totp.at(now)}
    )
    assert status == 200 and len(codes["recovery_codes"]) == 10, codes
    status, _, challenge = deployment.request("POST", "/auth/login", body={"email": email, "password": password})
    assert status == 200 and challenge["mfa_required"], challenge
    # The next step's code (inside the ±1 step window, after the step confirmation used).
    status, _, mfa_pair = deployment.request(
        "POST", "/auth/mfa", body={"mfa_token": challenge["mfa_token"], "code": totp.at(now + 30)}
    )
    assert status == 200, mfa_pair
    status, _, me = deployment.request("GET", "/users/me", token=mfa_pair["token"])
    assert status == 200 and me["mfa_enabled"] and me["role"] == "owner", me
    # A viewer key made by the owner is refused what a viewer may not do.
    status, _, key = deployment.request(
        "POST", "/api-keys", token=mfa_pair["token"], body={"name": "viewer", "role": "viewer"}
    )
    assert status == 201, key
    status, _, viewer = deployment.request("POST", "/auth/authenticate", body={"api_key": key["key"]})
    assert status == 200
    status, _, _ = deployment.request("POST", "/metrics", token=viewer["token"], body={"events": []})
    assert status == 403
    status, _, _ = deployment.request("GET", "/invoices", token=viewer["token"])
    assert status == 200
