"""Periods: calendar months in UTC, written ``YYYY-MM``.

Usage is metered, priced and invoiced by the month: metering reads a month's
usage, billing bills one, invoices name one. The period lives here, below all
three, so that none of them depends on another for it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from chalicelib.core.errors import Unprocessable

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month; ``starts_at`` inclusive, ``ends_at`` exclusive (both UTC)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1970 <= self.year <= 9998):
            raise ValueError(f"not a billing period: {self.year}-{self.month}")

    @classmethod
    def containing(cls, moment: datetime) -> Period:
        utc = moment.astimezone(UTC)
        return cls(utc.year, utc.month)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        """Days in the month (a table and a leap-year test: the billing run asks several times per invoice)."""
        return 29 if self.month == 2 and calendar.isleap(self.year) else _MONTH_DAYS[self.month]

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    @property
    def starts_at(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def ends_at(self) -> datetime:
        return self.next().starts_at

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def has_ended(self, now: datetime) -> bool:
        return now >= self.ends_at

    def __str__(self) -> str:
        return self.label


def parse_period(text: str | None) -> Period:
    """``YYYY-MM`` → :class:`Period`; anything else is a 422 (a bad period is semantic, not structural)."""
    match = _PERIOD.match(text) if isinstance(text, str) else None
    if match is None:
        raise Unprocessable("period must be a month written YYYY-MM")
    try:
        return Period(int(match.group(1)), int(match.group(2)))
    except ValueError as exc:
        raise Unprocessable(f"{text} is not a valid billing period") from exc


def utc_now() -> datetime:
    return datetime.now(UTC)


def days_between(start: date, end: date) -> int:
    """Days from ``start`` to ``end`` inclusive."""
    return (end - start).days + 1
