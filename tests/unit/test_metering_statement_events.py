"""The ingestion statement's JSON, built and validated in one pass: the same text and the same refusals as before.

``metering.service.statement_events`` replaced two passes (columns validated,
then encoded). These tests hold it to what the two passes gave: each row is
``[event_id, metric, str(parse_quantity(quantity)), timestamp in UTC]``, and
the first offending event is named with the same reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from pydantic import TypeAdapter

from chalicelib.core.errors import Unprocessable
from chalicelib.core.models import Timestamp
from chalicelib.metering import service
from chalicelib.metering.models import MetricsBatch, UsageEventIn

NOW = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
WHEN = datetime(2026, 10, 15, 11, 0, tzinfo=UTC)


def event(metric: str = "api_calls", quantity: object = 1, when: datetime = WHEN, event_id: str = "e") -> UsageEventIn:
    return UsageEventIn.model_construct(event_id=event_id, metric=metric, quantity=quantity, timestamp=when)


def reference_row(item: UsageEventIn) -> list[str]:
    """What the two-pass code sent for a valid event."""
    return [
        item.event_id,
        item.metric,
        str(service.parse_quantity(item.quantity)),
        item.timestamp.astimezone(UTC).isoformat(),
    ]


def test_the_text_is_the_two_pass_text_for_every_kind_of_quantity_and_zone():
    parse = TypeAdapter(Timestamp).validate_python
    events = [
        event(quantity=0, event_id="zero"),
        event(quantity=7, event_id="int"),
        event(quantity=999_999_999, event_id="largest int"),
        event(quantity=D("2.5"), event_id="decimal"),
        event(quantity=D("1e3"), event_id="exponent"),
        event(quantity=D("-0"), event_id="negative zero"),
        event(quantity=D("1.100000000"), event_id="trailing zeros"),
        event(quantity=" 3 ", event_id="string"),
        event(quantity=2.25, event_id="float"),
        event(when=parse("2026-10-15T11:00:00Z"), event_id="Z"),
        event(when=parse("2026-10-15T06:00:00-05:00"), event_id="behind"),
        event(when=parse("2026-10-16T10:59:00+23:59"), event_id="beyond PostgreSQL's offsets"),
        event(when=datetime(2026, 10, 15, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))), event_id="micro"),
        event(metric="compliance_scans", event_id='quote " and \u00e9'),
    ]
    text = service.statement_events(events, NOW)
    assert json.loads(text) == [reference_row(item) for item in events]
    assert "\\u00e9" not in text  # encoded as it was: UTF-8, not escaped


def test_a_parsed_batch_gives_the_same_text():
    body = {
        "events": [
            {"event_id": "a", "metric": "api_calls", "quantity": 5, "timestamp": "2026-10-15T11:00:00+02:00"},
            {"event_id": "b", "metric": "api_calls", "quantity": "0.000001", "timestamp": "2026-10-15T11:00:00Z"},
        ]
    }
    events = MetricsBatch.model_validate(body).events
    assert json.loads(service.statement_events(events, NOW)) == [reference_row(item) for item in events]


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        (10**9, "must be below 10\\^9"),
        (-1, "must not be negative"),
        (True, "must be a number"),
        (False, "must be a number"),
        (None, "must be a number"),
    ],
)
def test_integers_outside_the_shortcut_are_refused_as_before(quantity, reason):
    with pytest.raises(Unprocessable, match=rf"^events\[1\]: quantity {reason}"):
        service.statement_events([event(quantity=1), event(quantity=quantity)], NOW)


def test_a_metric_is_checked_at_each_first_sight_and_a_bad_one_every_time():
    good = [event(metric="api_calls", event_id=str(n)) for n in range(3)]
    with pytest.raises(Unprocessable, match=r"^events\[3\]: unknown metric$"):
        service.statement_events([*good, event(metric="API_CALLS"), event(metric="API_CALLS")], NOW)


def test_checks_run_in_the_same_order_and_the_first_offending_event_wins():
    both = event(metric="Bad", quantity=-1, when=NOW + timedelta(hours=1))
    with pytest.raises(Unprocessable, match=r"^events\[0\]: unknown metric$"):
        service.statement_events([both, event(quantity="abc")], NOW)
    late_and_negative = event(quantity=-1, when=NOW + timedelta(hours=1))
    with pytest.raises(Unprocessable, match=r"^events\[1\]: quantity must not be negative$"):
        service.statement_events([event(), late_and_negative], NOW)


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (NOW + timedelta(minutes=5, microseconds=1), "more than 5 minutes in the future"),
        (datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), "before 1970"),
        (datetime(1970, 1, 1, 0, 59, tzinfo=timezone(timedelta(hours=1))), "before 1970"),
        # At the ends of datetime's range the conversion to UTC overflows: still a 422, not a 500.
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "before 1970"),
        (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))), "more than 5 minutes in the future"),
    ],
)
def test_timestamps_out_of_range_are_refused_as_before(when, reason):
    with pytest.raises(Unprocessable, match=rf"^events\[0\]: timestamp is {reason}$"):
        service.statement_events([event(when=when)], NOW)


def test_the_bounds_themselves_are_accepted():
    events = [event(when=NOW + timedelta(minutes=5)), event(when=datetime(1970, 1, 1, tzinfo=UTC))]
    assert len(json.loads(service.statement_events(events, NOW))) == 2


def test_a_now_in_another_zone_gives_the_same_bound():
    now = NOW.astimezone(timezone(timedelta(hours=-7)))
    service.statement_events([event(when=NOW + timedelta(minutes=5))], now)
    with pytest.raises(Unprocessable, match="future"):
        service.statement_events([event(when=NOW + timedelta(minutes=6))], now)
