"""Counting one request against a customer's limits: one conditional ``UpdateItem`` in the steady state.

One item per customer and UTC day in the rate-limit counters table (logical
name ``metrics`` in ``core.tables``, nothing to do with usage metering),
``pk = "<customer>#day#<YYYY-MM-DD>"``, ``sk = "limits"``:

========  ==========================================================
``d``     requests counted today (daily quota)
``w``     start of the current 10-second window (epoch seconds)
``n``     requests counted in that window (sustained rate)
``s0-s9`` requests counted in each second of the window (burst)
========  ==========================================================

plus ``expires_at`` (TTL) a day after the day is over.

A request is counted with a conditional ``ADD``: DynamoDB applies it only
while every bound still holds, so requests arriving at once from any number
of Lambda containers can never push a counter past its limit, a refused
request counts nowhere, and one customer's item never touches another's.
There are two updates, and the condition's refusal (with the item as it
was) tells which one applies:

* **same window** — ``ADD d, n, s<k>`` if the stored window is the current one
  and every bound holds;
* **new window** (the day's first request, or a window's) — ``SET w, n = 1,
  s<k> = 1``, ``REMOVE`` the other slots, ``ADD d`` — if the stored window is
  older and the day's quota holds.

Each process remembers the window it last counted a customer in and tries
that update first, so a busy customer costs one round trip per request and a
quiet one one per window.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from chalicelib.core.observability import logger
from chalicelib.ratelimit import repository
from chalicelib.ratelimit.models import WINDOW_SECONDS, Limits

DAY_SECONDS = 86_400
# Concurrent requests can change the item between our read of a refusal and
# the next update; after this many rounds the request is let through.
MAX_ROUNDS = 4
_SLOTS = tuple(f"s{i}" for i in range(WINDOW_SECONDS))
_MEMO_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which limit refused the request, and the window it was counted in."""

    limit: Literal["burst", "rate", "daily_quota"]
    window_start: int
    day_start: int


_last_window: dict[uuid.UUID, int] = {}
_memo_lock = threading.Lock()


def count_request(customer_id: uuid.UUID, limits: Limits, now: float) -> Refusal | None:
    """Count one request of ``customer_id`` at ``now``; ``None`` if it is within every limit."""
    day_start = int(now // DAY_SECONDS) * DAY_SECONDS
    day = datetime.fromtimestamp(day_start, tz=UTC).date().isoformat()
    key = {"pk": {"S": f"{customer_id}#day#{day}"}, "sk": {"S": "limits"}}
    expires_at = day_start + 2 * DAY_SECONDS
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    same_window = _last_window.get(customer_id) == window
    for _ in range(MAX_ROUNDS):
        slot = min(max(int(now) - window, 0), WINDOW_SECONDS - 1)
        update = _add_in_window if same_window else _start_window
        old = update(key, window=window, slot=slot, limits=limits, expires_at=expires_at)
        if old is None:
            _remember(customer_id, window)
            return None
        stored = old.get("w")
        if limits.daily_quota is not None and old.get("d", 0) >= limits.daily_quota:
            return Refusal("daily_quota", window, day_start)
        if stored == window:
            if limits.per_window is not None and old.get("n", 0) >= limits.per_window:
                return Refusal("rate", window, day_start)
            if limits.per_slot is not None and old.get(_SLOTS[slot], 0) >= limits.per_slot:
                return Refusal("burst", window, day_start)
            same_window = True  # another request started this window meanwhile
        elif stored is None or stored < window:
            same_window = False  # this request starts the window
        else:
            window, same_window = stored, True  # another container's clock is ahead: count in its window
    logger.warning("rate-limit counter contended; request let through", extra={"customer_id": str(customer_id)})
    return None


def _add_in_window(
    key: dict[str, dict[str, str]], *, window: int, slot: int, limits: Limits, expires_at: int
) -> dict[str, int] | None:
    conditions = ["#w = :w"]
    values = _values(window, expires_at)
    if limits.per_window is not None:
        conditions.append("#n < :per_window")
        values[":per_window"] = {"N": str(limits.per_window)}
    if limits.per_slot is not None:
        conditions.append("(attribute_not_exists(#slot) OR #slot < :per_slot)")
        values[":per_slot"] = {"N": str(limits.per_slot)}
    if limits.daily_quota is not None:
        conditions.append("#d < :quota")
        values[":quota"] = {"N": str(limits.daily_quota)}
    return repository.conditional_update(
        key=key,
        update="SET #expires = :expires ADD #d :one, #n :one, #slot :one",
        condition=" AND ".join(conditions),
        names={"#w": "w", "#n": "n", "#d": "d", "#slot": _SLOTS[slot], "#expires": "expires_at"},
        values=values,
    )


def _start_window(
    key: dict[str, dict[str, str]], *, window: int, slot: int, limits: Limits, expires_at: int
) -> dict[str, int] | None:
    others = [name for index, name in enumerate(_SLOTS) if index != slot]
    names = {
        "#w": "w",
        "#n": "n",
        "#d": "d",
        "#slot": _SLOTS[slot],
        "#expires": "expires_at",
        **{f"#old{index}": name for index, name in enumerate(others)},
    }
    condition = "(attribute_not_exists(#w) OR #w < :w)"
    values = _values(window, expires_at)
    if limits.daily_quota is not None:
        condition += " AND (attribute_not_exists(#d) OR #d < :quota)"
        values[":quota"] = {"N": str(limits.daily_quota)}
    return repository.conditional_update(
        key=key,
        update=(
            "SET #w = :w, #n = :one, #slot = :one, #expires = :expires"
            " REMOVE " + ", ".join(f"#old{index}" for index in range(len(others))) + " ADD #d :one"
        ),
        condition=condition,
        names=names,
        values=values,
    )


def _values(window: int, expires_at: int) -> dict[str, dict[str, str]]:
    return {":w": {"N": str(window)}, ":one": {"N": "1"}, ":expires": {"N": str(expires_at)}}


def _remember(customer_id: uuid.UUID, window: int) -> None:
    with _memo_lock:
        if len(_last_window) >= _MEMO_LIMIT and customer_id not in _last_window:
            _last_window.clear()  # a hint only: forgetting costs one extra round trip
        _last_window[customer_id] = window


def forget_windows() -> None:
    """Drop the per-process window hints (tests)."""
    with _memo_lock:
        _last_window.clear()
