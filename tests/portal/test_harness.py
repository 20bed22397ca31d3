"""The harness's own gates, on pages made here (no stack): an accessibility failure is a failure.

A gate that never fails proves nothing: axe-core must reject a page with a
missing label, a nameless button and low-contrast text, and pass a clean one.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import screenshot

CLEAN = """<!doctype html><html lang="en"><head><title>Clean</title></head><body>
<header><nav aria-label="Main"><a href="#">Home</a></nav></header>
<main><h1>Clean page</h1><label for="q">Search</label><input id="q"><button>Go</button></main></body></html>"""
BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head><body><main><h1>Broken</h1>
<input id="q"><button></button><p style="color:#bbb;background:#fff">faint</p></main></body></html>"""


def test_a_clean_page_passes_and_is_saved(page: Page) -> None:
    page.set_content(CLEAN)
    assert_accessible(page, "clean page")
    assert screenshot(page, "harness", "clean").is_file()


def test_serious_and_critical_violations_fail_naming_the_rules(page: Page) -> None:
    page.set_content(BROKEN)
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "broken page")
    message = str(failure.value)
    for rule in ("label", "button-name", "color-contrast"):
        assert f"- {rule} (" in message, message
