"""What every source module shares: the values it returns and the errors it raises."""
from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping


class BadSignature(Exception):
    """The delivery's signature is missing, wrong, or its timestamp is outside the tolerance: 401."""


class BadPayload(Exception):
    """The delivery is signed but cannot be read (not JSON, a field missing): logged as an error."""


class FetchFailed(Exception):
    """A vendor API call failed. ``transient`` failures (timeouts, 429, 5xx) are retried with backoff."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Keys:
    """An integration's decrypted secrets: the signing secret Turnaround generated, and vendor credentials."""

    signing_secret: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What the receiver needs from a verified request before storing it: the vendor's event id (for the log)
    and the key that makes a repeat of it a duplicate. ``relevant`` is False for events that carry no answer
    (a Delighted unsubscribe), which are logged as ignored."""

    event_id: str | None
    dedupe_key: str | None
    relevant: bool = True


def same(expected: bytes | str, given: bytes | str) -> bool:
    """Constant-time comparison."""
    if isinstance(expected, str):
        expected = expected.encode()
    if isinstance(given, str):
        given = given.encode()
    return hmac.compare_digest(expected, given)


def json_body(body: bytes | str) -> dict:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload("The body is not JSON.") from exc
    if not isinstance(value, dict):
        raise BadPayload("The body is not a JSON object.")
    return value


def score_of(value: Any) -> int:
    """A 0–10 score from a vendor's value ("7", 7, 7.0); BadPayload otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise BadPayload(f"The score {value!r} is not a number.") from exc
    if not number.is_integer() or not 0 <= number <= 10:
        raise BadPayload(f"The score {value!r} is not a whole number from 0 to 10.")
    return int(number)


def moment(value: Any) -> datetime | None:
    """A vendor's time (Unix seconds or milliseconds, or ISO 8601) as aware UTC; None when absent or unreadable."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
            seconds = float(value)
            if seconds > 1e11:
                seconds /= 1000
            return datetime.fromtimestamp(seconds, timezone.utc)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def text(value: Any, limit: int = 200) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    value = str(value).strip()
    return value[:limit] or None
