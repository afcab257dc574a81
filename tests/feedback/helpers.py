"""Builders for the feedback tests: responses with chosen scores, comments, accounts and times, and themes."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import update

from app.extensions import db
from app.feedback.models import Theme
from app.surveys.models import Response
from app.tenancy import tenant_context
from tests.support.data import answer, make_contact


def response(app, tenant_id: int, name: str, score: int, comment: str | None = None, *,
             account: str | None = None, at: datetime | None = None, source: str | None = None) -> int:
    """A response from a new contact called ``name``, answered through the survey service; returns its id."""
    contact_id = make_contact(app, tenant_id, name, account=account)
    response_id = answer(app, tenant_id, contact_id, score, comment)
    changes = {}
    if at is not None:
        changes["created_at"] = at
    if source is not None:
        changes["source"] = source
    if changes:
        with app.app_context(), tenant_context(tenant_id):
            db.session.execute(update(Response).where(Response.id == response_id).values(**changes))
            db.session.commit()
            db.session.remove()
    return response_id


def theme(app, tenant_id: int, label: str) -> int:
    with app.app_context(), tenant_context(tenant_id):
        row = Theme(label=label)
        db.session.add(row)
        db.session.commit()
        theme_id = row.id
        db.session.remove()
    return theme_id


def stored(app, tenant_id: int, response_id: int) -> Response:
    """The response as stored, detached, with its themes' labels in ``theme_labels``."""
    with app.app_context(), tenant_context(tenant_id):
        row = db.session.get(Response, response_id)
        row.theme_labels = [t.label for t in row.themes]
        db.session.expunge(row)
        db.session.remove()
    return row


def csv_rows(body: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body)))
