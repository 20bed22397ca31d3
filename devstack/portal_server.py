"""The customer portal as ``make run`` serves it: ``portal/dist`` with the cloud's headers.

What CloudFront does in the cloud (``stacks.constructs.portal``), on one
local port:

* the build's files with their content types; ``assets/*`` (fingerprinted by
  Vite) cached for a year, everything else revalidated;
* a single-page app's fallback: a path that names no file and is no asset
  (``/invoices/<id>``) is ``index.html``, so a reload or an e-mailed link
  opens the page; a missing asset stays a 404;
* ``/config.json``, generated: the API's URL and the Stripe publishable key
  and Stripe.js URL the portal reads at start (the cloud deploys the same
  document beside the build);
* the security headers of the cloud's response-headers policy
  (``stacks.portal_policy``) on every answer, HSTS aside (plain http).

Without a build (``portal/dist/index.html`` missing) every page is a ``503``
that says how to build it: the API and the rest of the stack still run.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from stacks.portal_policy import DOCUMENT_CACHE_CONTROL, REFERRER_POLICY, cache_control, content_security_policy

DEFAULT_PORT = 8001
INDEX = "index.html"
# mimetypes depends on the machine's /etc/mime.types: the types a Vite build holds, fixed.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
NOT_BUILT = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Portal not built</title></head>"
    "<body><main><h1>The portal is not built</h1><p>{dist} has no index.html. Build it with "
    "<code>make portal</code> (or <code>cd portal &amp;&amp; npm ci &amp;&amp; npm run build</code>) "
    "and reload this page.</p></main></body></html>"
)


@dataclass(frozen=True)
class PortalConfig:
    """What ``/config.json`` says and the CSP allows: the API and the Stripe the portal talks to."""

    api_url: str
    stripe_api_base: str
    stripe_publishable_key: str

    def document(self) -> dict[str, str]:
        return {
            "apiUrl": self.api_url,
            "stripePublishableKey": self.stripe_publishable_key,
            "stripeJsUrl": f"{self.stripe_api_base}/js.stripe.com/v3/",
        }

    def security_headers(self) -> dict[str, str]:
        """The cloud's response-headers policy (without HSTS) for this stack's origins."""
        stripe = _origin(self.stripe_api_base)
        csp = content_security_policy(
            api=_origin(self.api_url), stripe_js=stripe, stripe_api=stripe, stripe_frames=(stripe,)
        )
        return {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": REFERRER_POLICY,
        }


class PortalServer:
    """``dist`` served on ``host:port`` in a daemon thread: :meth:`start`, :meth:`stop`, :attr:`url`."""

    def __init__(self, dist: Path, host: str, port: int, config: PortalConfig) -> None:
        handler = type("Handler", (_Handler,), {"dist": dist.resolve(), "config": config})
        self.dist = dist
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="portal", daemon=True)

    @property
    def built(self) -> bool:
        return (self.dist / INDEX).is_file()

    def start(self) -> None:
        if not self.built:
            print(f"  portal: {self.dist / INDEX} is missing; run `make portal` (serving a 503 page)", flush=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    dist: Path
    config: PortalConfig

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: a static site only reads
            return self._not_allowed
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the API's JSON request lines are what ``make run`` shows."""

    def _not_allowed(self) -> None:
        self.close_connection = True  # its body, if any, is never read
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, b"", CONTENT_TYPES[".txt"], {"Allow": "GET, HEAD", "Connection": "close"}
        )

    def _answer(self, *, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == "/config.json":
            body = json.dumps(self.config.document()).encode()
            self._send(HTTPStatus.OK, body, CONTENT_TYPES[".json"], {"Cache-Control": "no-store"}, send_body)
            return
        if not (self.dist / INDEX).is_file():
            body = NOT_BUILT.format(dist=self.dist).encode()
            headers = {"Cache-Control": "no-store", "Retry-After": "10"}
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, body, CONTENT_TYPES[".html"], headers, send_body)
            return
        found = self._file(path)
        if found is None and _is_asset(path):
            self._send(HTTPStatus.NOT_FOUND, b"Not found\n", CONTENT_TYPES[".txt"], {}, send_body)
            return
        found = found or self.dist / INDEX  # the app's own router decides what the path shows
        key = found.relative_to(self.dist).as_posix()
        content_type = CONTENT_TYPES.get(found.suffix.lower()) or (
            mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        )
        headers = {"Cache-Control": cache_control(key) if key != INDEX else DOCUMENT_CACHE_CONTROL}
        self._send(HTTPStatus.OK, found.read_bytes(), content_type, headers, send_body)

    def _file(self, path: str) -> Path | None:
        """The build's file for ``path`` (``/`` is index.html); ``None`` outside the build or missing."""
        if "\x00" in path or "\\" in path:
            return None
        parts = [part for part in PurePosixPath(path).parts if part not in ("/", "")]
        if any(part == ".." for part in parts):
            return None
        candidate = (self.dist.joinpath(*parts) if parts else self.dist).resolve()
        if candidate.is_dir():
            candidate = candidate / INDEX
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, headers: dict[str, str], send_body: bool = True
    ) -> None:
        self.send_response(status)
        for name, value in {**self.config.security_headers(), **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def start_portal(env: dict[str, str], host: str, port: int, api_url: str, dist: Path) -> PortalServer:
    """``make run``'s portal: ``dist`` on ``host:port``, talking to ``api_url`` and the stack's Stripe."""
    from chalicelib.core.contract import Env

    config = PortalConfig(api_url, env[Env.STRIPE_API_BASE], env[Env.STRIPE_PUBLISHABLE_KEY])
    server = PortalServer(dist, host, port, config)
    server.start()
    return server


def _is_asset(path: str) -> bool:
    """A request for a file (``/assets/...``, ``/favicon.ico``), not a page of the app: never the fallback."""
    return path.startswith("/assets/") or "." in PurePosixPath(path).name


def _origin(url: str) -> str:
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}"
