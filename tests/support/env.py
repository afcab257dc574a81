"""Where the tests' services are: the database (PostgreSQL from DATABASE_URL, else a temporary SQLite file) and
Redis. Shared by the fixtures, the worker processes and the browser tests' live server."""
from __future__ import annotations

import os
import tempfile
from urllib.parse import urlsplit

import pytest

_TMP = tempfile.mkdtemp(prefix="turnaround-tests-")


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{_TMP}/test.db"
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if "test" not in name:
        raise pytest.UsageError(f"refusing to run tests against database {name!r}: its name must contain 'test'")
    return url


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
