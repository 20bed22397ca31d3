"""The dashboard's chart draws the month's usage day by day (issue 15: "usage per day for the month").

The dashboard asks ``GET /metrics?daily=true`` and accumulates each metric's
``daily`` list; the chart's legend then names the cumulative daily line, not
the run-rate line it falls back to when the API gives no days.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, expect

from tests.portal.browser import login, screenshot
from tests.portal.data import Api, ingest_now

JOURNEY = "dashboard-daily"
USAGE = {"api_calls": 4321, "compliance_scans": 12}


def test_the_dashboard_chart_accumulates_the_days_the_api_gives(
    page: Page, local_stack: dict[str, Any], portal_url: str, api: Api
) -> None:
    ingest_now(api, api.token(local_stack["demo_customer_api_key"]), USAGE)

    def is_usage(response: Any) -> bool:
        return response.request.method == "GET" and "/metrics?" in response.url

    with page.expect_response(is_usage) as answer:
        login(page, portal_url, local_stack["demo_user_email"], local_stack["demo_user_password"])
    response = answer.value
    assert "daily=true" in response.url
    metrics = {entry["metric"]: entry for entry in json.loads(response.body())["metrics"]}
    for metric, quantity in USAGE.items():
        days = metrics[metric]["daily"]
        assert days and sum(int(day["quantity"]) for day in days) == int(metrics[metric]["quantity"]) >= quantity

    main = page.get_by_role("main")
    expect(main.get_by_role("img", name="API calls used in", exact=False)).to_be_visible()
    expect(main.get_by_text("Used (cumulative, by day)", exact=True)).to_be_visible()
    expect(main.get_by_text("Used so far (run rate)", exact=True)).to_have_count(0)
    screenshot(page, JOURNEY, "1-chart")
