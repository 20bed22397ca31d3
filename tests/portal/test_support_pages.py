"""Issue 15's support journey: tickets, the audit trail and notifications, as the people at a customer use them.

The demo owner logs in once (tokens live in memory only: a reload would log
out, so the journey moves by the side nav's links), opens a ticket through the
form, finds it in the list (and through the status filter), opens it, comments
and closes it; the audit trail then shows the sign-in and the ticket's events
with the chain head (copied to the clipboard as JSON), and Notifications lists
the ticket's confirmation e-mail, which opening the ticket queued. A viewer of
another tenant reads that tenant's tickets but is offered neither the form,
the comment box, "Close ticket" nor the audit trail. axe-core checks every page
(dialogs open included); each step leaves a screenshot.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import PHONE, login, screenshot
from tests.portal.data import Api, new_tenant

JOURNEY = "support"
SUBJECT = "Invoice PDF shows the wrong VAT number"
DESCRIPTION = "The PDF of last month's invoice shows our old VAT number.\n\nCould you regenerate it with the new one?"
COMMENT = "The new VAT number is GB123456789."
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def _nav(page: Page, label: str) -> None:
    """Follow a side-nav link (no reload: that would end the in-memory session)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


def _settled(page: Page, heading: str) -> Locator:
    """The page's <main> once its h1 reads ``heading`` and its requests are done (before axe and a picture)."""
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name=heading, level=1)).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(main.get_by_role("status").filter(has_text=re.compile("Loading|Reading"))).to_have_count(0)
    return main


def test_the_owner_opens_comments_on_and_closes_a_ticket_then_reads_the_audit_trail(
    page: Page, local_stack: dict[str, Any], portal_url: str
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal_url)
    login(page, portal_url, local_stack["demo_user_email"], local_stack["demo_user_password"])

    # The tickets page, before the demo tenant has any.
    _nav(page, "Support tickets")
    main = _settled(page, "Support tickets")
    expect(main.get_by_text("No support tickets yet")).to_be_visible()
    assert_accessible(page, "the tickets page (empty)")
    screenshot(page, JOURNEY, "1-tickets-empty")

    # The form: a blank subject is refused at the field, before anything is sent.
    main.get_by_role("button", name="Open a ticket").first.click()
    dialog = page.get_by_role("dialog", name="Open a ticket")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Open ticket").click()
    expect(dialog.get_by_text("Enter a subject.")).to_be_visible()
    dialog.get_by_label("Subject").fill(SUBJECT)
    dialog.get_by_label("Description").fill(DESCRIPTION)
    dialog.get_by_label("Priority").select_option("high")
    assert_accessible(page, "the open-a-ticket dialog")
    screenshot(page, JOURNEY, "2-open-ticket-form")
    dialog.get_by_role("button", name="Open ticket").click()
    expect(dialog).to_be_hidden()

    # The list: the new ticket, open and high, newest first; the status filter finds it under "Open" only.
    expect(main.get_by_role("status").filter(has_text="Ticket opened")).to_be_visible()
    table = main.get_by_role("table", name="Support tickets")
    row = table.get_by_role("row", name=re.compile(re.escape(SUBJECT)))
    expect(row).to_contain_text("Open")
    expect(row).to_contain_text("High")
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "the tickets list")
    screenshot(page, JOURNEY, "3-tickets-list")
    status_filter = main.get_by_label("Status")
    status_filter.select_option("closed")
    expect(main.get_by_text("No closed tickets")).to_be_visible()
    status_filter.select_option("open")
    expect(row).to_be_visible()

    # The ticket: its fields and description; a comment joins the conversation, signed "You".
    row.get_by_role("link", name=SUBJECT).click()
    main = _settled(page, SUBJECT)
    details = main.locator("section").filter(has=page.get_by_role("heading", name="Details", exact=True)).locator("dd")
    expect(details.get_by_text("Open", exact=True)).to_be_visible()
    expect(details.get_by_text("High", exact=True)).to_be_visible()
    expect(main.get_by_text("Could you regenerate it with the new one?")).to_be_visible()
    expect(main.get_by_text("No comments yet")).to_be_visible()
    reference = re.search(r"#([0-9a-f]{8})", main.get_by_text(re.compile(r"^Ticket #")).inner_text())
    assert reference, "the ticket's reference is shown under its subject"
    assert_accessible(page, "the ticket")
    screenshot(page, JOURNEY, "4-ticket")
    main.get_by_label("Comment").fill(COMMENT)
    main.get_by_role("button", name="Add comment").click()
    comment = main.get_by_role("heading", name="You", level=3)
    expect(comment).to_be_visible()
    expect(main.get_by_text(COMMENT)).to_be_visible()
    expect(main.get_by_label("Comment")).to_have_value("")
    assert_accessible(page, "the ticket with a comment")
    screenshot(page, JOURNEY, "5-ticket-commented")

    # Closing asks first, then the ticket reads closed and takes no more comments.
    main.get_by_role("button", name="Close ticket").click()
    confirm = page.get_by_role("dialog", name="Close this ticket?")
    expect(confirm).to_be_visible()
    assert_accessible(page, "the close-ticket dialog")
    screenshot(page, JOURNEY, "6-close-ticket-dialog")
    confirm.get_by_role("button", name="Close ticket").click()
    expect(confirm).to_be_hidden()
    expect(details.get_by_text("Closed", exact=True)).to_be_visible()
    expect(main.get_by_text("This ticket is closed and takes no more comments.")).to_be_visible()
    expect(main.get_by_label("Comment")).to_have_count(0)
    expect(main.get_by_role("button", name="Close ticket")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "the closed ticket")
    screenshot(page, JOURNEY, "7-ticket-closed")

    # The audit trail: this sign-in and the ticket's three events, and the chain head to keep elsewhere.
    _nav(page, "Audit trail")
    main = _settled(page, "Audit trail")
    events = main.get_by_role("table", name="Audit events")
    for action in ("auth.succeeded", "support_ticket.created", "support_ticket.comment_added", "support_ticket.closed"):
        expect(events.get_by_role("row").filter(has_text=action).first).to_be_visible()
    expect(events.get_by_role("row").filter(has_text="support_ticket.closed").first).to_contain_text("You")
    head_hash = main.get_by_text(SHA256_HEX)
    expect(head_hash).to_be_visible()
    expect(main.get_by_text("Keep a copy outside the platform")).to_be_visible()
    assert_accessible(page, "the audit trail")
    screenshot(page, JOURNEY, "8-audit-trail")
    main.get_by_role("button", name="Copy chain head").click()
    expect(main.get_by_role("button", name="Copied")).to_be_visible()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied["last_hash"] == head_hash.inner_text().strip()
    assert copied["count"] >= 4 and copied["last_event_id"], copied

    # Notifications: the ticket's confirmation e-mail, which opening it queued.
    _nav(page, "Notifications")
    main = _settled(page, "Notifications")
    confirmation = main.get_by_role("table", name="Notifications").get_by_role(
        "row", name=re.compile(re.escape(f"[Ticket {reference.group(1)}]"))
    )
    expect(confirmation).to_contain_text("Ticket confirmation")
    expect(confirmation).to_contain_text(re.compile("Queued|Sent"))
    assert_accessible(page, "the notifications")
    screenshot(page, JOURNEY, "9-notifications")

    # At a phone's width, through the collapsed menu.
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Menu").click()
    _nav(page, "Audit trail")
    main = _settled(page, "Audit trail")
    expect(main.get_by_text(SHA256_HEX)).to_be_visible()
    assert_accessible(page, "the audit trail at phone width")
    screenshot(page, JOURNEY, "10-audit-trail-phone")
    page.get_by_role("button", name="Menu").click()
    _nav(page, "Support tickets")
    main = _settled(page, "Support tickets")
    expect(main.get_by_role("link", name=SUBJECT)).to_be_visible()
    assert_accessible(page, "the tickets list at phone width")
    screenshot(page, JOURNEY, "11-tickets-phone")


def test_a_viewer_reads_tickets_but_is_not_offered_to_write_them(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api
) -> None:
    operator = api.token(local_stack["operator_api_key"])  # new_tenant takes the operator's session, not its key
    tenant = new_tenant(api, operator, local_stack["aws_endpoint_url"], role="viewer", name="Support Viewer Co")
    subject = f"Webhook deliveries are delayed ({uuid.uuid4().hex[:6]})"
    api.call(
        "POST",
        "/support-tickets",
        {"subject": subject, "body": "Since this morning.", "priority": "urgent"},
        tenant.admin_token,
    )
    login(page, portal_url, tenant.email, tenant.password)

    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Support tickets")).to_be_visible()
    expect(navigation.get_by_role("link", name="Audit trail")).to_have_count(0)
    _nav(page, "Support tickets")
    main = _settled(page, "Support tickets")
    row = main.get_by_role("table", name="Support tickets").get_by_role("row", name=re.compile(re.escape(subject)))
    expect(row).to_contain_text("Urgent")
    expect(main.get_by_role("button", name="Open a ticket")).to_have_count(0)
    expect(main.get_by_text("can read tickets but not open or answer them")).to_be_visible()
    assert_accessible(page, "the tickets page for a viewer")
    screenshot(page, JOURNEY, "viewer-1-tickets")

    row.get_by_role("link", name=subject).click()
    main = _settled(page, subject)
    expect(main.get_by_text("Since this morning.")).to_be_visible()
    expect(main.get_by_label("Comment")).to_have_count(0)
    expect(main.get_by_role("button", name="Close ticket")).to_have_count(0)
    assert_accessible(page, "a ticket for a viewer")
    screenshot(page, JOURNEY, "viewer-2-ticket")

    _nav(page, "Notifications")
    main = _settled(page, "Notifications")
    expect(
        main.get_by_role("table", name="Notifications").get_by_role("row").filter(has_text="Ticket confirmation").first
    ).to_be_visible()
    assert_accessible(page, "the notifications for a viewer")
    screenshot(page, JOURNEY, "viewer-3-notifications")
