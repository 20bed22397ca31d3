"""What the payments journey drives from outside the stack: the API, localstripe and a webhook receiver.

Nothing here imports the runtime's services: the API is reached over HTTP
with the keys of ``stack.json``, localstripe over HTTP the way a browser's
Stripe.js and the Stripe dashboard would (the publishable key in form data;
the secret key as a bearer token), and the tenant's webhooks arrive at a
``tests.webhook_receiver`` server in this process.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from tests.webhook_receiver import Receiver

MAX_429_RETRIES = 5
# The billing run charges before it answers and the webhooks go right after their commits:
# these waits are grace for a busy machine, not a schedule the test depends on.
SETTLE_S = 15.0


class Api:
    """The API over urllib; a ``429`` is retried after its ``Retry-After`` (the throttles are not the test)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        accept: str = "application/json",
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "Accept": accept}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        for _ in range(MAX_429_RETRIES):
            request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status, dict(response.headers.items()), response.read()
            except urllib.error.HTTPError as error:
                if error.code == 429:
                    time.sleep(min(float(error.headers.get("Retry-After") or 1), 10.0))
                    continue
                return error.code, dict(error.headers.items()), error.read()
        raise AssertionError(f"{method} {path}: still 429 after {MAX_429_RETRIES} tries")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The JSON answer of a request that must succeed (any 2xx); otherwise the test fails showing it."""
        status, _, raw = self.request(method, path, body, token)
        assert 200 <= status < 300, (method, path, body, status, raw[:2000])
        return json.loads(raw) if raw else None

    def token(self, api_key: str) -> str:
        token: str = self.call("POST", "/auth/authenticate", {"api_key": api_key})["token"]
        return token


class LocalStripe:
    """localstripe as a card form (publishable key, form-encoded) and as the dashboard (secret key) see it."""

    def __init__(self, api_base: str, publishable_key: str, secret_key: str) -> None:
        self.api_base = api_base.rstrip("/")
        self.publishable_key = publishable_key
        self.secret_key = secret_key

    def confirm_card_setup(self, client_secret: str, number: str) -> dict[str, Any]:
        """What Stripe.js's ``confirmCardSetup`` sends: the card, the key in the form data, nothing secret."""
        setup_intent = client_secret.split("_secret_", 1)[0]
        form = {
            "key": self.publishable_key,
            "client_secret": client_secret,
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": number,
            "payment_method_data[card][exp_month]": "8",
            "payment_method_data[card][exp_year]": str(date.today().year + 3),
            "payment_method_data[card][cvc]": "123",
        }
        request = urllib.request.Request(
            f"{self.api_base}/v1/setup_intents/{setup_intent}/confirm",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        return self._send(request)

    def get(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.api_base + path, headers={"Authorization": f"Bearer {self.secret_key}"}, method="GET"
        )
        return self._send(request)

    def payment_intents_of(self, invoice_id: str) -> list[dict[str, Any]]:
        """Every PaymentIntent whose metadata names the invoice (what charging it sent Stripe), oldest first."""
        found: list[dict[str, Any]] = []
        after = ""
        while True:
            page = self.get(f"/v1/payment_intents?limit=100{after}")
            found += [intent for intent in page["data"] if intent["metadata"].get("invoice_id") == invoice_id]
            if not page["has_more"]:
                return sorted(found, key=lambda intent: int(intent["metadata"]["attempt"]))
            after = f"&starting_after={page['data'][-1]['id']}"

    @staticmethod
    def _send(request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as error:
            raise AssertionError(f"localstripe {request.full_url}: {error.code} {error.read()[:1000]!r}") from None


def previous_month(now: datetime) -> tuple[str, date]:
    """The month before ``now``'s: its label (``YYYY-MM``) and first day."""
    first = (now.replace(day=1) - timedelta(days=1)).replace(day=1).date()
    return f"{first:%Y-%m}", first


def moment(day: date, hour: int) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def parse_moment(value: str) -> datetime:
    return datetime.fromisoformat(value)  # Python 3.11 reads the "Z"


def onboard(
    api: Api, operator: str, name: str, billing_start: date, *, owner_email: str | None = None
) -> tuple[dict[str, Any], str]:
    """A new starter customer (8.25% tax) billed from ``billing_start``: its record and its admin key's token.

    With ``owner_email``, onboarding also e-mails that address an owner invitation.
    """
    email = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:10]}@example.test"
    body = {
        "name": name,
        "email": email,
        "tier": "starter",
        "tax_rate": "0.0825",
        "billing_start_date": billing_start.isoformat(),
    }
    if owner_email is not None:
        body["owner_email"] = owner_email
    created = api.call("POST", "/admin/customers", body, operator)
    return created["customer"], api.token(created["api_key"]["key"])


def webhook_endpoint(api: Api, token: str, url: str) -> str:
    """An endpoint for the invoice events at ``url``; its signing secret (shown once)."""
    events = ["invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_failed"]
    endpoint = api.call("POST", "/webhook-endpoints", {"url": url, "events": events, "description": "e2e"}, token)
    assert endpoint["url"] == url and sorted(endpoint["events"]) == sorted(events), endpoint
    secret: str = endpoint["secret"]
    assert secret.startswith("whsec_")
    return secret


def attach_card(api: Api, stripe: LocalStripe, token: str, number: str) -> dict[str, Any]:
    """The portal's card form: a SetupIntent from the API, confirmed at Stripe by Stripe.js, the card set."""
    setup = api.call("POST", "/billing/setup-intent", {}, token)
    assert setup["publishable_key"] == stripe.publishable_key, setup
    confirmed = stripe.confirm_card_setup(setup["client_secret"], number)
    assert confirmed["status"] == "succeeded" and confirmed["payment_method"].startswith("pm_"), confirmed
    card: dict[str, Any] = api.call(
        "POST", "/billing/payment-method", {"payment_method_id": confirmed["payment_method"]}, token
    )
    assert card["last4"] == number[-4:] and card["brand"] == "visa", card
    assert api.call("GET", "/billing/payment-method", token=token) == card
    return card


def ingest(api: Api, token: str, day: date, usage: dict[str, int]) -> None:
    """``usage`` (metric → quantity) as events on ``day``, split in two so the month sums them."""
    events = []
    for metric, quantity in usage.items():
        for hour, part in ((9, quantity // 2), (17, quantity - quantity // 2)):
            events.append(
                {"event_id": uuid.uuid4().hex, "metric": metric, "quantity": part, "timestamp": moment(day, hour)}
            )
    answer = api.call("POST", "/metrics", {"events": events}, token)
    assert answer == {"accepted": len(events), "duplicates": 0}, answer


def finalize(api: Api, operator: str, period: str) -> dict[str, Any]:
    run: dict[str, Any] = api.call("POST", "/admin/billing-runs", {"period": period, "finalize": True}, operator)
    assert run["period"] == period, run
    return run


def invoice_of(
    api: Api, token: str, period: str, until: Callable[[dict[str, Any]], bool] = lambda invoice: True
) -> dict[str, Any]:
    """The tenant's invoice for ``period`` in full, once ``until`` holds for it (briefly polled)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        page = api.call("GET", "/invoices?limit=100", token=token)
        [summary] = [item for item in page["items"] if item["period"] == period]
        invoice: dict[str, Any] = api.call("GET", f"/invoices/{summary['id']}", token=token)
        if until(invoice) or time.monotonic() > deadline:
            return invoice
        time.sleep(0.2)


def dunning_run(api: Api, operator: str, as_of: datetime) -> dict[str, Any]:
    """The operator's dunning run as of ``as_of`` (the local stack lives through dunning's days this way)."""
    report: dict[str, Any] = api.call("POST", "/admin/payments/dunning-runs", {"as_of": as_of.isoformat()}, operator)
    assert report["stripe_unavailable"] is False, report
    return report


def verified_events(
    receiver: Receiver, url: str, secret: str, invoice_id: str, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The events about ``invoice_id`` that reached ``url``, each verified by ``standardwebhooks`` (one per
    ``webhook-id``: deliveries are at least once), in the order they arrived; waits briefly for ``until``."""
    webhook = Webhook(secret)
    deadline = time.monotonic() + SETTLE_S
    while True:
        events: dict[str, dict[str, Any]] = {}
        for received in receiver.received(url):
            event: dict[str, Any] = webhook.verify(received.body, received.headers)
            assert event["id"] == received.headers["webhook-id"], (event, received.headers)
            if event["data"].get("id") == invoice_id:
                events.setdefault(event["id"], event)
        found = list(events.values())
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
