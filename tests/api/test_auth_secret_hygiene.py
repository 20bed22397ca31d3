"""No API key, secret, token, refresh token or hash ever reaches a log line, an audit row or DynamoDB in clear."""

import json
import logging

from chalicelib.auth import key_format, signing
from chalicelib.core import aws
from chalicelib.core.settings import get_settings

JSON = {"Content-Type": "application/json"}


def _post(client, path, body=None, headers=None):
    return client.http.post(path, headers={**JSON, **(headers or {})}, body=json.dumps(body) if body else "")


def test_secrets_never_appear_in_logs_audit_rows_or_cache(
    client, operator_headers, operator_key, admin_conn, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    secrets_seen = [operator_key, key_format.parse(operator_key).secret]

    onboard = json.loads(
        _post(
            client,
            "/admin/customers",
            {"name": "Hygiene", "email": "hygiene@example.test", "tier": "starter"},
            operator_headers,
        ).body
    )
    customer_id = onboard["customer"]["id"]
    api_key = onboard["api_key"]["key"]
    parsed = key_format.parse(api_key)
    secrets_seen += [api_key, parsed.secret]

    pair = json.loads(_post(client, "/auth/authenticate", {"api_key": api_key}).body)  # bcrypt path
    pair2 = json.loads(_post(client, "/auth/authenticate", {"api_key": api_key}).body)  # cache hit
    wrong = f"{parsed.prefix}{parsed.public_id}_" + "Q" * 43
    assert _post(client, "/auth/authenticate", {"api_key": wrong}).status_code == 401
    unknown = "sk_test_aaaaaaaaaaaa_" + "R" * 43
    assert _post(client, "/auth/authenticate", {"api_key": unknown}).status_code == 401
    secrets_seen += [wrong, unknown, "Q" * 43, "R" * 43]
    headers = {"Authorization": f"Bearer {pair['token']}"}
    refreshed = json.loads(_post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}).body)
    assert _post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}).status_code == 401  # reuse
    headers = {"Authorization": f"Bearer {pair2['token']}"}
    created = json.loads(_post(client, "/api-keys", {"name": "more"}, headers).body)
    rotated = json.loads(_post(client, f"/api-keys/{created['id']}/rotate", {"overlap_seconds": 60}, headers).body)
    assert client.http.delete(f"/api-keys/{rotated['id']}", headers=headers).status_code == 204
    assert _post(client, "/auth/logout", headers=headers).status_code == 204  # before: a suspension ends sessions
    client.http.patch(
        f"/admin/customers/{customer_id}", headers=operator_headers, body=json.dumps({"status": "suspended"})
    )
    client.http.patch(
        f"/admin/customers/{customer_id}", headers=operator_headers, body=json.dumps({"status": "active"})
    )
    secrets_seen += [
        pair["token"],
        pair["refresh_token"],
        pair2["token"],
        pair2["refresh_token"],
        refreshed["token"],
        refreshed["refresh_token"],
        created["key"],
        rotated["key"],
        key_format.parse(created["key"]).secret,
        key_format.parse(rotated["key"]).secret,
    ]
    hashes = [
        row["secret_hash"]
        for row in admin_conn.execute(
            "SELECT secret_hash FROM api_keys WHERE customer_id = %s UNION ALL SELECT secret_hash FROM operator_api_keys",
            (customer_id,),
        )
    ]
    ring = signing.keyring()
    secrets_seen += [*hashes, signing.pepper().decode(), ring.current.secret.decode()]

    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    assert "authentication failed" in logs and parsed.public_id in logs  # the public id is what we log
    audit = json.dumps(
        [
            dict(row)
            for row in admin_conn.execute(
                "SELECT actor, action, target_type, target_id, detail, request_id FROM audit_events"
                " WHERE customer_id = %s OR customer_id IS NULL",
                (customer_id,),
            )
        ],
        default=str,
    )
    actions = {
        row["action"]
        for row in admin_conn.execute("SELECT DISTINCT action FROM audit_events WHERE customer_id = %s", (customer_id,))
    }
    assert {
        "customer.created",
        "customer.changed",
        "api_key.created",
        "api_key.rotated",
        "api_key.revoked",
        "auth.succeeded",
        "auth.failed",
        "auth.refreshed",
        "auth.refresh_reused",
        "auth.logout",
    } <= actions
    ddb = aws.client("dynamodb")
    settings = get_settings()
    stored = json.dumps([ddb.scan(TableName=name)["Items"] for name in (settings.cache_table, settings.sessions_table)])
    for secret in secrets_seen:
        assert secret not in logs, "a secret reached the logs"
        assert secret not in audit, "a secret reached the audit trail"
        assert secret not in stored, "a secret reached DynamoDB in clear"
