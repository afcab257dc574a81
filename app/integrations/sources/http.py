"""Vendor API calls: JSON over HTTPS to a base URL the organisation configured, never to a URL from a payload.

Ids taken from a payload are checked against :data:`SAFE_ID` and quoted before they become part of a path.
"""
from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

from app.integrations.sources.base import BadPayload, FetchFailed

SAFE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
TIMEOUT_SECONDS = 10


def path_id(value: Any, what: str) -> str:
    """``value`` as a path segment: letters, digits, ``_`` and ``-`` only."""
    value = str(value or "")
    if not SAFE_ID.match(value):
        raise BadPayload(f"The {what} is not a valid id.")
    return quote(value, safe="")


def call(method: str, base_url: str, path: str, *, headers: dict[str, str], query: dict | None = None,
         body: Any = None) -> Any:
    """``method`` ``base_url`` + ``path`` with a JSON body; the decoded JSON answer.

    Raises :class:`FetchFailed`: transient for timeouts, refused connections, 429 and 5xx; permanent for other
    4xx (a wrong token, a deleted response) and for answers that are not JSON.
    """
    url = base_url.rstrip("/") + path + (("?" + urlencode(query)) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Accept": "application/json", **headers,
                                              **({"Content-Type": "application/json"} if data else {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            raw = answer.read(5_000_000)
    except urllib.error.HTTPError as exc:
        transient = exc.code == 429 or exc.code >= 500
        raise FetchFailed(f"The vendor API answered {exc.code} to {method} {path}.", transient=transient) from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
        raise FetchFailed(f"The vendor API could not be reached ({type(exc).__name__}).", transient=True) from None
    try:
        return json.loads(raw)
    except ValueError:
        raise FetchFailed(f"The vendor API's answer to {method} {path} is not JSON.", transient=False) from None
