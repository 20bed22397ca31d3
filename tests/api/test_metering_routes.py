"""``POST /metrics`` and ``GET /metrics`` through chalice.test.Client with real tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.metering.models import IngestResponse, UsageResponse


def now():
    return datetime.now(UTC)


def events(*specs, when=None):
    stamp = (when or now() - timedelta(minutes=1)).isoformat()
    return [
        {"event_id": event_id, "metric": metric, "quantity": quantity, "timestamp": stamp}
        for event_id, metric, quantity in specs
    ]


def post(client, headers, body):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = client.http.post("/metrics", headers=headers, body=raw)
    return response.status_code, json.loads(response.body) if response.body else None


def usage(client, headers, query=""):
    response = client.http.get(f"/metrics{query}", headers=headers)
    return response.status_code, json.loads(response.body)


def test_a_batch_is_accepted_and_duplicates_are_counted(client, new_customer):
    customer = new_customer()
    first = {"events": events(("a", "api_calls", 3), ("b", "api_calls", 4), ("a", "api_calls", 3))}
    assert post(client, customer.headers, first) == (200, {"accepted": 2, "duplicates": 1})
    second = {"events": events(("b", "api_calls", 4), ("c", "compliance_scans", "2.5"))}
    assert post(client, customer.headers, second) == (200, {"accepted": 1, "duplicates": 1})
    status, body = usage(client, customer.headers)
    assert status == 200 and body["period"] == now().strftime("%Y-%m")
    UsageResponse.model_validate(body)
    IngestResponse.model_validate(post(client, customer.headers, second)[1])
    assert body["metrics"] == [
        {"metric": "api_calls", "quantity": "7", "included": "100000", "billable": "0"},
        {"metric": "compliance_scans", "quantity": "2.5", "included": "500", "billable": "0"},
    ]


def test_json_numbers_are_exact_decimals_never_floats(client, new_customer):
    customer = new_customer()
    # The body as raw text (the point is how 0.1 is parsed); %-format keeps the JSON's braces unescaped.
    body = (
        '{"events": [{"event_id": "x", "metric": "api_calls", "quantity": 0.1, "timestamp": "%s"},'  # noqa: UP031
        ' {"event_id": "y", "metric": "api_calls", "quantity": 0.2, "timestamp": "%s"}]}'
        % (now().isoformat(), now().isoformat())
    )
    assert post(client, customer.headers, body)[0] == 200
    assert usage(client, customer.headers)[1]["metrics"][0]["quantity"] == "0.3"  # 0.30000000000000004 as floats


def test_usage_of_a_month_shows_billable_units_for_the_tier(client, new_customer):
    customer = new_customer("starter")
    march = datetime(2026, 3, 15, tzinfo=UTC)
    body = {"events": events(("big", "api_calls", 100_250), ("scan", "compliance_scans", 501), when=march)}
    assert post(client, customer.headers, body)[0] == 200
    status, report = usage(client, customer.headers, "?period=2026-03")
    assert status == 200 and report["period"] == "2026-03"
    assert [(m["quantity"], m["billable"]) for m in report["metrics"]] == [("100250", "250"), ("501", "1")]
    assert usage(client, customer.headers, "?period=2026-04")[1]["metrics"][0]["quantity"] == "0"


@pytest.mark.parametrize(
    "bad,index",
    [
        ({"event_id": "q", "metric": "api_calls", "quantity": -1}, 1),
        ({"event_id": "q", "metric": "api_calls", "quantity": "lots"}, 1),
        ({"event_id": "q", "metric": "api_calls", "quantity": True}, 1),
        ({"event_id": "q", "metric": "api_calls", "quantity": None}, 1),
        ({"event_id": "q", "metric": "api_calls", "quantity": 0.0000001}, 1),
        ({"event_id": "q", "metric": "storage_gb", "quantity": 1}, 1),
        ({"event_id": "q", "metric": "api_calls", "quantity": 1, "timestamp": "in 6 minutes"}, 1),
    ],
)
def test_an_invalid_event_is_422_naming_its_index_and_nothing_is_written(client, new_customer, bad, index):
    customer = new_customer()
    good = events(("ok", "api_calls", 1))[0]
    if bad.get("timestamp") == "in 6 minutes":
        bad = {**bad, "timestamp": (now() + timedelta(minutes=6)).isoformat()}
    status, body = post(client, customer.headers, {"events": [good, {"timestamp": good["timestamp"], **bad}]})
    assert status == 422 and body["Code"] == "UnprocessableEntityError"
    assert f"events[{index}]" in body["Message"]
    assert usage(client, customer.headers)[1]["metrics"][0]["quantity"] == "0"


def test_over_1000_events_is_413(client, new_customer):
    customer = new_customer()
    batch = events(*((f"e{i}", "api_calls", 1) for i in range(1001)))
    status, body = post(client, customer.headers, {"events": batch})
    assert status == 413 and body["Code"] == "PayloadTooLargeError"
    batch[0]["quantity"] = "garbage"  # still 413: size is checked first
    assert post(client, customer.headers, {"events": batch})[0] == 413
    assert post(client, customer.headers, {"events": batch[1:]})[0] == 200


@pytest.mark.parametrize("event_id", ["nul\x00byte", "lone\ud800surrogate"])
def test_event_ids_that_cannot_be_stored_are_400_and_nothing_is_written(client, new_customer, event_id):
    # Checked once, where the body is parsed (core.http), before metering sees the batch.
    customer = new_customer()
    status, body = post(client, customer.headers, {"events": events((event_id, "api_calls", 1))})
    assert status == 400 and "NUL" in body["Message"]
    assert usage(client, customer.headers)[1]["metrics"][0]["quantity"] == "0"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"events": []}',
        '{"events": "x"}',
        '{"events": [1]}',
        '{"events": [{}]}',
        '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": 1}]}',
        '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": 1, "timestamp": "yesterday"}]}',
        '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": 1, "timestamp": "2026-01-01T00:00:00"}]}',
        '{"events": [{"event_id": "", "metric": "api_calls", "quantity": 1, "timestamp": "2026-01-01T00:00:00Z"}]}',
        (
            '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": 1, "timestamp": "2026-01-01T00:00:00Z",'
            ' "extra": 1}]}'
        ),
        '{"events": [{"event_id": "\\ud800", "metric": "api_calls", "quantity": 1, "timestamp": "2026-01-01T00:00:00Z"}]}',
        '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": NaN, "timestamp": "2026-01-01T00:00:00Z"}]}',
        '{"events": [{"event_id": "a\\u0000", "metric": "api_calls", "quantity": 1, "timestamp": "2026-01-01T00:00:00Z"}]}',
        '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": 1e999999, "timestamp": "2026-01-01T00:00:00Z"}]}',
        '{"events": [{"event_id": "a", "metric": "api_calls", "quantity": 1, "timestamp": "0001-01-01T00:00:00+05:00"}]}',
    ],
)
def test_garbage_bodies_are_4xx_never_5xx(client, new_customer, raw):
    customer = new_customer()
    status, _ = post(client, customer.headers, raw)
    assert 400 <= status < 500


@pytest.mark.parametrize("timestamp", [0, 1_767_225_600, 1.5, True])
def test_a_numeric_timestamp_is_400_as_documented(client, new_customer, timestamp):
    """The document says an ISO 8601 string; Pydantic alone would read a number as Unix seconds."""
    raw = json.dumps({"events": [{"event_id": "n", "metric": "api_calls", "quantity": 1, "timestamp": timestamp}]})
    status, _ = post(client, new_customer().headers, raw)
    assert status == 400


@pytest.mark.parametrize(
    "query",
    [
        "?period=2026-13",
        "?period=garbage",
        "?period=",
        "?period=2026-1",
        "?period=0000-01",
        "?period=" + "9" * 40,
        "?unknown=1",
    ],
)
def test_bad_periods_and_queries_are_4xx(client, new_customer, query):
    customer = new_customer()
    status, body = usage(client, customer.headers, query)
    assert status in (400, 422), body


def test_metrics_need_a_customer_token(client, operator_headers):
    assert client.http.get("/metrics").status_code == 401
    assert (
        client.http.post(
            "/metrics",
            body=json.dumps({"events": events(("a", "api_calls", 1))}),
            headers={"Content-Type": "application/json"},
        ).status_code
        == 401
    )
    assert client.http.get("/metrics", headers=operator_headers).status_code == 403


def test_one_customer_never_sees_anothers_usage(client, new_customer):
    a, b = new_customer(), new_customer()
    assert post(client, a.headers, {"events": events(("same", "api_calls", 9))})[0] == 200
    assert post(client, b.headers, {"events": events(("same", "api_calls", 1))}) == (
        200,
        {"accepted": 1, "duplicates": 0},
    )
    assert usage(client, b.headers)[1]["metrics"][0]["quantity"] == "1"


@pytest.mark.parametrize("offset", ["+23:59", "-23:59", "+16:00", "-15:59"])
def test_i11_6_timezone_offsets_beyond_postgresqls_range_are_accepted_as_the_same_instant(client, new_customer, offset):
    """``2026-11-29T00:00:00+23:59`` passed validation and then PostgreSQL refused it: a 500."""
    customer = new_customer()
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    moment = (now() - timedelta(days=2)).astimezone(zone).replace(microsecond=0)
    stamp = moment.isoformat()
    assert stamp.endswith(offset)
    body = {"events": [{"event_id": "tz", "metric": "api_calls", "quantity": 5, "timestamp": stamp}]}
    assert post(client, customer.headers, body) == (200, {"accepted": 1, "duplicates": 0})
    status, usage_body = usage(client, customer.headers, f"?period={moment.astimezone(UTC):%Y-%m}")
    assert status == 200 and usage_body["metrics"][0]["quantity"] == "5"
