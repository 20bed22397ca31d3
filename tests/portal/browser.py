"""What a portal journey does in the browser: log in, save a screenshot, check accessibility.

The browser is Debian's Chromium (``/usr/bin/chromium``, installed by the
Makefile): Playwright's own browser download needs internet the machines do
not have. Locators are the accessible ones (labels, roles and names), the
same a screen reader user relies on, so a test breaks when the page stops
being usable that way, not when its markup is refactored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
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
# axe-core impacts that fail a test (minor and moderate are reported by axe, not gated here).
BLOCKING_IMPACTS = ("serious", "critical")

_axe = Axe()


def screenshot(page: Page, journey: str, step: str) -> Path:
    """The whole page as ``.local/screenshots/<journey>-<step>.png`` (the issue lists them on resolving)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{_slug(journey)}-{_slug(step)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, of any impact."""
    violations: list[dict[str, Any]] = _axe.run(page).response["violations"]
    return violations


def assert_accessible(page: Page, name: str) -> None:
    """Fail when axe-core finds any serious or critical violation on the page as it is now.

    Run it once the page has settled (its data shown, not its spinner). The
    failure message lists each rule, its help and the offending nodes.
    """
    blocking = [v for v in accessibility_violations(page) if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        raise AssertionError(f"axe: {len(blocking)} serious/critical violation(s) on {name}:\n" + describe(blocking))


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    {node['target']}: {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:400]}")
    return "\n".join(lines)


def login(page: Page, portal_url: str, email: str, password: str, mfa_code: str | None = None) -> None:
    """Log in through the login page (and its MFA step when ``mfa_code`` is given); returns once in.

    "In" means the portal navigated away from /login and shows its main
    navigation. With ``mfa_code``, the MFA step must appear.
    """
    page.goto(f"{portal_url.rstrip('/')}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    if mfa_code is not None:
        page.get_by_label(re.compile("code", re.IGNORECASE)).fill(mfa_code)
        page.get_by_role("button", name=re.compile("verify", re.IGNORECASE)).click()
    expect(page).not_to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("navigation").first).to_be_visible()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"
