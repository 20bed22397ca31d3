"""Issue 15's account journeys in the browser: MFA on the Security page, API keys, the team.

Each journey has a tenant of its own (its person's security state and keys
change): the operator onboards it, naming its first owner (``owner_email``)
for the MFA and team journeys, or with ``new_tenant``'s admin for the keys.
The person logs in once through the login page and moves by the nav links
(tokens live in memory: a reload logs out). What the portal claims is checked
against the API from outside: the key shown once works, the revoked one is
refused, the invited viewer is not offered the API-keys page. axe-core checks
every page and every open dialog; each step leaves a screenshot.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import DESKTOP, LOCALE, PHONE, TIMEZONE, assert_fits_the_width, login, screenshot
from tests.portal.data import (
    PASSWORD,
    Api,
    email_link,
    new_owner_tenant,
    new_tenant,
    room_in_this_step,
    totp_code,
)

# A customer key as the API shows its prefix: "sk_test_"/"sk_live_" and the 12-character public id.
KEY_PREFIX_LEN = len("sk_test_") + 12


def go_to(page: Page, link: str, heading: str) -> Locator:
    """Follow a nav link (no reload: that would log out) and wait for the page's h1; the <main>."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link, exact=True).click()
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name=heading, level=1)).to_be_visible()
    return main


def card(main: Locator, title: str) -> Locator:
    """The card (a <section>) whose heading is ``title``."""
    return main.locator("section").filter(has=main.page.get_by_role("heading", name=title, exact=True))


def authenticate_status(api: Api, key: str) -> int:
    status, _, _ = api.request("POST", "/auth/authenticate", {"api_key": key})
    return status


def test_an_owner_turns_on_mfa_and_logs_in_again_with_a_code(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str, tmp_path: Path
) -> None:
    journey = "account-mfa"
    tenant = new_owner_tenant(api, operator, local_stack["aws_endpoint_url"], "MFA Journey Co")
    login(page, portal_url, tenant.email, tenant.password)

    main = go_to(page, "Security", "Security")
    expect(card(main, "Two-factor authentication (2FA)").get_by_text("Off", exact=True)).to_be_visible()
    # Requiring MFA is not offered before the owner has it (it would lock this session out).
    expect(main.get_by_role("button", name="Require 2FA for everyone")).to_be_disabled()
    assert_accessible(page, "the security page")
    screenshot(page, journey, "1-security")

    # Set-up: the QR code of the otpauth URI, and the same secret as text, which the "app" (pyotp) reads.
    main.get_by_role("button", name="Set up 2FA").click()
    qr = main.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/png;base64,")
    secret = main.locator("code.secret-value").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}=*", secret), secret
    assert_accessible(page, "the MFA set-up (QR code)")
    screenshot(page, journey, "2-scan-qr-code")

    # Enrol with the previous step's code, so the login below has a fresh one (each step is accepted once).
    room_in_this_step(10)
    main.get_by_label("Code from your app").fill(totp_code(secret, 1))
    main.get_by_role("button", name="Turn on 2FA").click()
    codes = main.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    recovery_codes = [code.strip() for code in codes.all_inner_texts()]
    assert len(set(recovery_codes)) == 10
    expect(main.get_by_text("you won't see them again")).to_be_visible()
    expect(card(main, "Two-factor authentication (2FA)").get_by_text("On", exact=True)).to_be_visible()
    with page.expect_download() as downloading:
        main.get_by_role("link", name="Download as text").click()
    saved = tmp_path / "recovery-codes.txt"
    downloading.value.save_as(saved)
    assert downloading.value.suggested_filename == "recovery-codes.txt"
    assert all(code in saved.read_text(encoding="utf-8") for code in recovery_codes)
    assert_accessible(page, "the recovery codes")
    screenshot(page, journey, "3-recovery-codes")

    # The session was opened with the password alone: the page sends the owner to log in again.
    main.get_by_role("button", name=re.compile("log in again", re.IGNORECASE)).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Log in", level=1)).to_be_visible()
    expect(page.get_by_text("Two-factor authentication is on: log in with your password and a code")).to_be_visible()
    screenshot(page, journey, "4-sent-to-login")

    login(page, portal_url, tenant.email, tenant.password, mfa_code=totp_code(secret))
    expect(page.get_by_role("main").get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, journey, "5-dashboard-after-mfa-login")

    # Now the owner may require MFA of the whole organization.
    main = go_to(page, "Security", "Security")
    expect(card(main, "Two-factor authentication (2FA)").get_by_text("On", exact=True)).to_be_visible()
    main.get_by_role("button", name="Require 2FA for everyone").click()
    expect(main.get_by_text("Two-factor authentication is now required")).to_be_visible()
    assert api.call("GET", "/customers/me", token=tenant.admin_token)["require_mfa"] is True
    expect(main.get_by_role("button", name="Stop requiring 2FA")).to_be_visible()
    assert_accessible(page, "the security page with MFA on and required")
    screenshot(page, journey, "6-mfa-required")

    page.set_viewport_size(PHONE)
    expect(main.get_by_role("button", name="Turn off 2FA")).to_be_visible()
    assert_fits_the_width(page, "the page")
    assert_accessible(page, "the security page at phone width")
    screenshot(page, journey, "7-security-phone")


def test_a_key_is_shown_once_works_rotates_and_once_revoked_is_refused(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str
) -> None:
    journey = "account-api-keys"
    tenant = new_tenant(api, operator, local_stack["aws_endpoint_url"], role="admin", name="Keys Journey Co")
    login(page, portal_url, tenant.email, tenant.password)

    main = go_to(page, "API keys", "API keys")
    keys = main.get_by_role("table", name="API keys")
    expect(keys.get_by_role("row")).to_have_count(2)  # the header and the onboarding key (admin)
    assert_accessible(page, "the API keys page")
    screenshot(page, journey, "1-keys")

    # Create: the roles offered are those an admin may grant (no owner).
    main.get_by_role("button", name="Create API key").click()
    dialog = page.get_by_role("dialog", name="Create an API key")
    role = dialog.get_by_label("Role")
    offered = [value.strip() for value in role.locator("option").evaluate_all("options => options.map(o => o.value)")]
    assert offered == ["admin", "billing", "developer", "viewer"], offered
    dialog.get_by_label("Name").fill("CI pipeline")
    role.select_option("developer")
    assert_accessible(page, "the create-key dialog")
    screenshot(page, journey, "2-create-dialog")
    dialog.get_by_role("button", name="Create key").click()

    # The secret, once, with its warning and copy button; it works against the API.
    shown = page.get_by_role("dialog", name="Your new API key")
    expect(shown.get_by_text("you won't see it again")).to_be_visible()
    expect(shown.get_by_role("button", name="Copy key")).to_be_visible()
    secret = shown.locator("code.secret-value").inner_text().strip()
    assert secret.startswith(("sk_test_", "sk_live_")), secret
    assert_accessible(page, "the new key's dialog")
    screenshot(page, journey, "3-secret-shown-once")
    session = api.token(secret)
    assert api.call("GET", "/customers/me", token=session)["id"] == tenant.customer["id"]
    shown.get_by_role("button", name="I have copied the key").click()
    created = keys.get_by_role("row").filter(has_text=secret[:KEY_PREFIX_LEN])
    expect(created).to_contain_text("Developer")
    expect(created).to_contain_text("Active")
    expect(main).not_to_contain_text(secret)  # never shown again

    # Rotate with an hour's overlap: a new secret, once; both keys work meanwhile.
    created.get_by_role("button", name="Rotate CI pipeline").click()
    rotating = page.get_by_role("dialog", name="Rotate API key")
    rotating.get_by_label("Old key keeps working for").select_option("3600")
    assert_accessible(page, "the rotate dialog")
    screenshot(page, journey, "4-rotate-dialog")
    rotating.get_by_role("button", name="Rotate key").click()
    rotated = page.get_by_role("dialog", name="Your rotated API key")
    expect(rotated.get_by_text("keeps working until")).to_be_visible()
    new_secret = rotated.locator("code.secret-value").inner_text().strip()
    assert new_secret != secret and new_secret.startswith(("sk_test_", "sk_live_"))
    screenshot(page, journey, "5-rotated-secret")
    assert api.call("GET", "/customers/me", token=api.token(new_secret))["id"] == tenant.customer["id"]
    assert authenticate_status(api, secret) == 200  # the overlap
    rotated.get_by_role("button", name="I have copied the key").click()
    expect(created).to_contain_text("Rotating out")

    # Revoke the key made above: confirmed, then the API refuses it and the session made with it.
    created.get_by_role("button", name="Revoke CI pipeline").click()
    confirm = page.get_by_role("dialog", name="Revoke API key")
    expect(confirm).to_contain_text(secret[:KEY_PREFIX_LEN])
    assert_accessible(page, "the revoke dialog")
    screenshot(page, journey, "6-revoke-dialog")
    confirm.get_by_role("button", name="Revoke key").click()
    expect(main.get_by_role("status").filter(has_text="is revoked")).to_be_visible()
    expect(created).to_contain_text("Revoked")
    assert authenticate_status(api, secret) == 401
    status, _, _ = api.request("GET", "/customers/me", token=session)
    assert status == 401
    assert authenticate_status(api, new_secret) == 200  # its replacement is untouched
    assert_accessible(page, "the API keys page after revoking")
    screenshot(page, journey, "7-revoked")

    page.set_viewport_size(PHONE)
    expect(keys.get_by_role("row")).to_have_count(4)  # the header, the onboarding key, the revoked and its successor
    assert_fits_the_width(page, "the page")
    assert_accessible(page, "the API keys page at phone width")
    screenshot(page, journey, "8-keys-phone")


def test_an_owner_invites_a_viewer_who_is_not_offered_api_keys(
    page: Page, browser: Browser, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str
) -> None:
    journey = "account-team"
    aws = local_stack["aws_endpoint_url"]
    tenant = new_owner_tenant(api, operator, aws, "Team Journey Co")
    login(page, portal_url, tenant.email, tenant.password)

    main = go_to(page, "Team", "Team")
    me = main.get_by_role("row").filter(has_text=tenant.email)
    expect(me).to_contain_text("(you)")
    expect(me.get_by_role("button")).to_have_count(0)  # nobody demotes or removes themselves here
    assert_accessible(page, "the team page")
    screenshot(page, journey, "1-team")

    # Invite a viewer (an owner may grant every role, owner included).
    viewer = f"viewer-{uuid.uuid4().hex[:10]}@example.test"
    main.get_by_role("button", name="Invite a person").click()
    dialog = page.get_by_role("dialog", name="Invite a person")
    offered = dialog.get_by_label("Role").locator("option").evaluate_all("options => options.map(o => o.value)")
    assert offered == ["owner", "admin", "billing", "developer", "viewer"], offered
    dialog.get_by_label("E-mail").fill(viewer)
    dialog.get_by_label("Role").select_option("viewer")
    assert_accessible(page, "the invite dialog")
    screenshot(page, journey, "2-invite-dialog")
    dialog.get_by_role("button", name="Send invitation").click()
    expect(main.get_by_text(f"Invitation sent to {viewer} as viewer")).to_be_visible()
    screenshot(page, journey, "3-invitation-sent")

    # The viewer, in a browser of their own, follows the e-mailed link and accepts.
    link = email_link(aws, viewer, "accept-invitation")
    context = browser.new_context(viewport=DESKTOP, locale=LOCALE, timezone_id=TIMEZONE)
    try:
        theirs = context.new_page()
        errors: list[str] = []
        theirs.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
        theirs.goto(f"{portal_url}{link}")
        theirs.get_by_label("Your name").fill("Vera Viewer")
        theirs.get_by_label("Password", exact=True).fill(PASSWORD)
        theirs.get_by_label("Confirm password").fill(PASSWORD)
        assert_accessible(theirs, "the invitation page")
        screenshot(theirs, journey, "4-accept-invitation")
        theirs.get_by_role("button", name="Create account").click()
        expect(theirs.get_by_text("Your account is ready")).to_be_visible()

        # Asking for /api-keys leads to the login page, then back to /api-keys: not available to a viewer.
        theirs.goto(f"{portal_url}/api-keys")
        expect(theirs).to_have_url(re.compile(r"/login$"))
        theirs.get_by_label("E-mail").fill(viewer)
        theirs.get_by_label("Password", exact=True).fill(PASSWORD)
        theirs.get_by_role("button", name="Log in", exact=True).click()
        expect(theirs).to_have_url(re.compile(r"/api-keys$"))
        their_main = theirs.get_by_role("main")
        expect(their_main.get_by_role("heading", name="API keys", level=1)).to_be_visible()
        expect(their_main.get_by_text("Not available")).to_be_visible()
        expect(their_main.get_by_role("button", name="Create API key")).to_have_count(0)
        nav = theirs.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Dashboard", exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
        expect(nav.get_by_role("link", name="Team")).to_have_count(0)
        assert_accessible(theirs, "the API keys page as a viewer")
        screenshot(theirs, journey, "5-viewer-api-keys-not-available")
        assert not errors, f"uncaught JavaScript errors in the viewer's portal: {errors}"
    finally:
        context.close()

    # The owner (logging in afresh: the list is new) sees the viewer, makes them billing, then removes them.
    login(page, portal_url, tenant.email, tenant.password)
    main = go_to(page, "Team", "Team")
    member = main.get_by_role("row").filter(has_text=viewer)
    expect(member).to_contain_text("Viewer")
    member.get_by_role("button", name="Change role of Vera Viewer").click()
    change = page.get_by_role("dialog", name="Change role")
    change.get_by_label("New role").select_option("billing")
    assert_accessible(page, "the change-role dialog")
    screenshot(page, journey, "6-change-role-dialog")
    change.get_by_role("button", name="Save role").click()
    expect(main.get_by_text("Vera Viewer now has the role Billing.")).to_be_visible()
    expect(member).to_contain_text("Billing")
    assert [
        u["role"] for u in api.call("GET", "/users", token=tenant.admin_token)["items"] if u["email"] == viewer
    ] == ["billing"]

    member.get_by_role("button", name="Remove Vera Viewer").click()
    remove = page.get_by_role("dialog", name="Remove member")
    assert_accessible(page, "the remove dialog")
    screenshot(page, journey, "7-remove-dialog")
    remove.get_by_role("button", name="Remove member").click()
    expect(member).to_have_count(0)
    assert all(u["email"] != viewer for u in api.call("GET", "/users", token=tenant.admin_token)["items"])
    assert_accessible(page, "the team page after removing")
    screenshot(page, journey, "8-member-removed")

    page.set_viewport_size(PHONE)
    expect(main.get_by_role("button", name="Invite a person")).to_be_visible()
    assert_fits_the_width(page, "the page")
    assert_accessible(page, "the team page at phone width")
    screenshot(page, journey, "9-team-phone")
