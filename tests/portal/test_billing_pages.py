"""Issue 15's billing journeys in the browser: invoices and their PDF, the card form, webhooks and usage alerts.

Each journey has a tenant of its own, onboarded by the operator with an owner
(``owner_email``) who accepts the e-mailed invitation and logs in through the
login page: the pages are used as the people at a customer use them, with the
data made through the API as a customer's systems (or the operator's billing
run) would make it. axe-core checks every page, dialogs open included; each
step leaves a screenshot in ``.local/screenshots/``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader

from tests.portal.accessibility import assert_accessible
from tests.portal.browser import DESKTOP, PHONE, assert_fits_the_width, login, screenshot
from tests.portal.data import (
    Api,
    invoice_last_month,
    new_owner_tenant,
)
from tests.webhook_receiver import Receiver, start_receiver

# Over the starter tier's allowance, so the invoice has usage lines besides the base fee.
USAGE = {"api_calls": 150_000, "compliance_scans": 1_234}


def test_an_owner_filters_invoices_opens_one_and_downloads_its_pdf(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str, tmp_path: Path
) -> None:
    journey = "invoices"
    tenant = new_owner_tenant(api, operator, local_stack["aws_endpoint_url"], "Invoice Journey Co")
    invoice = invoice_last_month(api, operator, tenant, USAGE)
    assert invoice["status"] == "finalized", invoice  # no card: the run finalizes, nothing charges it
    assert invoice["currency"].upper() == "USD", invoice["currency"]
    total = _money_en_gb(invoice["total_cents"])

    login(page, portal_url, tenant.email, tenant.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name="Invoices", level=1)).to_be_visible()
    row = main.get_by_role("row", name=re.compile(re.escape(invoice["number"])))
    expect(row).to_contain_text("Finalized")
    expect(row).to_contain_text(total)
    assert_accessible(page, "the invoice list")
    screenshot(page, journey, "1-list")

    # Filtered: paid has nothing yet (an empty state, not an empty table); finalized has the invoice.
    status = main.get_by_label("Status")
    status.select_option("paid")
    expect(main.get_by_text("No paid invoices")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]status=paid"))
    assert_accessible(page, "the invoice list, filtered to an empty status")
    screenshot(page, journey, "2-filter-paid-empty")
    status.select_option("finalized")
    expect(row).to_be_visible()
    screenshot(page, journey, "3-filter-finalized")

    # The detail: lines and totals as the API computed them, the payment state, the PDF.
    row.get_by_role("link", name=invoice["number"]).click()
    expect(main.get_by_role("heading", name=f"Invoice {invoice['number']}", level=1)).to_be_visible()
    lines = main.get_by_role("table", name="Invoice lines")
    expect(lines.get_by_role("row")).to_have_count(1 + len(invoice["lines"]))
    for line in invoice["lines"]:
        expect(lines).to_contain_text(line["description"])
        expect(lines).to_contain_text(_money_en_gb(line["amount_cents"]))
    expect(main.get_by_text(_money_en_gb(invoice["tax_cents"]), exact=True)).to_be_visible()
    expect(main.get_by_text(total, exact=True).first).to_be_visible()
    expect(main.get_by_text("No charge yet")).to_be_visible()
    assert_accessible(page, "the invoice detail")
    screenshot(page, journey, "4-detail")

    with page.expect_download() as download_info:
        main.get_by_role("button", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{invoice['number']}.pdf", download.suggested_filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1000, pdf[:100]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert invoice["number"] in text, text[:2000]

    # At a phone's width the detail still reads (the tables scroll sideways) and passes axe.
    page.set_viewport_size(PHONE)
    expect(main.get_by_role("button", name="Download PDF")).to_be_visible()
    assert_accessible(page, "the invoice detail at phone width")
    assert_fits_the_width(page, "the invoice detail")
    screenshot(page, journey, "5-detail-phone")


def _money_en_gb(cents: int, symbol: str = "$") -> str:
    """What Intl.NumberFormat("en-GB", {currency: "USD"}) shows for ``cents`` (the tests' locale is en-GB)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}US{symbol}{whole:,}.{part:02d}"


def test_an_owner_adds_a_card_through_the_stripe_card_form(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str
) -> None:
    journey = "payment-method"
    tenant = new_owner_tenant(api, operator, local_stack["aws_endpoint_url"], "Card Journey Co")
    expiry_year = f"{(date.today().year + 3) % 100:02d}"

    login(page, portal_url, tenant.email, tenant.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payment method").click()
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name="Payment method", level=1)).to_be_visible()
    expect(main.get_by_text("No card on file")).to_be_visible()
    assert_accessible(page, "the payment method page without a card")
    screenshot(page, journey, "1-empty")

    # The card form: a SetupIntent from the API, Stripe.js (localstripe's) loaded at run time.
    main.get_by_role("button", name="Add a card").click()
    card_number = main.get_by_label("Card number")
    expect(card_number).to_be_visible()
    assert_accessible(page, "the card form")
    screenshot(page, journey, "2-card-form")

    # A card Stripe declines when it is set up: the reason is shown, nothing is saved.
    _fill_card(main, "4000000000000002", expiry_year)
    main.get_by_role("button", name="Save card").click()
    refusal = main.get_by_role("alert")
    expect(refusal).to_contain_text("The card was not saved")
    expect(refusal).to_contain_text("declined")
    assert api.request("GET", "/billing/payment-method", token=tenant.admin_token)[0] == 404
    assert_accessible(page, "the card form with a decline")
    screenshot(page, journey, "3-declined")

    # A good card (with a fresh SetupIntent: the declined one is spent) becomes the payment method.
    _fill_card(main, "4242424242424242", expiry_year)
    main.get_by_role("button", name="Save card").click()
    expect(main.get_by_role("status").filter(has_text="Card saved")).to_contain_text("Visa ending in 4242")
    on_file = main.locator("section").filter(has=page.get_by_role("heading", name="Card on file"))
    expect(on_file).to_contain_text("Visa")
    expect(on_file).to_contain_text("•••• 4242")
    expect(on_file).to_contain_text(f"/20{expiry_year}")
    card = api.call("GET", "/billing/payment-method", token=tenant.admin_token)
    assert card == {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2000 + int(expiry_year)}, card
    assert_accessible(page, "the payment method page with a card")
    screenshot(page, journey, "4-saved")

    page.set_viewport_size(PHONE)
    expect(on_file).to_contain_text("•••• 4242")
    assert_accessible(page, "the payment method page at phone width")
    assert_fits_the_width(page, "the payment method page")
    screenshot(page, journey, "5-saved-phone")


def _fill_card(main: Locator, number: str, expiry_year: str) -> None:
    main.get_by_label("Card number").fill(number)
    main.get_by_label("Expiry month (MM)").fill("08")
    main.get_by_label("Expiry year (YY)").fill(expiry_year)
    main.get_by_label("Security code (CVC)").fill("123")
    main.get_by_label("Postal code").fill("10115")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver (tests.webhook_receiver): ``flaky`` paths answer 503 once, then 200."""
    found, server, thread = start_receiver()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_owner_manages_webhook_endpoints_and_usage_alerts(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api, operator: str, receiver: Receiver
) -> None:
    journey = "webhooks-alerts"
    tenant = new_owner_tenant(api, operator, local_stack["aws_endpoint_url"], "Webhook Journey Co")
    hook = receiver.url("flaky")  # http://127.0.0.1:<port>/flaky/<random>: the local stack accepts it

    login(page, portal_url, tenant.email, tenant.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    expect(main.get_by_text("No endpoints yet")).to_be_visible()
    assert_accessible(page, "the webhooks page without endpoints")
    screenshot(page, journey, "1-webhooks-empty")

    # Create: the form in a dialog (checked by axe while open), then the secret, once.
    main.get_by_role("button", name="Add endpoint").first.click()
    dialog = page.get_by_role("dialog", name="Add a webhook endpoint")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Create endpoint").click()
    expect(dialog.get_by_text("Enter the URL that receives the events.")).to_be_visible()
    expect(dialog.get_by_text("Choose at least one event.")).to_be_visible()
    dialog.get_by_label("Endpoint URL").fill(hook)
    dialog.get_by_label("Description (optional)").fill("Key events for the audit bot")
    dialog.get_by_label("api_key.created").check()
    assert_accessible(page, "the add-endpoint dialog")
    screenshot(page, journey, "2-add-endpoint")
    dialog.get_by_role("button", name="Create endpoint").click()
    created = page.get_by_role("dialog", name="Endpoint created")
    expect(created).to_contain_text("shown only this once")
    secret = created.locator("code").filter(has_text="whsec_").inner_text().strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", secret), secret
    expect(created.get_by_role("button", name="Copy signing secret")).to_be_visible()
    assert_accessible(page, "the endpoint-created dialog with its secret")
    screenshot(page, journey, "3-secret-once")
    created.get_by_role("button", name="Done").click()
    expect(created).to_be_hidden()
    row = main.get_by_role("row", name=hook)
    expect(row).to_contain_text("api_key.created")
    expect(row).to_contain_text("Key events for the audit bot")
    expect(page.get_by_text(secret)).to_have_count(0)  # shown once: gone with the dialog
    [listed] = api.call("GET", "/webhook-endpoints", token=tenant.admin_token)["items"]
    assert listed["url"] == hook and "secret" not in listed, listed

    # An event: a new API key. The endpoint answers 503 the first time: a failed delivery, then "Retry".
    api.call("POST", "/api-keys", {"name": "webhook journey"}, tenant.admin_token)
    assert receiver.wait_for(hook, count=1), "the api_key.created event never reached the receiver"
    row.get_by_role("button", name=f"Deliveries to {hook}").click()
    deliveries = main.get_by_role("table", name=f"Deliveries to {hook}")
    first = deliveries.get_by_role("row", name=re.compile("api_key.created")).first
    expect(first).to_contain_text("Failed")
    expect(first).to_contain_text("HTTP 503")
    assert_accessible(page, "the webhooks page with deliveries")
    screenshot(page, journey, "4-deliveries-failed")
    deliveries.get_by_role("button", name="Retry api_key.created (attempt 1)").click()
    expect(main.get_by_role("status").filter(has_text="Delivered")).to_contain_text("HTTP 200")
    expect(deliveries.get_by_role("row").filter(has_text="HTTP 200").first).to_contain_text("Delivered")
    assert len(receiver.received(hook)) >= 2
    screenshot(page, journey, "5-deliveries-retried")
    page.set_viewport_size(PHONE)
    expect(deliveries).to_be_visible()
    assert_accessible(page, "the webhooks page at phone width")
    assert_fits_the_width(page, "the webhooks page")
    screenshot(page, journey, "5b-deliveries-phone")
    page.set_viewport_size(DESKTOP)

    # Usage alerts: the metric from the plan's catalog, a threshold, then deleted after a confirmation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage alerts").click()
    expect(main.get_by_role("heading", name="Usage alerts", level=1)).to_be_visible()
    expect(main.get_by_text("No alerts yet")).to_be_visible()
    metric = main.get_by_label("Metric")
    expect(metric.locator("option")).to_contain_text(["API calls", "Compliance scans"])
    assert_accessible(page, "the usage alerts page without alerts")
    screenshot(page, journey, "6-alerts-empty")
    metric.select_option(label="Compliance scans")
    main.get_by_label("Threshold").fill("12.3456789")
    main.get_by_role("button", name="Create alert").click()
    expect(main.get_by_text("at most 6 decimal places")).to_be_visible()
    main.get_by_label("Threshold").fill("2500")
    main.get_by_role("button", name="Create alert").click()
    alerts = main.get_by_role("table", name="Usage alerts")
    alert_row = alerts.get_by_role("row", name=re.compile("Compliance scans"))
    expect(alert_row).to_contain_text("2,500")
    expect(alert_row).to_contain_text("Not yet")
    [made] = api.call("GET", "/usage-alerts", token=tenant.admin_token)["items"]
    assert made["metric"] == "compliance_scans" and made["threshold"] in ("2500", "2500.000000"), made
    assert_accessible(page, "the usage alerts page with an alert")
    screenshot(page, journey, "7-alert-created")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "the usage alerts page at phone width")
    assert_fits_the_width(page, "the usage alerts page")
    screenshot(page, journey, "7b-alert-created-phone")
    page.set_viewport_size(DESKTOP)
    alert_row.get_by_role("button", name="Delete the alert for Compliance scans at 2,500").click()
    confirm = page.get_by_role("dialog", name="Delete this alert?")
    expect(confirm).to_contain_text("Compliance scans at 2,500")
    assert_accessible(page, "the delete-alert dialog")
    screenshot(page, journey, "8-delete-alert")
    confirm.get_by_role("button", name="Delete alert").click()
    expect(confirm).to_be_hidden()
    expect(main.get_by_text("No alerts yet")).to_be_visible()
    assert api.call("GET", "/usage-alerts", token=tenant.admin_token)["items"] == []

    # Back to webhooks: the endpoint deleted after its confirmation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    main.get_by_role("row", name=hook).get_by_role("button", name=f"Delete {hook}").click()
    confirm = page.get_by_role("dialog", name="Delete this endpoint?")
    assert_accessible(page, "the delete-endpoint dialog")
    confirm.get_by_role("button", name="Delete endpoint").click()
    expect(main.get_by_text("No endpoints yet")).to_be_visible()
    assert api.call("GET", "/webhook-endpoints", token=tenant.admin_token)["items"] == []
    screenshot(page, journey, "9-endpoint-deleted")
