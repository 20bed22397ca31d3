"""Issue 15's "done when": the demo owner ``make run`` prints can log in and open every page.

The other journeys each go deep into a few pages with a tenant of their own;
this one walks the whole navigation as the owner of the demo customer (the
credentials in ``stack.json``, as ``make run`` prints them) after usage has
been sent with the demo customer's key: every page the side nav offers an
owner is linked, opens under its own heading, finishes loading without an
error (no ``role="alert"``, no spinner left), passes axe-core, and fits a
phone's width. A page that broke for a plain owner on the local stack, or a
nav entry that went missing, fails here.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import DESKTOP, PHONE, assert_fits_the_width, login, screenshot
from tests.portal.data import Api, ingest_now

JOURNEY = "every-page"
# portal/src/nav.ts in order: an owner is offered all of them.
PAGES = (
    "Dashboard",
    "Invoices",
    "Payment method",
    "API keys",
    "Webhooks",
    "Usage alerts",
    "Support tickets",
    "Team",
    "Security",
    "Audit trail",
    "Notifications",
)


def test_the_demo_owner_opens_every_page_of_the_portal(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api
) -> None:
    ingest_now(api, api.token(local_stack["demo_customer_api_key"]), {"api_calls": 4_321})
    login(page, portal_url, local_stack["demo_user_email"], local_stack["demo_user_password"])

    navigation = page.get_by_role("navigation", name="Main")
    links = navigation.get_by_role("link")
    expect(links).to_have_text(list(PAGES))

    main = page.get_by_role("main")
    for number, label in enumerate(PAGES, start=1):
        page.set_viewport_size(DESKTOP)
        navigation.get_by_role("link", name=label, exact=True).click()
        expect(main.get_by_role("heading", name=label, level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        expect(main.get_by_role("status", name="Loading")).to_have_count(0)
        expect(main.get_by_role("alert")).to_have_count(0)
        assert_accessible(page, f"the {label} page")
        screenshot(page, JOURNEY, f"{number}-{label}")

        page.set_viewport_size(PHONE)
        expect(main.get_by_role("heading", name=label, level=1)).to_be_visible()
        assert_fits_the_width(page, f"the {label} page")

    # The dashboard shows what the demo customer's key sent (en-GB formatting).
    page.set_viewport_size(DESKTOP)
    navigation.get_by_role("link", name="Dashboard", exact=True).click()
    expect(main.get_by_text("4,321", exact=True).first).to_be_visible()
