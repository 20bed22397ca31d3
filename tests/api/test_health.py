import json


def test_health_reports_database_and_cache(client):
    response = client.http.get("/health")
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok", "database": "ok", "cache": "ok"}


def test_every_response_carries_a_request_id(client):
    response = client.http.get("/health")
    assert response.headers["X-Request-Id"]


def test_a_valid_incoming_request_id_is_echoed(client):
    response = client.http.get("/health", headers={"X-Request-Id": "req-abc-12345"})
    assert response.headers["X-Request-Id"] == "req-abc-12345"


def test_a_malformed_request_id_is_replaced(client):
    response = client.http.get("/health", headers={"X-Request-Id": "bad id\n with spaces"})
    assert response.headers["X-Request-Id"] != "bad id\n with spaces"
    assert len(response.headers["X-Request-Id"]) == 36
