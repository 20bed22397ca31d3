"""A forgotten password, reset from the e-mailed link in the browser (issue 15: "password reset from the e-mailed links").

The person asks on /reset-password, opens the link the local SES holds, types
a new password twice (a mismatch is refused at the form), and then logs in
with the new password while the old one is refused.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import login, screenshot
from tests.portal.data import Api, email_link, new_tenant

JOURNEY = "password-reset"
NEW_PASSWORD = "a brand new passphrase"


def test_a_person_resets_the_password_from_the_e_mailed_link(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str
) -> None:
    person = new_tenant(api, operator, local_stack["aws_endpoint_url"], role="viewer", name="Reset Journey Co")

    page.goto(f"{portal_url}/reset-password")
    page.get_by_label("E-mail").fill(person.email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_text("Check your e-mail")).to_be_visible()
    assert_accessible(page, "the reset request page")
    screenshot(page, JOURNEY, "1-requested")

    page.goto(portal_url + email_link(local_stack["aws_endpoint_url"], person.email, "reset-password"))
    expect(page.get_by_role("heading", name="Choose a new password", level=1)).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD + "!")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The two passwords do not match.")).to_be_visible()
    assert_accessible(page, "the new-password form")
    screenshot(page, JOURNEY, "2-mismatch")

    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password was changed")).to_be_visible()
    screenshot(page, JOURNEY, "3-changed")

    status, _, _ = api.request("POST", "/auth/login", {"email": person.email, "password": person.password})
    assert status == 401, "the old password still logs in"
    login(page, portal_url, person.email, NEW_PASSWORD)
