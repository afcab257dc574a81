"""Template filters: dates in the tenant's timezone, relative times."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, g

from app.timeutil import localize, utcnow


def _tz() -> str:
    tenant = g.get("tenant")
    return tenant.timezone if tenant is not None else "UTC"


def local_datetime(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    return localize(value, _tz()).strftime(fmt)


def time_ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def init_app(app: Flask) -> None:
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(time_ago, "time_ago")
