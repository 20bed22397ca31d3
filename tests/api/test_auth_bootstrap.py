"""Operator bootstrap: the local stack's credentials and the cloud's Lambda function."""

import json

from chalicelib.auth import key_format


def test_local_credentials_give_a_working_operator_and_demo_customer_key(client):
    from devstack.bootstrap import local_credentials

    first = local_credentials()
    second = local_credentials()  # a second start: fresh keys, same demo customer
    assert first["operator_api_key"].startswith("op_") and first["demo_customer_api_key"].startswith("sk_test_")
    assert second["demo_customer_api_key"] != first["demo_customer_api_key"]

    def authenticate(api_key):
        return client.http.post(
            "/auth/authenticate", headers={"Content-Type": "application/json"}, body=json.dumps({"api_key": api_key})
        )

    response = authenticate(second["demo_customer_api_key"])
    assert response.status_code == 200
    demo = json.loads(response.body)
    # Each start also revokes the previous start's demo key (it would otherwise pile up to the tier's
    # key limit): it is refused, and the demo customer has exactly one live local key.
    assert authenticate(first["demo_customer_api_key"]).status_code == 401
    listed = client.http.get("/api-keys", headers={"Authorization": f"Bearer {demo['token']}"})
    local = [k for k in json.loads(listed.body)["items"] if k["name"] == "local-stack" and k["revoked_at"] is None]
    assert len(local) == 1
    # Issue 11, item 11: each start revokes the previous start's operator key
    # (tests/api/test_operator_keys.py has the rest).
    assert authenticate(second["operator_api_key"]).status_code == 200
    assert authenticate(first["operator_api_key"]).status_code == 401
    third = local_credentials()  # and again: the same demo customer, only the newest key works
    assert json.loads(authenticate(third["demo_customer_api_key"]).body)["customer_id"] == demo["customer_id"]
    assert authenticate(second["demo_customer_api_key"]).status_code == 401


def test_create_operator_key_lambda_returns_a_working_key(client):
    response = client.lambda_.invoke("create_operator_key", {"email": "first-op@example.test", "name": "First"})
    created = response.payload
    assert key_format.parse(created["api_key"]).is_operator
    auth = client.http.post("/auth/authenticate", headers={"X-Api-Key": created["api_key"]})
    assert auth.status_code == 200
    token = json.loads(auth.body)["token"]
    assert client.http.get("/admin/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_operator_key_cli_prints_a_working_key(client, capsys):
    from chalicelib.auth import bootstrap

    assert bootstrap.main(["--email", "cli-op@example.test"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("api_key="))
    auth = client.http.post("/auth/authenticate", headers={"X-Api-Key": line.removeprefix("api_key=")})
    assert auth.status_code == 200
