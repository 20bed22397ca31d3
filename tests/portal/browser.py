"""What a portal journey does in the browser: log in, save a screenshot (accessibility.py checks pages).

The browser is Debian's Chromium (``/usr/bin/chromium``, installed by the
Makefile): Playwright's own browser download needs internet the machines do
not have. Locators are the accessible ones (labels, roles and names), the
same a screen reader user relies on, so a test breaks when the page stops
being usable that way, not when its markup is refactored.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect

from devstack.stack import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (root in a container), nothing that phones home or waits for a GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}
# A locale whose number and date formats differ from the en-US defaults, so formatting is exercised.
LOCALE = "en-GB"
TIMEZONE = "Europe/London"
SCREENSHOTS = REPO_ROOT / ".local" / "screenshots"


def screenshot(page: Page, journey: str, step: str) -> Path:
    """The whole page as ``.local/screenshots/<journey>-<step>.png`` (the issue lists them on resolving).

    Taken from the top: a full-page picture of a page scrolled down (a focused
    field scrolls it) draws the sticky header in the middle of the page.
    """
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_slug(journey)}-{_slug(step)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_fits_the_width(page: Page, name: str) -> None:
    """Nothing on the page is wider than the viewport (a wide table scrolls inside its own region)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name} is {widths[0]} px wide in a {widths[1]} px viewport"


def login(page: Page, portal_url: str, email: str, password: str, mfa_code: str | None = None) -> None:
    """Log in through the login page (and its MFA step when ``mfa_code`` is given); returns once in.

    "In" means the portal left /login and its header offers "Log out". With
    ``mfa_code``, the MFA step ("Authentication code") must appear; it takes
    a TOTP code or a recovery code.
    """
    page.goto(f"{portal_url.rstrip('/')}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    if mfa_code is not None:
        page.get_by_label("Authentication code").fill(mfa_code)
        page.get_by_role("button", name="Verify", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"
