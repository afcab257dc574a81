"""Page-or-fragment rendering and the answers to a form post, shared by every htmx view.

A form post ends in one of two ways:

* it worked: :func:`saved` commits, flashes the message and answers a plain post with a 303 redirect (so a
  reload never posts twice) and an htmx post with the re-rendered region;
* it was refused (WTForms validation, or a service's :class:`~app.rules.RuleError` placed on the form by
  :func:`place_error`): :func:`refused` rolls back and answers 422 with the whole page for a plain post and
  the form's fragment for htmx, the messages next to their fields.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from flask import flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_sqlalchemy.pagination import Pagination
from flask_wtf import FlaskForm
from sqlalchemy import BigInteger, ColumnElement, Integer, Select, TypeDecorator, literal, select, tuple_
from sqlalchemy import func as sql_func

from app.extensions import db
from app.rules import RuleError
from app.submissions import record_answer


def wants_fragment() -> bool:
    """True when htmx asked for a region: not for boosted links, nor for htmx restoring a page from history,
    which needs the whole page."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render the whole page, or only ``fragment`` when htmx asked for it (see :func:`wants_fragment`).

    Responses vary on ``HX-Request`` so caches never serve a fragment as a page.
    """
    html = render_template(fragment if fragment is not None and wants_fragment() else page, **context)
    return html, status, {"Vary": "HX-Request"}


def saved(message: str | None, redirect_to: str, region: Callable[[], ResponseReturnValue] | None = None,
          category: str = "success") -> ResponseReturnValue:
    """A post that worked: commit, flash ``message`` (when given), then answer htmx with ``region()`` (the
    re-rendered region, built after the commit) and a plain post, or any post to a page without a
    ``region``, with a 303 to ``redirect_to``. The answer is kept with the post's submission key, if any
    (see :mod:`app.submissions`), so a repeat of the post answers the same."""
    record_answer(redirect_to, message, category)
    db.session.commit()
    if message:
        flash(message, category)
    if region is not None and wants_fragment():
        return region()
    return redirect(redirect_to, 303)


def refused(page: str, fragment: str | None, context: Callable[[], dict], target: str | None = None):
    """A post that was refused: roll back whatever was written, then render ``page`` (or ``fragment`` for
    htmx) with status 422 and the context ``context()`` builds after the rollback. ``target`` is the id of
    the element the fragment replaces when it is not the element that made the request."""
    db.session.rollback()
    html, status, headers = render_page(page, fragment, status=422, **context())
    if target is not None and wants_fragment():
        headers = {**headers, "HX-Retarget": f"#{target}", "HX-Reswap": "outerHTML"}
    return html, status, headers


def place_error(form: FlaskForm, error: RuleError, default_field: str | None = None) -> str | None:
    """Put each of ``error``'s messages next to its field on ``form`` (a message without a field of the form
    goes to ``default_field`` when given). Returns what is left to show above the form, or None."""
    left = []
    for name, message in error.errors.items():
        field = form._fields.get(name) if name else None
        if field is None and default_field is not None:
            field = form[default_field]
        if field is None:
            left.append(message)
        else:
            field.errors = [*field.errors, message]
    return " ".join(left) or None


# The highest ``?page=`` read as asked: any further page's OFFSET would not fit PostgreSQL's bigint.
PAGE_MAX = 2**31 - 1


def paginate(statement: Select, per_page: int = 25) -> Pagination:
    """Paginate a tenant-scoped SELECT by the ``page`` query argument (bad values, and pages past
    :data:`PAGE_MAX`, fall back to page 1)."""
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= PAGE_MAX:
        page = 1
    return db.paginate(statement, page=page, per_page=per_page, error_out=False, max_per_page=100)


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
        values = [_utc(datetime.fromisoformat(v["t"])) if isinstance(v, dict) else v for v in raw]
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None
    if not all(v is None or isinstance(v, (str, int, float, datetime)) for v in values):
        return None
    return values


def _fits(value: Any, column: ColumnElement) -> bool:
    """Whether a cursor value can be compared with ``column`` (a cursor is the client's to edit): of the
    column's Python type and, for a number, within the column's range, or the database refuses the statement."""
    column_type = column.type
    if isinstance(column_type, TypeDecorator):  # its own python_type says only "object"
        column_type = column_type.impl_instance
    try:
        expected = column_type.python_type
    except NotImplementedError:
        return True
    if isinstance(value, bool) or not isinstance(value, expected):
        return False
    if isinstance(column_type, Integer):
        bits = 63 if isinstance(column_type, BigInteger) else 31
        return -(2**bits) <= value < 2**bits
    return True


def _utc(moment: datetime) -> datetime:
    """A cursor's time in UTC; :func:`encode_cursor` writes only aware times, so a naive one is malformed."""
    if moment.tzinfo is None:
        raise ValueError("a cursor time without its offset")
    return moment.astimezone(timezone.utc)


def keyset_query(statement: Select, order_columns: Sequence[ColumnElement], *, after: str | None = None,
                 limit: int = 25, descending: bool = False) -> Select:
    """``statement`` narrowed to the ``limit + 1`` rows that follow the cursor ``after`` in ``order_columns``
    order: ``WHERE (keys) > (cursor) ORDER BY keys LIMIT limit + 1`` (``<`` and descending when
    ``descending``). The extra row tells whether a next page exists. A malformed cursor reads the first page.
    For callers that read several pages in one statement (the board's columns); :func:`keyset_page` runs one.
    """
    paged = statement.order_by(None)
    values = decode_cursor(after, len(order_columns))
    if values is not None and None not in values and all(map(_fits, values, order_columns)):
        position = tuple_(*[literal(value, column.type) for value, column in zip(values, order_columns)])
        paged = paged.where(tuple_(*order_columns) < position if descending else tuple_(*order_columns) > position)
    paged = paged.order_by(*[column.desc() if descending else column.asc() for column in order_columns])
    return paged.limit(limit + 1)


def keyset_page(statement: Select, order_columns: Sequence[ColumnElement], *, after: str | None = None,
                limit: int = 25, descending: bool = False) -> KeysetPage:
    """The ``limit`` rows of ``statement`` that follow the cursor ``after``, in ``order_columns`` order.

    ``order_columns`` must end with a unique column (the id) and hold no NULLs; every column sorts the same
    way (ascending, or descending when ``descending``). The page is read as ``WHERE (keys) > (cursor)
    ORDER BY keys LIMIT limit + 1`` (:func:`keyset_query`), so a deep page costs what the first one does when
    an index (leading with tenant_id) has the keys in order; there is no OFFSET. ``items`` holds each row's
    entity (or column) when the statement selects one, else the row as a tuple. A malformed cursor reads the
    first page.
    """
    keys = [column.label(f"keyset_{i}") for i, column in enumerate(order_columns)]
    rows = db.session.execute(keyset_query(statement.add_columns(*keys), order_columns, after=after, limit=limit,
                                           descending=descending)).all()
    width = len(order_columns)
    next_cursor = encode_cursor(rows[limit - 1][-width:]) if len(rows) > limit else None
    single = len(statement.column_descriptions) == 1
    items = [row[0] if single else tuple(row[:-width]) for row in rows[:limit]]
    return KeysetPage(items=items, next_cursor=next_cursor)


def capped_count(statement: Select, cap: int) -> int:
    """How many rows ``statement`` selects, counting no further than ``cap`` + 1: a count that costs at most
    ``cap`` index entries however large the table grows. Show ``cap + 1`` as "more than ``cap``"."""
    return db.session.execute(select(sql_func.count()).select_from(statement.limit(cap + 1).subquery())).scalar_one()
