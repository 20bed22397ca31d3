"""``make run``'s portal server (issue 15): the build, the SPA fallback, /config.json and the cloud's headers."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from devstack.portal_server import PortalConfig, PortalServer
from stacks.portal_policy import ASSET_CACHE_CONTROL

CONFIG = PortalConfig(
    api_url="http://127.0.0.1:8000",
    stripe_api_base="http://127.0.0.1:8420",
    stripe_publishable_key="pk_test_local",
)
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self' http://127.0.0.1:8420; "
    "connect-src 'self' http://127.0.0.1:8000 http://127.0.0.1:8420; frame-src http://127.0.0.1:8420; "
    "img-src 'self' data:; style-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
INDEX = b"<!doctype html><title>portal</title><div id=root></div>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-3f2a9c.js").write_text("console.log('portal')")
    (root / "assets" / "index-77ab01.css").write_text("body{margin:0}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


def _serve(dist: Path):
    server = PortalServer(dist, "127.0.0.1", 0, CONFIG)
    server.start()
    return server


@pytest.fixture
def portal(dist: Path):
    server = _serve(dist)
    yield server
    server.stop()


def _get(server: PortalServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    host, port = server.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_index_is_served_with_the_cloud_s_security_headers_and_revalidated(portal):
    status, headers, body = _get(portal, "/")
    assert (status, body) == (200, INDEX)
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert headers["content-security-policy"] == EXPECTED_CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in headers  # plain http: the cloud sends HSTS


def test_scripts_are_never_allowed_inline():
    script_src = next(d for d in EXPECTED_CSP.split("; ") if d.startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert CONFIG.security_headers()["Content-Security-Policy"] == EXPECTED_CSP


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/assets/index-3f2a9c.js", "text/javascript; charset=utf-8"),
        ("/assets/index-77ab01.css", "text/css; charset=utf-8"),
    ],
)
def test_fingerprinted_assets_have_their_type_and_are_cached_for_a_year(portal, path, content_type):
    status, headers, _ = _get(portal, path)
    assert status == 200
    assert headers["content-type"] == content_type
    assert headers["cache-control"] == ASSET_CACHE_CONTROL
    assert headers["content-security-policy"] == EXPECTED_CSP


def test_other_files_are_served_and_revalidated(portal):
    status, headers, _ = _get(portal, "/favicon.svg")
    assert (status, headers["content-type"], headers["cache-control"]) == (200, "image/svg+xml", "no-cache")


@pytest.mark.parametrize("path", ["/invoices/0b6f7c1e-0000-4000-8000-000000000001", "/api-keys", "/login?next=/team"])
def test_a_page_of_the_app_falls_back_to_index(portal, path):
    status, headers, body = _get(portal, path)
    assert (status, body) == (200, INDEX)
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/assets/index-000000.js", "/missing.png", "/assets/"])
def test_a_missing_asset_is_a_404_not_the_app(portal, path):
    status, headers, body = _get(portal, path)
    assert status == 404 and body != INDEX
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/..\\secret.txt"]
)
def test_nothing_outside_the_build_is_served(portal, path):
    status, _, body = _get(portal, path)
    assert b"outside the build" not in body
    assert status in (200, 404)


def test_config_json_names_the_api_and_the_local_stripe(portal):
    status, headers, body = _get(portal, "/config.json")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert json.loads(body) == {
        "apiUrl": "http://127.0.0.1:8000",
        "stripePublishableKey": "pk_test_local",
        "stripeJsUrl": "http://127.0.0.1:8420/js.stripe.com/v3/",
    }


def test_head_has_no_body_and_other_methods_are_refused(portal):
    status, headers, body = _get(portal, "/", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(INDEX))
    status, headers, _ = _get(portal, "/", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_without_a_build_every_page_is_a_503_that_says_how_to_build_it(tmp_path, capsys):
    server = _serve(tmp_path / "no-dist")
    try:
        assert "make portal" in capsys.readouterr().out
        status, headers, body = _get(server, "/invoices")
        assert status == 503
        assert b"make portal" in body
        assert headers["content-security-policy"] == EXPECTED_CSP
        status, _, body = _get(server, "/config.json")  # the rest still answers
        assert status == 200 and json.loads(body)["apiUrl"] == "http://127.0.0.1:8000"
    finally:
        server.stop()


def test_stack_json_names_the_portal():
    from devstack.__main__ import stack_info

    info = stack_info("http://127.0.0.1:8000", "http://127.0.0.1:5000", {}, portal_url="http://127.0.0.1:8001")
    assert info["portal_url"] == "http://127.0.0.1:8001"
