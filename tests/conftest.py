"""Test fixtures: a real database (PostgreSQL when DATABASE_URL says so, else SQLite), real Redis, a real SMTP
sink, and organisations with a member of every role. Helpers that build data live in :mod:`tests.support`."""
from __future__ import annotations

import os

import pytest
import redis
import time_machine
from flask_migrate import upgrade
from flask import current_app
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.jobs import redis_connection
from tests.smtp_sink import SmtpSink
from tests.support.data import add_member, login, make_org, slug_of
from tests.support.env import database_url, ensure_database, redis_url
from tests.support.workflow import MONDAY_9AM


def pytest_configure(config: pytest.Config) -> None:
    """Check where the tests would write before any of them runs, so a refusal is said once and nothing starts."""
    database_url()
    ensure_database()
    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        raise pytest.UsageError(f"Redis is needed for the tests at {redis_url()}: {exc}")


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def app(smtp_sink):
    os.environ.pop("JOBS_INLINE", None)
    application = create_app({
        "APP_ENV": "test",
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "REDIS_URL": redis_url(),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": smtp_sink.port,
        "BASE_URL": "http://localhost",
        "SERVER_NAME": None,
        "JOBS_INLINE": False,
    })
    with application.app_context():
        _reset_schema()
        upgrade(directory=str(application.extensions["migrate"].directory))
        db.engine.dispose()  # connections opened before the migrations made the app role would bypass it
    return application


def login_engine():
    """The tests' database as the login user, who owns the schema: for dropping and truncating tables.

    The app's own engine acts as the row-level-security role (see app.tenancy), which may do neither.
    """
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return engine
    owner = current_app.extensions.get("test_login_engine")
    if owner is None:
        owner = current_app.extensions["test_login_engine"] = create_engine(engine.url, pool_size=1)
    return owner


def _reset_schema() -> None:
    engine = login_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _truncate_all() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with login_engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(autouse=True)
def _isolation(app, smtp_sink):
    """Every test starts with empty tables, an empty Redis database (the tests' own: database 0, where a
    development server keeps its queues, is refused) and an empty mailbox."""
    yield
    with app.app_context():
        db.session.remove()
        _truncate_all()
        redis_connection().flushdb()
    smtp_sink.clear()


@pytest.fixture()
def ctx(app):
    """An app context for tests that use services and models directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def org(app):
    """Organisation A with an admin, a manager, an agent and a viewer (the owner/member trio and more)."""
    tenant_id, admin_id = make_org(app, "Acme Billing")
    return {
        "tenant_id": tenant_id,
        "slug": slug_of(app, tenant_id),
        "admin": admin_id,
        "manager": add_member(app, tenant_id, "manager", "Mia Manager", "mia@acme.example"),
        "agent": add_member(app, tenant_id, "agent", "Alex Agent", "alex@acme.example"),
        "viewer": add_member(app, tenant_id, "viewer", "Val Viewer", "val@acme.example"),
    }


@pytest.fixture()
def as_member(app, client, org):
    """Log the test client in as one of org A's members: ``as_member("agent")``."""

    def _login(role: str):
        login(client, app, org[role])
        return client

    return _login


@pytest.fixture()
def other_org(app):
    """Organisation B, whose admin is the outsider for organisation A."""
    tenant_id, admin_id = make_org(app, "Bayside Clinic", kind="clinic", email="boss@bayside.example")
    return {"tenant_id": tenant_id, "slug": slug_of(app, tenant_id), "admin": admin_id,
            "agent": add_member(app, tenant_id, "agent", "Bo Agent", "bo@bayside.example")}


@pytest.fixture()
def clock():
    """Time stands still at Monday 09:00 in New York until a test moves it."""
    with time_machine.travel(MONDAY_9AM, tick=False) as traveller:
        yield traveller
