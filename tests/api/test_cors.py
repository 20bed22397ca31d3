"""CORS for exactly the portal's origin (issue 15): preflights on every path, headers on every answer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chalicelib.core import cors
from chalicelib.core.contract import Env
from chalicelib.core.settings import reset_settings

PORTAL = "http://127.0.0.1:8001"
OTHER = "https://evil.example"


@pytest.fixture
def portal_origin(monkeypatch):
    """The API configured for the portal at :data:`PORTAL` (as the local stack runs it)."""
    monkeypatch.setenv(Env.PORTAL_ORIGIN, PORTAL)
    reset_settings()
    yield PORTAL
    monkeypatch.delenv(Env.PORTAL_ORIGIN)
    reset_settings()


@pytest.fixture
def no_portal_origin(monkeypatch):
    monkeypatch.delenv(Env.PORTAL_ORIGIN, raising=False)
    reset_settings()
    yield
    reset_settings()


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _preflight(client, path: str, origin: str, method: str = "POST"):
    return client.http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_an_answer_to_the_portal_names_its_origin_and_the_headers_it_may_read(client, portal_origin):
    headers = _lower(client.http.get("/health", headers={"Origin": PORTAL}).headers)
    assert headers["access-control-allow-origin"] == PORTAL
    exposed = {name.strip().lower() for name in headers["access-control-expose-headers"].split(",")}
    assert {"retry-after", "content-disposition", "x-request-id"} <= exposed
    assert "origin" in headers["vary"].lower()
    assert "access-control-allow-credentials" not in headers  # bearer tokens, never cookies


def test_another_origin_gets_no_cors_headers(client, portal_origin):
    headers = _lower(client.http.get("/health", headers={"Origin": OTHER}).headers)
    assert "access-control-allow-origin" not in headers
    assert "access-control-expose-headers" not in headers
    assert "origin" in headers["vary"].lower()  # the answer still depends on Origin (caches)


def test_a_preflight_on_a_tenant_route_needs_no_credentials_and_allows_what_the_portal_sends(client, portal_origin):
    response = _preflight(client, "/api-keys/{key_id}/rotate".replace("{key_id}", "not-even-a-uuid"), PORTAL)
    assert response.status_code == 204
    headers = _lower(response.headers)
    assert headers["access-control-allow-origin"] == PORTAL
    assert {m.strip() for m in headers["access-control-allow-methods"].split(",")} == {"POST", "OPTIONS"}
    allowed = {name.strip() for name in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert headers["access-control-max-age"] == "7200"
    assert "origin" in headers["vary"].lower()
    assert not response.body


def test_a_preflight_from_another_origin_is_answered_without_cors_headers(client, portal_origin):
    response = _preflight(client, "/support-tickets", OTHER)
    assert response.status_code == 204
    headers = _lower(response.headers)
    assert not {name for name in headers if name.startswith("access-control-")}


def test_preflights_are_never_rate_limited_nor_guarded(client, portal_origin):
    """An operator-only route's preflight, many times over: 204 each time (no guard, no counter)."""
    statuses = {_preflight(client, "/admin/customers", PORTAL).status_code for _ in range(30)}
    assert statuses == {204}


@pytest.mark.parametrize("case", ["401", "403", "404"])
def test_error_answers_carry_the_cors_headers_too(client, portal_origin, new_customer, case):
    """Without them the portal could not read why a call failed (it would see a network error)."""
    origin = {"Origin": PORTAL}
    if case == "401":
        response = client.http.get("/users/me", headers=origin)
    elif case == "403":
        response = client.http.get("/admin/customers", headers=new_customer().headers | origin)
    else:
        response = client.http.get("/invoices/not-a-uuid", headers=new_customer().headers | origin)
    assert response.status_code == int(case), response.body
    headers = _lower(response.headers)
    assert headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in headers["access-control-expose-headers"].lower()


def test_without_a_portal_origin_there_are_no_cors_headers_at_all(client, no_portal_origin):
    for response in (
        client.http.get("/health", headers={"Origin": PORTAL}),
        _preflight(client, "/support-tickets", PORTAL),
    ):
        headers = _lower(response.headers)
        assert not {name for name in headers if name.startswith("access-control-")}
        assert "vary" not in headers


def test_the_stage_variable_wins_over_the_environment(portal_origin):
    """In the cloud the portal's origin arrives as the API stage's variable PORTAL_ORIGIN (docs/DEPLOYMENT.md)."""
    cloud = "https://d111111abcdef8.cloudfront.net"
    request = SimpleNamespace(stage_vars={Env.PORTAL_ORIGIN: cloud + "/"}, headers={"origin": cloud})
    assert cors.portal_origin(request) == cloud
    assert cors.cors_headers(request)["Access-Control-Allow-Origin"] == cloud
    assert cors.portal_origin(SimpleNamespace(stage_vars=None, headers={})) == PORTAL


def test_every_served_path_has_its_preflight(chalice_app):
    missing = sorted(path for path, methods in chalice_app.routes.items() if "OPTIONS" not in methods)
    assert not missing, f"paths without OPTIONS (cors.register must run after every blueprint): {missing}"


def test_preflights_are_neither_documented_nor_in_the_role_table(client, chalice_app):
    from chalicelib.auth.permissions import ROUTES
    from chalicelib.core.http import REGISTRY

    assert all(spec.method != "OPTIONS" for spec in REGISTRY)
    assert all(method != "OPTIONS" for method, _ in ROUTES)
    document = json.loads(client.http.get("/openapi.json").body)
    assert all("options" not in item for item in document["paths"].values())
