"""Issue 15's first journey: the demo owner logs in and sees this month's usage on the dashboard.

Usage is sent beforehand as a customer's system would (``POST /metrics`` with
the demo customer's API key, from ``stack.json``); the owner logs in through
the login page with the credentials ``make run`` prints, and the dashboard
shows each metric's number as the browser's locale (en-GB) formats it. axe-core
finds no serious or critical violation on the login page and the dashboard, at
desktop and at phone width; each step leaves a screenshot.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import PHONE, login, screenshot
from tests.portal.data import Api, ingest_now

JOURNEY = "login-dashboard"
# The demo customer is on growth (1,000,000 API calls and 5,000 scans included): both under.
USAGE = {"api_calls": 123_457, "compliance_scans": 507}


def test_the_owner_logs_in_and_sees_this_months_usage(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api
) -> None:
    ingest_now(api, api.token(local_stack["demo_customer_api_key"]), USAGE)

    # The login page, as a visitor first sees it.
    page.goto(f"{portal_url}/login")
    expect(page.get_by_role("heading", name="Log in", level=1)).to_be_visible()
    assert_accessible(page, "the login page")
    screenshot(page, JOURNEY, "1-login")

    login(page, portal_url, local_stack["demo_user_email"], local_stack["demo_user_password"])

    # The dashboard: this month's usage per metric, as sent, formatted for en-GB.
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(main.get_by_text("123,457", exact=True).first).to_be_visible()
    expect(main.get_by_text("507", exact=True).first).to_be_visible()
    usage_table = main.get_by_role("table", name=re.compile("usage", re.IGNORECASE))
    expect(usage_table.get_by_role("row", name=re.compile("API calls", re.IGNORECASE))).to_contain_text("123,457")
    page.wait_for_load_state("networkidle")  # the upcoming invoice's card too, before axe and the picture
    assert_accessible(page, "the dashboard")
    screenshot(page, JOURNEY, "2-dashboard")

    # At a phone's width: the same figures, the navigation collapsed behind "Menu", still accessible.
    page.set_viewport_size(PHONE)
    expect(main.get_by_text("123,457", exact=True).first).to_be_visible()
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation).to_be_hidden()
    assert_accessible(page, "the dashboard at phone width")
    screenshot(page, JOURNEY, "3-dashboard-phone")
    page.get_by_role("button", name="Menu").click()
    expect(navigation.get_by_role("link", name="Dashboard")).to_be_visible()
    assert_accessible(page, "the phone menu")
    screenshot(page, JOURNEY, "4-phone-menu")
