"""``python -m bench.ranges RUN.json ...``: every figure's range over several ``make bench`` runs.

docs/PERFORMANCE.md reports each figure as the range over at least three runs
(issue 16), not one run's value: on a two-core machine one run says little. Each
``make bench`` overwrites ``.local/bench.json``; keep copies, then pass them here.
It prints a Markdown table: the figure, its range (lowest to highest value), the
target, how many runs met it, and each run's data size when the runs agree on
it (otherwise the sizes seen). Runs of different modes (``quick``, ``scale``)
are refused together, since their figures measure different data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DASH = "\u2013"  # the en dash the Markdown tables in docs/PERFORMANCE.md use for ranges


def load(paths: list[Path]) -> list[dict[str, Any]]:
    """The runs' documents; all of one mode (quick and scale), or ValueError."""
    runs = [json.loads(path.read_text()) for path in paths]
    modes = {(run["quick"], run.get("scale", 1)) for run in runs}
    if len(modes) > 1:
        raise ValueError(f"runs of different modes (quick, scale): {sorted(modes)}")
    return runs


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def _size(size: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}" for key, value in size.items())


def table(runs: list[dict[str, Any]]) -> str:
    """The Markdown table of every figure any run has, in the first run's order."""
    names: list[str] = []
    for run in runs:
        names.extend(name for name in run["figures"] if name not in names)
    lines = [
        f"| figure | range over {len(runs)} runs | unit | target | met | data size |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        seen = [run["figures"][name] for run in runs if name in run["figures"]]
        values = [float(figure["value"]) for figure in seen]
        low, high = min(values), max(values)
        spread = _number(low) if _number(low) == _number(high) else f"{_number(low)}{DASH}{_number(high)}"
        target = seen[0]["target"]
        met = DASH if target == "-" else f"{sum(1 for f in seen if f['met'])}/{len(seen)}"
        sizes = []
        for figure in seen:
            text = _size(figure["data_size"])
            if text not in sizes:
                sizes.append(text)
        lines.append(f"| `{name}` | {spread} | {seen[0]['unit']} | {target} | {met} | {' / '.join(sizes)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    runs = load([Path(arg) for arg in argv])
    started = ", ".join(f"{run['started_at']} ({run['duration_s']:.0f} s)" for run in runs)
    print(f"runs: {started}\n")
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
