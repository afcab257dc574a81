"""Page-or-fragment rendering and the answers to a form post, shared by every htmx view.

A form post ends in one of two ways:

* it worked: :func:`saved` commits, flashes the message and answers a plain post with a 303 redirect (so a
  reload never posts twice) and an htmx post with the re-rendered region;
* it was refused (WTForms validation, or a service's :class:`~app.rules.RuleError` placed on the form by
  :func:`place_error`): :func:`refused` rolls back and answers 422 with the whole page for a plain post and
  the form's fragment for htmx, the messages next to their fields.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_sqlalchemy.pagination import Pagination
from flask_wtf import FlaskForm
from sqlalchemy import Select

from app.extensions import db
from app.rules import RuleError


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
    ``region``, with a 303 to ``redirect_to``."""
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


def paginate(statement: Select, per_page: int = 25) -> Pagination:
    """Paginate a tenant-scoped SELECT by the ``page`` query argument (bad values fall back to page 1)."""
    return db.paginate(statement, per_page=per_page, error_out=False, max_per_page=100)
