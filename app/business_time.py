"""SLA clock arithmetic, in one place.

Two modes:

* **Calendar hours**: the clock runs all the time; 24 hours after Friday 17:30 is Saturday 17:30, and a
  day is 24 hours.
* **Business hours** (Zendesk's rule): only opening hours count. A 4-hour target set at 15:38 on a
  Tuesday with hours 09:00–17:00 runs 1 h 22 min on Tuesday and is due Wednesday at 11:38. An event
  outside opening hours starts (or resumes) the clock at the next opening. A working day is a local date
  that is not a holiday and has at least one working period; a target in business days is due at the same
  local time that many working days later (kept within that day's opening hours), so "1 business day"
  from Friday 17:30 is Tuesday at opening: the clock starts Monday 09:00 and runs one working day.

A schedule maps ISO weekday numbers (1 = Monday … 7 = Sunday) to local ``(start, end)`` working
periods; holidays are local dates. Inputs and outputs are timezone-aware UTC datetimes and opening hours
are summed in real elapsed seconds, so a daylight-saving change never adds or loses an hour of work.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

MAX_DAYS = 3 * 366

DEFAULT_HOURS = {day: [(time(9), time(17))] for day in range(1, 6)}
UNITS = ("minutes", "hours", "business_days")


@dataclass(frozen=True)
class Duration:
    """An SLA target: ``amount`` of ``unit`` (minutes, hours or business days)."""

    amount: int
    unit: str = "hours"

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unknown SLA unit {self.unit!r}")

    @classmethod
    def from_hours(cls, hours: int) -> Duration:
        """A gap given in hours: a whole number of days of hours ("24", "48") means that many business
        days, as such gaps always have; any other number of hours counts opening hours."""
        if hours > 0 and hours % 24 == 0:
            return cls(hours // 24, "business_days")
        return cls(hours, "hours")

    def __str__(self) -> str:
        label = self.unit.replace("_", " ")
        return f"{self.amount} {label[:-1] if self.amount == 1 else label}"


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

    def _working_days(self, first: date) -> Iterator[date]:
        """Working days (local dates with opening hours, not holidays) from ``first`` on."""
        for offset in range(MAX_DAYS):
            day = first + timedelta(days=offset)
            if self._periods_on(day):
                yield day

    def _utc(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self._zone).astimezone(timezone.utc)

    def _periods(self, first: date) -> Iterator[tuple[datetime, datetime]]:
        """Working periods from ``first`` on, as ``(opening, closing)`` in UTC."""
        for day in self._working_days(first):
            for start, end in self._periods_on(day):
                yield self._utc(day, start), self._utc(day, end)

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it falls in a working period, else the next opening."""
        _require_aware(moment)
        if not self.business_hours:
            return moment
        for opening, closing in self._periods(self._local_day(moment)):
            if closing > moment:
                return max(opening, moment)
        raise ValueError("no working time found within three years")

    def due(self, start: datetime, duration: Duration) -> datetime:
        """When a target of ``duration`` set at ``start`` is due."""
        if duration.unit == "business_days":
            return self.add_days(start, duration.amount)
        if duration.unit == "minutes":
            return self.add(start, duration.amount / 60)
        return self.add(start, duration.amount)

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment when ``hours`` of clock time (opening hours in business mode) have run from ``start``."""
        _require_aware(start)
        if not self.business_hours:
            return start + timedelta(hours=hours)
        begin = self.next_working_moment(start)
        remaining = timedelta(hours=max(hours, 0))
        for opening, closing in self._periods(self._local_day(begin)):
            if closing <= begin:
                continue
            available = closing - max(opening, begin)
            if remaining <= available:
                return max(opening, begin) + remaining
            remaining -= available
        raise ValueError("no working time found within three years")

    def add_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` business days after ``start``: the same local time on the working day that
        many working days after the clock starts, brought within that day's opening hours. In calendar
        mode a day is 24 hours."""
        _require_aware(start)
        if not self.business_hours:
            return start + timedelta(days=days)
        begin = self.next_working_moment(start)
        if days <= 0:
            return begin
        local = begin.astimezone(self._zone)
        for count, day in enumerate(self._working_days(local.date() + timedelta(days=1)), start=1):
            if count == days:
                periods = self._periods_on(day)
                opening, closing = self._utc(day, periods[0][0]), self._utc(day, periods[-1][1])
                return min(max(self._utc(day, local.time()), opening), closing)
        raise ValueError("no working time found within three years")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Clock time (opening hours in business mode) that has run between two moments (zero if ``end`` is
        not after ``start``)."""
        _require_aware(start)
        _require_aware(end)
        if not self.business_hours:
            return max(end - start, timedelta(0))
        total = timedelta(0)
        for opening, closing in self._periods(self._local_day(start)):
            if opening >= end:
                break
            overlap = min(closing, end) - max(opening, start)
            if overlap > timedelta(0):
                total += overlap
        return total


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("SLA arithmetic needs timezone-aware datetimes")
