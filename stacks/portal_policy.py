"""The customer portal's security headers and caching, written once for the cloud and the local server.

CloudFront's response-headers policy (``stacks.constructs.portal``) and
``make run``'s static server (``devstack.portal_server``) both build their
headers here, so the portal a developer runs is held to the policy it is
deployed with. Standard library only: the dev stack imports it without CDK.

The Content-Security-Policy allows scripts from the portal itself and
Stripe.js only (no ``'unsafe-inline'``, no ``eval``), network calls to the
portal, the API and Stripe's API, frames from Stripe (its card fields live in
iframes), images from the portal and ``data:`` (the MFA QR code), styles from
the portal's own stylesheet, and nobody may frame the portal.
"""

from __future__ import annotations

from collections.abc import Sequence

# Stripe's origins in the cloud (https://docs.stripe.com/security/guide#content-security-policy);
# locally localstripe serves Stripe.js and the API from one origin.
STRIPE_JS = "https://js.stripe.com"
STRIPE_API = "https://api.stripe.com"
STRIPE_FRAMES = ("https://js.stripe.com", "https://hooks.stripe.com")

REFERRER_POLICY = "strict-origin-when-cross-origin"
# Two years (HSTS preload lists ask for at least one), subdomains included. Cloud only: a browser
# ignores HSTS over plain http, and pinning https on localhost would break other local servers.
HSTS_MAX_AGE_S = 2 * 365 * 24 * 3600

# Vite fingerprints everything under assets/ (the content hash is in the name): cache it for a
# year; index.html and config.json name the current build, so they are revalidated every time.
ASSETS_PREFIX = "assets/"
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
DOCUMENT_CACHE_CONTROL = "no-cache"


def content_security_policy(
    *, api: str, stripe_js: str = STRIPE_JS, stripe_api: str = STRIPE_API, stripe_frames: Sequence[str] = STRIPE_FRAMES
) -> str:
    """The portal's CSP, given the API's origin and Stripe's (a CDK token is a string here too).

    Parameters
    ----------
    api
        The origin the portal calls (``https://<id>.execute-api...`` / ``http://127.0.0.1:8000``).
    stripe_js, stripe_api, stripe_frames
        Where Stripe.js is loaded from, the API it calls, the origins of its iframes.
    """
    directives: dict[str, Sequence[str]] = {
        "default-src": ["'self'"],
        "script-src": ["'self'", stripe_js],
        "connect-src": ["'self'", api, stripe_api],
        "frame-src": stripe_frames,
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(sources))}" for name, sources in directives.items())


def cache_control(key: str) -> str:
    """``Cache-Control`` for the object ``key`` of the build (``assets/x.js``, ``index.html``...)."""
    return ASSET_CACHE_CONTROL if key.lstrip("/").startswith(ASSETS_PREFIX) else DOCUMENT_CACHE_CONTROL
