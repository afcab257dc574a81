"""Where the tests' services are: the database (PostgreSQL from DATABASE_URL, else a temporary SQLite file) and
Redis. Shared by the fixtures, the worker processes and the browser tests' live server."""
from __future__ import annotations

import os
import tempfile
from urllib.parse import urlsplit

import pytest
import redis

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
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    # Every test ends with FLUSHDB: database 0 is where `make run` keeps its queues.
    if int(redis.Redis.from_url(url).connection_pool.connection_kwargs.get("db", 0)) == 0:
        raise pytest.UsageError(f"refusing to run tests against Redis database 0 ({url}): the tests empty their "
                                "Redis database; use another, e.g. redis://127.0.0.1:6379/15")
    return url
