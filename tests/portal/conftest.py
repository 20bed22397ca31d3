"""The portal's browser journeys: the local stack as ``make run`` starts it, driven by Chromium.

* ``local_stack`` (per module): ``python -m devstack`` in its own process,
  state directory and ports (``devstack.spawn``, as tests/e2e), portal
  included (``portal_url``, from the built ``portal/dist``).
* ``browser`` (per session): Debian's Chromium through Playwright, headless.
* ``context`` / ``page`` (per test): a fresh context (no cookies, no memory of
  another test's session) at 1280x800, locale en-GB, Europe/London. An
  uncaught exception in the portal's JavaScript fails the test; a failed test
  leaves ``.local/screenshots/FAILED-<test>.png``.

Helpers: tests/portal/browser.py (login, screenshot), tests/portal/accessibility.py
(assert_accessible) and
tests/portal/data.py (usage, invoices, e-mails, TOTP, a tenant of one's own).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from devstack.spawn import spawned_stack
from tests.portal.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LOCALE, TIMEZONE, screenshot
from tests.portal.data import Api


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so ``page``'s teardown knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def local_stack() -> Iterator[dict[str, Any]]:
    """``stack.json`` of a fresh local stack serving the portal (``portal_url``, ``api_url``, the credentials)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test-portal` installs Debian's chromium")
    with spawned_stack(prefix="saas-portal-") as info:
        if "portal_url" not in info:
            pytest.fail(f"python -m devstack wrote no portal_url to stack.json: {sorted(info)}")
        yield info


@pytest.fixture(scope="module")
def portal_url(local_stack: dict[str, Any]) -> str:
    url: str = local_stack["portal_url"]
    return url.rstrip("/")


@pytest.fixture(scope="module")
def api(local_stack: dict[str, Any]) -> Api:
    """The API over HTTP, for arranging a journey's data (``api.call(method, path, body, token)``)."""
    return Api(local_stack["api_url"])


@pytest.fixture(scope="module")
def operator(api: Api, local_stack: dict[str, Any]) -> str:
    """A session of the local operator key (onboarding, billing runs)."""
    return api.token(local_stack["operator_api_key"])


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=DESKTOP, locale=LOCALE, timezone_id=TIMEZONE, accept_downloads=True)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    yield tab
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        with contextlib.suppress(Exception):  # the evidence is a bonus: never hide the test's own failure
            screenshot(tab, "FAILED", request.node.name)
    assert not errors, f"uncaught JavaScript errors in the portal: {errors}"
