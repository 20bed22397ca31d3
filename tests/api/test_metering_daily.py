"""``GET /metrics?daily=true``: a month's usage per UTC day, for the portal's chart (issue 15).

The days are summed from the month's events (the partitioned ``usage_events``)
under the tenant's row-level security; the totals still come from
``usage_monthly``. Without ``daily`` the document is exactly what it was.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chalicelib.metering.models import UsageResponse

# A past month, whole (no event of it is "in the future"), with its neighbours.
SPECS = [
    # event_id, metric, quantity, timestamp
    ("feb-last", "api_calls", 1000, "2026-02-28T23:59:59.999999Z"),
    ("d1-first", "api_calls", "0.1", "2026-03-01T00:00:00Z"),
    ("d1-last", "api_calls", "0.2", "2026-03-01T23:59:59.999999Z"),
    # 01:00 on the 2nd at +02:00 is 23:00 UTC on the 1st: UTC days, like UTC months.
    ("d1-offset", "api_calls", 7, "2026-03-02T01:00:00+02:00"),
    ("d2", "api_calls", "2.5", "2026-03-02T00:00:00Z"),
    ("d2-again", "api_calls", "0.000001", "2026-03-02T12:00:00Z"),
    ("d31", "api_calls", 100_000, "2026-03-31T23:59:59Z"),
    ("scan", "compliance_scans", 3, "2026-03-15T08:00:00-05:00"),
    ("apr-first", "api_calls", 50, "2026-04-01T00:00:00Z"),
]


def _post(client, headers, specs) -> None:
    body = {"events": [{"event_id": e, "metric": m, "quantity": q, "timestamp": t} for e, m, q, t in specs]}
    response = client.http.post("/metrics", headers=headers, body=json.dumps(body))
    assert response.status_code == 200, response.body


def _get(client, headers, query: str):
    response = client.http.get(f"/metrics{query}", headers=headers)
    return response.status_code, json.loads(response.body)


def _by_metric(body) -> dict:
    return {entry["metric"]: entry for entry in body["metrics"]}


def test_daily_usage_is_exact_per_utc_day_and_adds_up_to_the_month(client, new_customer):
    customer = new_customer("starter")
    _post(client, customer.headers, SPECS)
    status, body = _get(client, customer.headers, "?period=2026-03&daily=true")
    assert status == 200, body
    UsageResponse.model_validate(body)
    metrics = _by_metric(body)
    assert metrics["api_calls"]["daily"] == [
        {"date": "2026-03-01", "quantity": "7.3"},
        {"date": "2026-03-02", "quantity": "2.500001"},
        {"date": "2026-03-31", "quantity": "100000"},
    ]
    assert metrics["compliance_scans"]["daily"] == [{"date": "2026-03-15", "quantity": "3"}]
    for entry in body["metrics"]:
        assert sum((Decimal(day["quantity"]) for day in entry["daily"]), Decimal(0)) == Decimal(entry["quantity"])
    assert (metrics["api_calls"]["quantity"], metrics["api_calls"]["billable"]) == ("100009.800001", "9.800001")


def test_without_daily_the_entries_are_unchanged_and_a_metric_without_usage_has_no_days(client, new_customer):
    customer = new_customer("starter")
    _post(client, customer.headers, SPECS)
    for query in ("?period=2026-03", "?period=2026-03&daily=false"):
        status, body = _get(client, customer.headers, query)
        assert status == 200
        assert all(set(entry) == {"metric", "quantity", "included", "billable"} for entry in body["metrics"])
    status, body = _get(client, customer.headers, "?period=2026-05&daily=true")
    assert status == 200 and body["metrics"]
    assert all(entry["daily"] == [] and entry["quantity"] == "0" for entry in body["metrics"])
    # The neighbouring months hold only their own events.
    assert _by_metric(_get(client, customer.headers, "?period=2026-02&daily=true")[1])["api_calls"]["daily"] == [
        {"date": "2026-02-28", "quantity": "1000"}
    ]
    assert _by_metric(_get(client, customer.headers, "?period=2026-04&daily=true")[1])["api_calls"]["daily"] == [
        {"date": "2026-04-01", "quantity": "50"}
    ]


def test_another_tenants_events_never_show_in_the_days(client, new_customer):
    a, b = new_customer("starter"), new_customer("starter")
    _post(client, a.headers, SPECS)
    # Same event ids, same day, other quantities: b's own, never a's.
    _post(client, b.headers, [("d1-first", "api_calls", 5, "2026-03-01T10:00:00Z")])
    status, body = _get(client, b.headers, "?period=2026-03&daily=true")
    assert status == 200
    metrics = _by_metric(body)
    assert metrics["api_calls"]["daily"] == [{"date": "2026-03-01", "quantity": "5"}]
    assert metrics["compliance_scans"]["daily"] == []
    status, body = _get(client, a.headers, "?period=2026-03&daily=true")
    assert _by_metric(body)["api_calls"]["daily"][0] == {"date": "2026-03-01", "quantity": "7.3"}


@pytest.mark.parametrize(
    "query", ["?daily=maybe", "?daily=", "?daily=2", "?daily=" + "x" * 300, "?period=2026-13&daily=true"]
)
def test_a_bad_daily_parameter_is_4xx_never_5xx(client, new_customer, query):
    customer = new_customer()
    status, body = _get(client, customer.headers, query)
    assert status in (400, 422), body


def test_the_openapi_document_names_the_daily_parameter_and_field(client):
    document = json.loads(client.http.get("/openapi.json").body)
    parameters = {p["name"]: p for p in document["paths"]["/metrics"]["get"]["parameters"]}
    assert parameters["daily"]["schema"]["type"] == "boolean" and not parameters["daily"]["required"]
    entry = document["components"]["schemas"]["MetricUsageResponse"]
    assert entry["properties"]["daily"]["type"] == "array" and "daily" not in entry.get("required", [])
