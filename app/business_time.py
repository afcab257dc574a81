"""SLA clock arithmetic, in one place.

Two modes:

* **Calendar hours**: the clock runs all the time; 24 hours after Friday 17:30 is Saturday 17:30.
* **Business hours**: the clock runs only on working days, and an event outside working hours starts
  (or resumes) the clock at the next opening. A working day is a local date that is not a holiday and
  has at least one working period. So a detractor at 17:30 on Friday, with a 24-hour target, is due at
  Tuesday's opening: the clock starts Monday at 09:00 and runs 24 hours of working days.

A schedule maps ISO weekday numbers (1 = Monday … 7 = Sunday) to local ``(start, end)`` working
periods; holidays are local dates. Inputs and outputs are timezone-aware UTC datetimes and all sums are
in real elapsed seconds, so a daylight-saving change never adds or loses an hour.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

MAX_DAYS = 3 * 366

DEFAULT_HOURS = {day: [(time(9), time(17))] for day in range(1, 6)}


@dataclass(frozen=True)
class Calendar:
    """Where and when the clock runs: a timezone, working periods per weekday, holidays, and the mode."""

    timezone: str = "UTC"
    hours: dict[int, list[tuple[time, time]]] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    holidays: frozenset[date] = frozenset()
    business_hours: bool = True

    def __post_init__(self):
        if self.business_hours and not any(start < end for periods in self.hours.values() for start, end in periods):
            raise ValueError("a business-hours calendar needs at least one working period")

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def _periods_on(self, day: date) -> list[tuple[time, time]]:
        if day in self.holidays:
            return []
        return sorted((s, e) for s, e in self.hours.get(day.isoweekday(), []) if s < e)

    def _working_days(self, first: date) -> Iterator[tuple[date, datetime, datetime]]:
        """Working days from ``first`` on, each with its local midnight-to-midnight span in UTC."""
        zone = self._zone
        for offset in range(MAX_DAYS):
            day = first + timedelta(days=offset)
            if self._periods_on(day):
                start = datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)
                end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(timezone.utc)
                yield day, start, end

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it falls in a working period, else the next opening."""
        _require_aware(moment)
        if not self.business_hours:
            return moment
        zone = self._zone
        for day, _, _ in self._working_days(self._local_day(moment)):
            for start, end in self._periods_on(day):
                opening = datetime.combine(day, start, tzinfo=zone).astimezone(timezone.utc)
                closing = datetime.combine(day, end, tzinfo=zone).astimezone(timezone.utc)
                if closing > moment:
                    return max(opening, moment)
        raise ValueError("no working time found within three years")

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment when ``hours`` of clock time have run from ``start``."""
        _require_aware(start)
        if not self.business_hours:
            return start + timedelta(hours=hours)
        begin = self.next_working_moment(start)
        remaining = timedelta(hours=max(hours, 0))
        for _, day_start, day_end in self._working_days(self._local_day(begin)):
            if day_end <= begin:
                continue
            available = day_end - max(day_start, begin)
            if remaining < available:
                return max(day_start, begin) + remaining
            remaining -= available
        raise ValueError("no working time found within three years")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Clock time that has run between two moments (zero if ``end`` is not after ``start``)."""
        _require_aware(start)
        _require_aware(end)
        if not self.business_hours:
            return max(end - start, timedelta(0))
        begin = self.next_working_moment(start)
        total = timedelta(0)
        for _, day_start, day_end in self._working_days(self._local_day(begin)):
            if day_start >= end:
                break
            overlap = min(day_end, end) - max(day_start, begin)
            if overlap > timedelta(0):
                total += overlap
        return total


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("SLA arithmetic needs timezone-aware datetimes")
