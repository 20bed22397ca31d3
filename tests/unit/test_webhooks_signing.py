"""webhooks.signing against the ``standardwebhooks`` package, and the delivery schedule (webhooks.delivery)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import standardwebhooks

from chalicelib.webhooks import delivery, events, signing
from chalicelib.webhooks.models import ClaimedDelivery


def test_a_secret_is_whsec_and_base64_of_32_random_bytes():
    key = signing.new_key()
    secret = signing.secret_of(key)
    assert secret.startswith("whsec_") and len(key) == 32
    assert base64.b64decode(secret.removeprefix("whsec_")) == key
    assert signing.key_of(secret) == key
    assert signing.new_key() != key


@pytest.mark.parametrize("bad", ["sk_abc", "whsec_", "whsec_not base64!", "whsec_###"])
def test_a_malformed_secret_is_refused(bad):
    with pytest.raises(ValueError):
        signing.key_of(bad)


def test_signatures_verify_with_the_standardwebhooks_package():
    key = signing.new_key()
    body = json.dumps({"id": "e1", "type": "api_key.created", "data": {"name": "ünïcode ✓"}}, ensure_ascii=False)
    headers = signing.headers(key, "e1", int(time.time()), body.encode())
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    verified = standardwebhooks.Webhook(signing.secret_of(key)).verify(body.encode(), headers)
    assert verified["data"]["name"] == "ünïcode ✓"


def test_a_changed_body_id_timestamp_or_key_does_not_verify():
    key = signing.new_key()
    body = b'{"id":"e1"}'
    now = int(time.time())
    webhook = standardwebhooks.Webhook(signing.secret_of(key))
    headers = signing.headers(key, "e1", now, body)
    for tampered_body, tampered in [
        (b'{"id":"e2"}', headers),
        (body, {**headers, "webhook-id": "e2"}),
        (body, {**headers, "webhook-timestamp": str(now - 1)}),
        (body, signing.headers(signing.new_key(), "e1", now, body)),
    ]:
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            webhook.verify(tampered_body, tampered)


def test_the_backoff_spreads_seven_attempts_over_most_of_a_day():
    assert delivery.BACKOFF_S == (60, 300, 1800, 7200, 18000, 36000)
    assert delivery.MAX_ATTEMPTS == 7
    assert 16 * 3600 < sum(delivery.BACKOFF_S) < 24 * 3600
    assert all(a < b for a, b in zip(delivery.BACKOFF_S, delivery.BACKOFF_S[1:], strict=False))


@pytest.mark.parametrize(
    ("previous", "attempt", "succeeded", "expected"),
    [
        ("pending", 1, True, ("succeeded", None)),
        ("pending", 1, False, ("failed", 60)),
        ("failed", 2, False, ("failed", 300)),
        ("failed", 3, False, ("failed", 1800)),
        ("failed", 4, False, ("failed", 7200)),
        ("failed", 5, False, ("failed", 18000)),
        ("failed", 6, False, ("failed", 36000)),
        ("failed", 7, False, ("dead", None)),
        ("failed", 7, True, ("succeeded", None)),
        # Manual retries of finished deliveries are never scheduled again.
        ("dead", 8, False, ("dead", None)),
        ("dead", 8, True, ("succeeded", None)),
        ("succeeded", 2, False, ("succeeded", None)),
    ],
)
def test_next_state(previous, attempt, succeeded, expected):
    assert delivery.next_state(previous, attempt, succeeded) == expected


def test_the_payload_is_the_contract_envelope_and_the_same_bytes_every_time():
    claimed = ClaimedDelivery(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        status="pending",
        attempts=0,
        url="http://127.0.0.1:1/",
        secret_sealed=b"x",
        event_type="invoice.finalized",
        event_data={"total_cents": 1234},
        event_created_at=datetime(2026, 3, 1, 2, 0, 0, 123456, tzinfo=UTC),
    )
    body = delivery.payload(claimed)
    assert body == delivery.payload(claimed)
    document = json.loads(body)
    assert list(document) == ["id", "type", "created_at", "customer_id", "data"]
    assert document["id"] == str(claimed.event_id) and document["created_at"] == "2026-03-01T02:00:00.123456Z"
    assert document["data"] == {"total_cents": 1234}


def test_event_data_takes_decimals_ids_and_moments_as_the_api_writes_them():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = json.loads(events.to_json({"q": Decimal("1.50"), "id": uuid.UUID(int=1), "at": moment}))
    assert data == {"q": "1.5", "id": str(uuid.UUID(int=1)), "at": "2026-01-02T03:04:05Z"}
    with pytest.raises(TypeError):
        events.to_json({"x": object()})


def test_only_the_contracts_event_types_may_be_emitted():
    with pytest.raises(ValueError, match="not webhook event types"):
        events.emit_many(None, [(uuid.uuid4(), "invoice.deleted", {})])  # type: ignore[arg-type]
    assert set(events.EVENT_TYPES) == {
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "usage.threshold_reached",
        "api_key.created",
        "api_key.revoked",
    }
