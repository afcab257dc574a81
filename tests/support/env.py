"""Where the tests' services are: the database (PostgreSQL from DATABASE_URL, else a temporary SQLite file) and
Redis. Shared by the fixtures, the worker processes and the browser tests' live server.

When the suite runs in parallel (pytest-xdist), each worker process has a database and a Redis database of its
own: ``<name>_gw<N>`` and the Redis database ``N`` below the given one, so workers never empty each other's.
"""
from __future__ import annotations

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

_TMP = tempfile.mkdtemp(prefix="turnaround-tests-")


def _worker() -> int | None:
    """This process's xdist worker number ("gw1" → 1), or None when the suite runs in one process."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def _given_database_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if "test" not in name:
        raise pytest.UsageError(f"refusing to run tests against database {name!r}: its name must contain 'test'")
    return url


def database_url() -> str:
    url = _given_database_url()
    if url is None:
        return f"sqlite:///{_TMP}/test.db"
    worker = _worker()
    if worker is None:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_gw{worker}"))


def ensure_database() -> None:
    """Create this worker's own PostgreSQL database when the suite runs in parallel and it does not exist."""
    given, own = _given_database_url(), database_url()
    if given is None or own == given:
        return
    import psycopg

    name = urlsplit(own).path.rsplit("/", 1)[-1]
    with psycopg.connect(given.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    number = int(redis.Redis.from_url(url).connection_pool.connection_kwargs.get("db", 0))
    worker = _worker()
    if worker is not None and number:
        number -= worker
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(path=f"/{number}"))
    # Every test ends with FLUSHDB: database 0 is where `make run` keeps its queues.
    if number == 0:
        raise pytest.UsageError(f"refusing to run tests against Redis database 0 ({url}): the tests empty their "
                                "Redis database; use another, e.g. redis://127.0.0.1:6379/15")
    return url
