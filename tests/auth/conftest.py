"""Helpers for the account tests: the outbox as a list, a link out of an email, and an app with rate limits on."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db, limiter
from app.mail import OutboxMessage
from app.tenancy import tenant_context
from tests.conftest import _database_url, _redis_url


def outbox(app, tenant_id: int, kind: str | None = None) -> list[OutboxMessage]:
    """The organisation's outbox, oldest first, as detached rows; only ``kind`` when given."""
    with app.app_context(), tenant_context(tenant_id):
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            statement = statement.where(OutboxMessage.kind == kind)
        rows = db.session.execute(statement).scalars().all()
        db.session.expunge_all()
    return rows


def link_path(message: OutboxMessage) -> str:
    """The path of the one link to this site in an email's text (BASE_URL is http://localhost in the tests)."""
    return re.search(r"http://localhost(/\S+)", message.text_body).group(1)


@pytest.fixture()
def limited_app(smtp_sink):
    """The app with rate limits on, counting in the tests' own Redis database (emptied after every test)."""
    limited = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": _database_url(), "REDIS_URL": _redis_url(),
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, "BASE_URL": "http://localhost"})
    yield limited
    limiter.enabled = False  # the limiter is one object shared by every app in this process
