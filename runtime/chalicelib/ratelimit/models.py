"""Rate-limit values and the fixed windows they are counted in."""

from __future__ import annotations

from dataclasses import dataclass

# The sustained rate is enforced over this many seconds (per_second x WINDOW
# requests per aligned window), the burst within each one-second slot of it.
WINDOW_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Limits:
    """One tier's limits, read from its catalog features; ``None`` means that dimension is not limited."""

    per_second: int | None
    burst: int | None
    daily_quota: int | None

    @property
    def per_window(self) -> int | None:
        return None if self.per_second is None else self.per_second * WINDOW_SECONDS

    @property
    def per_slot(self) -> int | None:
        return self.burst if self.burst is not None else self.per_second
