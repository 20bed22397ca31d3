"""Request metrics leave as CloudWatch embedded-metric-format lines on stdout."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import observability


@pytest.fixture(autouse=True)
def metrics_enabled(monkeypatch):
    """As in Lambda: the local stack (started by other tests) disables metrics process-wide."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def test_a_server_error_is_counted_with_latency(capsys):
    observability._emit_request_metrics(503, 12.5)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = next(line for line in lines if "_aws" in line)
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"Requests", "Latency", "ServerErrors"}
    assert emf["Latency"] in (12.5, [12.5])


def test_a_success_is_not_counted_as_an_error(capsys):
    observability._emit_request_metrics(200, 1.0)
    emf = next(json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line)
    assert "ServerErrors" not in emf
