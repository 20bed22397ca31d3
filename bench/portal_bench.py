"""The portal's figures (issue 15): its JavaScript bundle size and the dashboard's time to show usage.

* ``portal_bundle_gzip_kib``: the sum of the gzip-compressed sizes of
  ``portal/dist/assets/*.js`` (what a first visit downloads at most; level 6,
  zlib's default and what Vite's own build report prints).
* ``portal_first_visit_gzip_kib``: the same measure over the scripts a first
  visit to the login page actually loads (Chromium's resource timing, once the
  page is idle): every page but login is a chunk of its own, fetched when
  first opened (portal/src/App.tsx).
* ``portal_dashboard_usage_ms``: on a fresh local stack (``python -m devstack``
  in a child process, as ``make run`` starts it, portal included), the demo
  owner logs in through the login page in Debian's Chromium; measured in the
  page, from the portal's navigation to the dashboard after login (the history
  entry leaving /login) to the frame after this month's usage figure is in
  the document; median of N runs, each in a fresh browser context (no cached
  data, the session in memory only as the portal keeps it). Playwright then
  waits for the figure to be visible, so a run that never shows it fails.

Report-only figures: no target, and no test asserts them.
"""

from __future__ import annotations

import contextlib
import gzip
import statistics
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Figure
from devstack.stack import REPO_ROOT

DIST = REPO_ROOT / "portal" / "dist"
GZIP_LEVEL = 6
BATCH = 1000
# The bench's stack: login's bcrypt at the quick cost (login is not what is measured here).
STACK_ENV = {"BCRYPT_COST": "4"}
# Watches the page from its first script on: when the portal leaves /login (pushState or
# replaceState) and, from then, the frame after ``needle`` is first in the document.
PROBE = """(needle) => {
  const marks = (window.__portalBench = { nav: null, shown: null });
  for (const name of ["pushState", "replaceState"]) {
    const original = history[name];
    history[name] = function (...args) {
      const result = original.apply(this, args);
      if (marks.nav === null && !location.pathname.startsWith("/login")) marks.nav = performance.now();
      return result;
    };
  }
  let pending = false;
  const check = () => {
    if (marks.nav === null || marks.shown !== null || pending || !document.body) return;
    if (!document.body.textContent.includes(needle)) return;
    pending = true;
    requestAnimationFrame(() => { marks.shown = performance.now(); });
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
}"""


def _gzip_sizes(scripts: list[Path]) -> dict[str, int]:
    """Each script's gzip(level 6) size by file name: both bundle figures sum these."""
    return {path.name: len(gzip.compress(path.read_bytes(), compresslevel=GZIP_LEVEL)) for path in scripts}


@contextlib.contextmanager
def _chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, as the browser tests launch it; closed on the way out."""
    from playwright.sync_api import sync_playwright

    from tests.portal.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def measure_bundle(dist: Path = DIST) -> Figure:
    """``portal_bundle_gzip_kib`` from the built portal (``make portal`` builds it)."""
    scripts = sorted((dist / "assets").glob("*.js"))
    if not scripts:
        raise RuntimeError(f"no {dist}/assets/*.js: build the portal first (make portal)")
    sizes = _gzip_sizes(scripts)
    raw = sum(path.stat().st_size for path in scripts)
    total = sum(sizes.values())
    return Figure(
        "portal_bundle_gzip_kib",
        round(total / 1024, 1),
        "KiB",
        "-",
        {"js_files": len(scripts), "raw_kib": round(raw / 1024, 1)},
        params={"what": "sum of gzip(level 6) of portal/dist/assets/*.js"},
        detail={"gzip_bytes": sizes},
    )


def measure_first_visit(portal_url: str, dist: Path = DIST) -> Figure:
    """``portal_first_visit_gzip_kib``: gzip of the scripts the login page loads, in a fresh browser."""
    from playwright.sync_api import expect

    from tests.portal.browser import DESKTOP, LOCALE, TIMEZONE

    with _chromium() as browser:
        page = browser.new_context(viewport=DESKTOP, locale=LOCALE, timezone_id=TIMEZONE).new_page()
        page.goto(f"{portal_url.rstrip('/')}/login")
        expect(page.get_by_role("heading", name="Log in", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        urls: list[str] = page.evaluate(
            "performance.getEntriesByType('resource').map((entry) => entry.name)"
            ".concat([...document.scripts].map((script) => script.src))"
        )
    names = sorted({url.rsplit("/", 1)[-1] for url in urls if "/assets/" in url and url.endswith(".js")})
    if not names:
        raise RuntimeError(f"the login page at {portal_url} loaded no /assets/*.js")
    sizes = _gzip_sizes([dist / "assets" / name for name in names])
    return Figure(
        "portal_first_visit_gzip_kib",
        round(sum(sizes.values()) / 1024, 1),
        "KiB",
        "-",
        {"js_files": len(names)},
        params={"what": "sum of gzip(level 6) of the scripts a first visit to /login loads"},
        detail={"gzip_bytes": sizes},
    )


def _ingest_month(api: Any, token: str, events: int) -> int:
    """``events`` api_calls events spread over this month's days so far; their total quantity."""
    now = datetime.now(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max((now - first).total_seconds() - 60, 1.0)
    total = 0
    for start in range(0, events, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, events)):
            moment = first + timedelta(seconds=span * i / events)
            quantity = 1 + i % 7
            total += quantity
            batch.append(
                {
                    "event_id": uuid.uuid4().hex,
                    "metric": "api_calls",
                    "quantity": quantity,
                    "timestamp": moment.isoformat().replace("+00:00", "Z"),
                }
            )
        api.call("POST", "/metrics", {"events": batch}, token)
    return total


def measure_dashboard(info: dict[str, Any], runs: int, events: int) -> Figure:
    """``portal_dashboard_usage_ms`` against the stack of ``info`` (its ``stack.json``)."""
    from playwright.sync_api import expect

    from tests.e2e.payments_support import Api
    from tests.portal.browser import DESKTOP, LOCALE, TIMEZONE, login

    api = Api(info["api_url"])
    total = _ingest_month(api, api.token(info["demo_customer_api_key"]), events)
    needle = f"{total:,}"  # en-GB grouping, as the portal formats it for LOCALE
    samples: list[float] = []
    with _chromium() as browser:
        for _ in range(runs):
            context = browser.new_context(viewport=DESKTOP, locale=LOCALE, timezone_id=TIMEZONE)
            try:
                page = context.new_page()
                page.add_init_script(f"({PROBE})({needle!r})")
                login(page, info["portal_url"], info["demo_user_email"], info["demo_user_password"])
                expect(page.get_by_text(needle, exact=False).first).to_be_visible()
                page.wait_for_function("() => window.__portalBench.shown !== null")
                marks = page.evaluate("() => window.__portalBench")
                if marks["nav"] is None:
                    raise RuntimeError("the portal never left /login through the history API")
                samples.append(marks["shown"] - marks["nav"])
            finally:
                context.close()
    return Figure(
        "portal_dashboard_usage_ms",
        round(statistics.median(samples), 1),
        "ms",
        "-",
        {"events_this_month": events, "runs": runs},
        params={
            "what": "navigation to the dashboard after login -> this month's usage figure shown (median)",
            "browser": "Debian chromium, headless, fresh context per run",
            "locale": LOCALE,
        },
        detail={"samples_ms": [round(s, 1) for s in samples]},
    )


def run_alone(sizes: dict[str, Any]) -> list[Figure]:
    """``python -m bench --only portal``: the bundle, then the dashboard on a stack of its own."""
    from devstack.spawn import spawned_stack
    from tests.portal.browser import CHROMIUM

    bundle = measure_bundle()
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make bench` installs Debian's chromium")
    with spawned_stack(prefix="saas-bench-portal-", env=STACK_ENV, show_output=False) as info:
        if "portal_url" not in info:
            raise RuntimeError("python -m devstack wrote no portal_url to stack.json")
        first_visit = measure_first_visit(info["portal_url"])
        dashboard = measure_dashboard(info, sizes["portal_runs"], sizes["portal_events"])
    return [bundle, first_visit, dashboard]
