"""The usage-alert e-mail: a plain-text and an HTML body from the templates next to this module.

Queued by ``alerts.service`` in the transaction that claimed the firing, and
delivered like the invoice e-mail (``billing.invoice_email``, whose templating
and escaping this follows). Idempotent per alert and month.
"""

from __future__ import annotations

import functools
import html
import uuid
from pathlib import Path
from string import Template

from chalicelib.alerts.models import FiredAlert
from chalicelib.core.money import plain
from chalicelib.notifications.models import EmailMessage

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "usage_threshold_reached"


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def idempotency_key(alert_id: uuid.UUID, period_label: str) -> str:
    """One e-mail per alert and month, however many batches (or retries) see the crossing."""
    return f"usage_alert:{alert_id}:{period_label}"


def threshold_message(*, customer_id: uuid.UUID, customer_name: str, recipient: str, fired: FiredAlert) -> EmailMessage:
    """The e-mail to queue for one firing: the metric, the month, the threshold and the usage that reached it."""
    values = {
        "customer_name": customer_name,
        "metric": fired.metric,
        "period": fired.period.label,
        "period_name": fired.period.first_day.strftime("%B %Y"),
        "threshold": plain(fired.threshold, grouped=True),
        "usage": plain(fired.usage, grouped=True),
    }
    text = _template(f"{TEMPLATE_NAME}.txt").substitute(values)
    body = _template(f"{TEMPLATE_NAME}.html").substitute({key: html.escape(value) for key, value in values.items()})
    subject = f"Usage alert: {fired.metric} reached {values['threshold']} in {values['period_name']}"
    return EmailMessage(
        customer_id=customer_id,
        template=TEMPLATE_NAME,
        recipient=recipient,
        subject=subject,
        text_body=text,
        html_body=body,
        idempotency_key=idempotency_key(fired.alert_id, fired.period.label),
        related_type="usage_alert",
        related_id=fired.alert_id,
    )
