"""One-time submission keys: a form posted twice does its work once.

A form that inherits :class:`OnceForm` carries a random ``submission_key`` in a hidden field, new each time
the form is rendered blank (a form shown again with errors keeps the key it was posted with). A view
decorated with :func:`once` claims the posted key before it does anything: it inserts a ``form_submission``
row (unique per organisation) in the request's transaction. :func:`app.views.saved` writes the answer it
gives into that row (where it redirects, and its flash) and commits it with the work.

* The first post with a key does the work; the key is kept with the answer.
* A later post with the same key does nothing and answers as the first did: the same flash and 303 for a
  plain post, the view's region (e.g. the current ticket) for htmx.
* Two posts racing with one key: the second one's insert waits on the first's uncommitted row; when the
  first commits, the unique constraint refuses the second, which rolls back and answers as the first did.
  When the first is refused (and rolls back), the key is free again and the second does the work.
* A post without a key (or with a malformed one) is not deduplicated.

Keys older than :data:`KEEP_FOR` are deleted by the sweep (:func:`prune`).
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from flask import flash, g, redirect, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import JSON, Index, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import HiddenField

from app.extensions import db
from app.tenancy import TenantScoped, unscoped
from app.timeutil import UTCDateTime, utcnow

FIELD = "submission_key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEEP_FOR = timedelta(days=1)


class FormSubmission(TenantScoped, db.Model):
    """A submission key that did its work, and the answer it gave (None until the post is saved)."""

    __tablename__ = "form_submission"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_form_submission_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def new_key() -> str:
    """A fresh submission key: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class OnceForm(FlaskForm):
    """A form whose posts a view decorated with :func:`once` handles once. ``hidden_tag()`` renders the key."""

    submission_key = HiddenField(default=new_key)


def posted_key() -> str | None:
    """The submission key of the posted form (its field may carry the form's prefix), or None when the post
    has none or a malformed one."""
    for name, value in request.form.items():
        if name == FIELD or name.endswith(f"-{FIELD}"):
            return value if KEY_PATTERN.fullmatch(value or "") else None
    return None


def _answer(submission: FormSubmission | None, region: Callable[..., ResponseReturnValue] | None,
            view_args: dict) -> ResponseReturnValue:
    """Answer a repeated post as the first one was answered."""
    from app.views import wants_fragment

    answer = (submission.response if submission is not None else None) or {}
    if answer.get("message"):
        flash(answer["message"], answer.get("category", "success"))
    if region is not None and wants_fragment():
        return region(**view_args)
    return redirect(answer.get("redirect") or request.path, 303)


def once(region: Callable[..., ResponseReturnValue] | None = None) -> Callable[[Callable], Callable]:
    """Decorate a POST view so each submission key does its work once (see the module docstring).

    ``region(**view_args)`` builds what a repeated htmx post gets (e.g. the re-rendered ticket); without it,
    or for a plain post, a repeat gets a 303 to where the first post went. Put it below ``require_role``.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = posted_key()
            if key is None:
                return view(*args, **kwargs)
            done = _find(key)
            if done is not None:
                return _answer(done, region, kwargs)
            submission = FormSubmission(key=key)
            db.session.add(submission)
            try:
                # Waits while another transaction holds an uncommitted row with this key.
                db.session.flush()
            except IntegrityError:
                db.session.rollback()
                return _answer(_find(key), region, kwargs)
            g.form_submission = submission
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _find(key: str) -> FormSubmission | None:
    return db.session.execute(select(FormSubmission).where(FormSubmission.key == key)).scalar_one_or_none()


def record_answer(redirect_to: str, message: str | None, category: str) -> None:
    """Keep the answer of the post being saved with its submission key (nothing when it has none).
    Called by :func:`app.views.saved` before it commits."""
    submission = g.pop("form_submission", None)
    if submission is not None:
        submission.response = {"redirect": redirect_to, "message": message, "category": category}


def prune(now: datetime | None = None) -> int:
    """Delete the keys of every organisation older than :data:`KEEP_FOR` (run by the sweep); returns how many."""
    cutoff = (now or utcnow()) - KEEP_FOR
    result = db.session.execute(unscoped(delete(FormSubmission).where(FormSubmission.created_at < cutoff)))
    db.session.commit()
    return result.rowcount
