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


def test_health_is_503_when_the_database_is_down(client, monkeypatch):
    from chalicelib.core import db
    from chalicelib.health import service

    monkeypatch.setattr(service, "DB_TIMEOUT_S", 0.5)
    dead = db.make_pool("postgresql://saas_app_user@127.0.0.1:1/saas", db.connection_kwargs(), min_size=0, max_size=1)
    previous = db.use_pool(dead)
    try:
        response = client.http.get("/health")
    finally:
        db.use_pool(previous)
        dead.close()
    assert response.status_code == 503
    assert json.loads(response.body) == {"status": "degraded", "database": "down", "cache": "ok"}


def test_health_is_503_when_the_cache_is_down(client, monkeypatch):
    from chalicelib.core.settings import reset_settings

    monkeypatch.setenv("CACHE_TABLE", "no-such-table")
    reset_settings()
    try:
        response = client.http.get("/health")
    finally:
        monkeypatch.undo()
        reset_settings()
    assert response.status_code == 503
    assert json.loads(response.body)["cache"] == "down"
