"""bench.ranges: the range table docs/PERFORMANCE.md is written from (issue 16: ranges over runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import ranges


def _run(tmp_path: Path, name: str, value: float, *, met: bool, quick: bool = False, scale: int = 1) -> Path:
    document: dict[str, Any] = {
        "quick": quick,
        "scale": scale,
        "started_at": "2026-12-01T05:00:00Z",
        "duration_s": 400.0,
        "figures": {
            "ingest_vs_copy_ratio": {
                "value": value,
                "unit": "x",
                "target": ">= 0.5",
                "met": met,
                "data_size": {"events": 200_000},
            },
            "http_p99_ms": {"value": value * 1000, "unit": "ms", "target": "-", "met": None, "data_size": {}},
        },
    }
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_each_figure_gets_its_lowest_and_highest_value_and_how_many_runs_met_it(tmp_path: Path) -> None:
    paths = [_run(tmp_path, "a.json", 0.48, met=False), _run(tmp_path, "b.json", 0.55, met=True)]
    text = ranges.table(ranges.load(paths))
    assert f"| `ingest_vs_copy_ratio` | 0.48{ranges.DASH}0.55 | x | >= 0.5 | 1/2 | events=200,000 |" in text
    assert f"| `http_p99_ms` | 480{ranges.DASH}550 | ms | - | {ranges.DASH} |  |" in text
    assert "range over 2 runs" in text


def test_runs_of_different_modes_are_refused(tmp_path: Path) -> None:
    paths = [_run(tmp_path, "a.json", 0.5, met=True), _run(tmp_path, "b.json", 0.5, met=True, scale=10)]
    with pytest.raises(ValueError, match="different modes"):
        ranges.load(paths)
