"""The usage-alert e-mail and a firing as ingestion reports it: exact numbers, escaped text, one key per month."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

from chalicelib.alerts.emails import TEMPLATE_NAME, threshold_message
from chalicelib.alerts.models import FiredAlert, UsageAlertResponse
from chalicelib.core.periods import Period

ALERT = uuid.UUID("00000000-0000-4000-8000-000000000001")
CUSTOMER = uuid.UUID("00000000-0000-4000-8000-000000000002")


def fired(**overrides) -> FiredAlert:
    item = {
        "alert_id": str(ALERT),
        "metric": "api_calls",
        "threshold": "1000000.000000",
        "period": "2026-10",
        "usage": "1000250.500000",
        **overrides,
    }
    return FiredAlert.from_json(item)


def test_a_firing_is_read_exactly_and_becomes_the_webhook_data():
    alert = fired()
    assert alert.period == Period(2026, 10) and alert.usage == D("1000250.5")
    assert alert.event_data() == {
        "alert_id": str(ALERT),
        "metric": "api_calls",
        "threshold": "1000000",
        "period": "2026-10",
        "usage": "1000250.5",
    }


def test_the_email_names_metric_month_threshold_and_usage_and_escapes_html():
    message = threshold_message(
        customer_id=CUSTOMER, customer_name="<Acme & Co>", recipient="ops@example.test", fired=fired()
    )
    assert message.template == TEMPLATE_NAME == "usage_threshold_reached"
    assert message.idempotency_key == f"usage_alert:{ALERT}:2026-10"
    assert (message.related_type, message.related_id) == ("usage_alert", ALERT)
    assert message.subject == "Usage alert: api_calls reached 1,000,000 in October 2026"
    assert "1,000,250.5 units" in message.text_body and "Hello <Acme & Co>," in message.text_body
    assert message.html_body is not None
    assert "&lt;Acme &amp; Co&gt;" in message.html_body and "<Acme" not in message.html_body


def test_the_api_names_the_month_an_alert_last_fired():
    row = {
        "id": ALERT,
        "metric_code": "api_calls",
        "threshold": D("100.000000"),
        "created_at": "2026-10-01T00:00:00Z",
        "last_fired_period": Period(2026, 10).first_day,
    }
    shown = UsageAlertResponse.model_validate(row).model_dump(mode="json")
    assert (shown["metric"], shown["threshold"], shown["last_triggered_period"]) == ("api_calls", "100", "2026-10")
    assert UsageAlertResponse.model_validate(shown).last_triggered_period == "2026-10"
