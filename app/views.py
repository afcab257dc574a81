"""Page-or-fragment rendering shared by every htmx view."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from flask import render_template, request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import ColumnElement, Select, literal, select, tuple_
from sqlalchemy import func as sql_func

from app.extensions import db


def render_page(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render the whole page, or only ``fragment`` when htmx asked for it (not for boosted links, nor for
    htmx restoring a page from history, which needs the whole page).

    Responses vary on ``HX-Request`` so caches never serve a fragment as a page.
    """
    htmx = request.htmx
    wants_fragment = fragment is not None and bool(htmx) and not htmx.boosted and not htmx.history_restore_request
    html = render_template(fragment if wants_fragment else page, **context)
    return html, status, {"Vary": "HX-Request"}


def paginate(statement: Select, per_page: int = 25) -> Pagination:
    """Paginate a tenant-scoped SELECT by the ``page`` query argument (bad values fall back to page 1)."""
    return db.paginate(statement, per_page=per_page, error_out=False, max_per_page=100)


@dataclass
class KeysetPage:
    """One page of a keyset-paged list: its rows and the cursor of the next page (None on the last page)."""

    items: list
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """A page position (the sort key values of a page's last row) as an opaque, URL-safe string."""
    plain = [{"t": value.isoformat()} if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    """The values :func:`encode_cursor` wrote, or None for a missing or malformed cursor (the first page)."""
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != length:
            return None
        values = [datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in raw]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        return None
    if not all(v is None or isinstance(v, (str, int, float, datetime)) for v in values):
        return None
    return values


def keyset_page(statement: Select, order_columns: Sequence[ColumnElement], *, after: str | None = None,
                limit: int = 25, descending: bool = False) -> KeysetPage:
    """The ``limit`` rows of ``statement`` that follow the cursor ``after``, in ``order_columns`` order.

    ``order_columns`` must end with a unique column (the id) and hold no NULLs; every column sorts the same
    way (ascending, or descending when ``descending``). The page is read as ``WHERE (keys) > (cursor)
    ORDER BY keys LIMIT limit + 1``, so a deep page costs what the first one does when an index (leading
    with tenant_id) has the keys in order; there is no OFFSET. ``items`` holds each row's entity (or column)
    when the statement selects one, else the row as a tuple. A malformed cursor reads the first page.
    """
    keys = [column.label(f"keyset_{i}") for i, column in enumerate(order_columns)]
    paged = statement.add_columns(*keys).order_by(None)
    values = decode_cursor(after, len(order_columns))
    if values is not None and None not in values:
        position = tuple_(*[literal(value, column.type) for value, column in zip(values, order_columns)])
        paged = paged.where(tuple_(*order_columns) < position if descending else tuple_(*order_columns) > position)
    paged = paged.order_by(*[column.desc() if descending else column.asc() for column in order_columns])
    rows = db.session.execute(paged.limit(limit + 1)).all()
    width = len(order_columns)
    next_cursor = encode_cursor(rows[limit - 1][-width:]) if len(rows) > limit else None
    single = len(statement.column_descriptions) == 1
    items = [row[0] if single else tuple(row[:-width]) for row in rows[:limit]]
    return KeysetPage(items=items, next_cursor=next_cursor)


def capped_count(statement: Select, cap: int) -> int:
    """How many rows ``statement`` selects, counting no further than ``cap`` + 1: a count that costs at most
    ``cap`` index entries however large the table grows. Show ``cap + 1`` as "more than ``cap``"."""
    return db.session.execute(select(sql_func.count()).select_from(statement.limit(cap + 1).subquery())).scalar_one()
