"""Time helpers: everything is stored in UTC and shown in the tenant's timezone."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def common_timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def localize(value: datetime | None, tz_name: str) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz_name))


DUE_FORMAT = "%a %d %b, %H:%M %Z"


def format_due(moment: datetime | None, tz_name: str) -> str:
    """A due time as the organisation reads it, e.g. "Tue 24 Nov, 09:00 EST"; "" for none."""
    return localize(moment, tz_name).strftime(DUE_FORMAT) if moment else ""
