"""Migrations are history: an empty PostgreSQL database upgraded to head matches the models, and the
newest revision steps down and up again. Both work in a scratch database, never the suite's own."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.tenancy import tenant_owned_tables
from tests.support.env import database_url, redis_url


@pytest.fixture(scope="module")
def _scratch_database(app):
    """A database of its own named after the tests' one (so it too contains "test"), made once.

    It is kept afterwards, emptied at each use: DROP DATABASE waits for a checkpoint of the whole
    cluster, minutes on a busy shared server, while emptying its schema is instant.
    """
    url = make_url(database_url())
    if not url.drivername.startswith("postgresql"):
        pytest.skip("the migration checks run on PostgreSQL")
    scratch = url.set(database=f"{url.database}_migrations")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        limit = conn.execute(text("SELECT datconnlimit FROM pg_database WHERE datname = :name"),
                             {"name": scratch.database}).scalar_one_or_none()
        if limit == -2:  # left half-dropped by an interrupted run
            conn.execute(text(f'DROP DATABASE "{scratch.database}"'))
        if limit is None or limit == -2:
            conn.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    admin.dispose()
    return scratch.render_as_string(hide_password=False)


@pytest.fixture()
def scratch_app(_scratch_database):
    """An app on the scratch database, emptied: no tables, no revision."""
    # The limiter is one object for every app: the suite's own app keeps it switched off.
    scratch = create_app({"APP_ENV": "test", "REDIS_URL": redis_url(), "SQLALCHEMY_DATABASE_URI": _scratch_database,
                          "RATELIMIT_ENABLED": False})
    owner = create_engine(_scratch_database)
    try:
        with owner.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        with scratch.app_context():
            yield scratch
            db.session.remove()
            db.engine.dispose()
    finally:
        owner.dispose()


def _directory(app) -> str:
    return str(app.extensions["migrate"].directory)


def _drift() -> list:
    """What autogenerate would write to make the database match the models (empty when they agree)."""
    engine = create_engine(db.engine.url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def _guarded_tables() -> set[str]:
    engine = create_engine(db.engine.url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text(
                "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
                "WHERE c.relrowsecurity AND p.policyname = 'tenant_isolation'")).scalars())
    finally:
        engine.dispose()


def test_an_empty_database_upgraded_to_head_matches_the_models(scratch_app):
    upgrade(directory=_directory(scratch_app))
    assert _drift() == []
    assert _guarded_tables() == {t.name for t in tenant_owned_tables()}


def test_the_newest_revision_steps_down_and_up_again(scratch_app):
    directory = _directory(scratch_app)
    upgrade(directory=directory)
    downgrade(directory=directory, revision="-1")
    upgrade(directory=directory)
    assert _drift() == []
    assert _guarded_tables() == {t.name for t in tenant_owned_tables()}


def _run(sql: str) -> list:
    """Run ``sql`` on the scratch database as its owner; the rows of a SELECT."""
    engine = create_engine(db.engine.url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def test_0010_keeps_account_names_as_accounts_and_its_downgrade_brings_them_back(scratch_app):
    """A name written after 0009 (no account yet) becomes an account before the column goes; stepping down
    gives every contact its account's name again."""
    directory = _directory(scratch_app)
    upgrade(directory=directory, revision="0009")
    _run("INSERT INTO tenant (id, slug, name, kind, timezone, next_ticket_number, created_at) "
         "VALUES (1, 'acme', 'Acme', 'billing', 'UTC', 1, now()), (2, 'bay', 'Bay', 'clinic', 'UTC', 1, now())")
    _run("INSERT INTO customer_account (tenant_id, name, status, created_at, updated_at) "
         "VALUES (1, 'Lakeside Orthopedics', 'active', now(), now())")
    _run("INSERT INTO contact (tenant_id, name, email, account_name, account_id, created_at, updated_at) VALUES "
         "(1, 'Dana', 'dana@x.example', 'Lakeside Orthopedics', (SELECT min(id) FROM customer_account), now(), now()), "
         "(1, 'Late Larry', 'larry@x.example', ' Northgate Cardiology ', NULL, now(), now()), "
         "(1, 'Late Lena', 'lena@x.example', 'Lakeside Orthopedics', NULL, now(), now()), "
         "(2, 'Bo', 'bo@x.example', 'Northgate Cardiology', NULL, now(), now()), "
         "(1, 'Nobody', 'nobody@x.example', NULL, NULL, now(), now())")

    upgrade(directory=directory, revision="0010")
    rows = _run("SELECT c.name, a.tenant_id, a.name FROM contact c LEFT JOIN customer_account a "
                "ON a.id = c.account_id ORDER BY c.name")
    assert [tuple(r) for r in rows] == [
        ("Bo", 2, "Northgate Cardiology"), ("Dana", 1, "Lakeside Orthopedics"),
        ("Late Larry", 1, "Northgate Cardiology"), ("Late Lena", 1, "Lakeside Orthopedics"), ("Nobody", None, None)]
    assert _run("SELECT count(*) FROM customer_account")[0][0] == 3
    assert _run("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contact' "
                "AND column_name = 'account_name'")[0][0] == 0

    downgrade(directory=directory, revision="0009")
    rows = _run("SELECT name, account_name FROM contact ORDER BY name")
    assert [tuple(r) for r in rows] == [("Bo", "Northgate Cardiology"), ("Dana", "Lakeside Orthopedics"),
                                       ("Late Larry", "Northgate Cardiology"), ("Late Lena", "Lakeside Orthopedics"),
                                       ("Nobody", None)]
