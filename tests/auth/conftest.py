"""Fixtures for the account tests: an app with rate limits on."""
from __future__ import annotations

import pytest

from app import create_app
from app.extensions import limiter
from tests.support.env import database_url, redis_url


@pytest.fixture()
def limited_app(smtp_sink):
    """The app with rate limits on, counting in the tests' own Redis database (emptied after every test)."""
    limited = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(), "REDIS_URL": redis_url(),
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, "BASE_URL": "http://localhost"})
    yield limited
    limiter.enabled = False  # the limiter is one object shared by every app in this process
