"""The accessibility gate: axe-core (axe-playwright-python) on the page as it is now.

Issue 15 asks for no serious or critical violation on any page; minor and
moderate ones are axe's advice, not gated. Kept apart from browser.py so the
bench (bench/portal_bench.py, type-checked by ``make lint``) can log in
without importing axe-playwright-python, which ships no type information.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# axe-core impacts that fail a test (minor and moderate are reported by axe, not gated here).
BLOCKING_IMPACTS = ("serious", "critical")

_axe = Axe()


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
