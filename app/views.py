"""Page-or-fragment rendering shared by every htmx view."""
from __future__ import annotations

from flask import render_template, request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

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
