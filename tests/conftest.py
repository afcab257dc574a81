"""Test fixtures: a real database (PostgreSQL when DATABASE_URL says so, else SQLite), real Redis,
a real SMTP sink, and helpers to build organisations, members, contacts and responses."""
from __future__ import annotations

import os
import re
import tempfile
from urllib.parse import urlsplit

import pytest
import redis
from flask_migrate import upgrade
from rq import SimpleWorker
from flask import current_app
from sqlalchemy import create_engine, text

from app import create_app
from app.accounts import services as accounts
from app.accounts.models import Membership, Tenant, User
from app.contacts.models import Contact, RecipientRole
from app.extensions import db
from app.jobs import QUEUES, get_queue, redis_connection
from app.security import new_token
from app.surveys import services as surveys
from app.surveys.models import SurveyInvitation
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.smtp_sink import SmtpSink

PASSWORD = "correct-horse-battery"
_TMP = tempfile.mkdtemp(prefix="turnaround-tests-")


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{_TMP}/test.db"
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if "test" not in name:
        raise pytest.UsageError(f"refusing to run tests against database {name!r}: its name must contain 'test'")
    return url


def _redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


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
        "SQLALCHEMY_DATABASE_URI": _database_url(),
        "REDIS_URL": _redis_url(),
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
    try:
        redis.Redis.from_url(_redis_url()).ping()
    except redis.RedisError as exc:
        raise pytest.UsageError(f"Redis is needed for the tests at {_redis_url()}: {exc}")
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
    """Every test starts with empty tables, empty queues and an empty mailbox."""
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


def run_jobs(app) -> None:
    """Run every queued job with a real RQ worker on the real Redis, until the queues are empty."""
    with app.app_context():
        worker = SimpleWorker([get_queue(name) for name in QUEUES], connection=redis_connection())
        worker.work(burst=True, with_scheduler=False)
        db.session.remove()


def make_org(app, name: str = "Acme Billing", *, kind: str = "billing", email: str | None = None,
             admin_name: str = "Ada Admin", timezone: str = "America/New_York") -> tuple[int, int]:
    """Sign up an organisation; returns (tenant_id, admin_user_id)."""
    email = email or f"admin@{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.example"
    with app.app_context():
        tenant, user = accounts.create_organisation(
            name=name, kind=kind, timezone=timezone, admin_name=admin_name, email=email, password=PASSWORD
        )
        db.session.commit()
        ids = tenant.id, user.id
        db.session.remove()
    return ids


def add_member(app, tenant_id: int, role: str, name: str | None = None, email: str | None = None) -> int:
    """Add a user with ``role`` to the tenant; returns the user id."""
    with app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        name = name or f"{role.title()} {tenant.slug}"
        email = email or f"{role}.{tenant.slug}.{utcnow().timestamp():.6f}@example.com".replace("-", "")
        user = accounts.find_user_by_email(email) or accounts.create_user(name=name, email=email, password=PASSWORD)
        with tenant_context(tenant_id):
            db.session.add(Membership(user_id=user.id, role=role))
            db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


def make_contact(app, tenant_id: int, name: str = "Casey Client", email: str | None = None, *,
                 roles: tuple[str, ...] = ("NPS Recipient",), **fields) -> int:
    with app.app_context(), tenant_context(tenant_id):
        role_rows = db.session.execute(db.select(RecipientRole).where(RecipientRole.name.in_(roles))).scalars().all()
        contact = Contact(name=name, email=email or f"{name.lower().replace(' ', '.')}@client.example",
                          roles=list(role_rows), **fields)
        db.session.add(contact)
        db.session.commit()
        contact_id = contact.id
        db.session.remove()
    return contact_id


def make_invitation(app, tenant_id: int, contact_id: int) -> str:
    """Create a survey invitation without sending it; returns the raw token for its link."""
    with app.app_context(), tenant_context(tenant_id):
        survey = surveys.default_survey()
        token, token_hash = new_token()
        db.session.add(SurveyInvitation(survey_id=survey.id, contact_id=contact_id, token_hash=token_hash,
                                        expires_at=utcnow() + surveys.INVITATION_LIFETIME))
        db.session.commit()
        db.session.remove()
    return token


def answer(app, tenant_id: int, contact_id: int, score: int, comment: str | None = None) -> int:
    """Record a response through the service (as the hosted page would); returns the response id."""
    token = make_invitation(app, tenant_id, contact_id)
    with app.app_context():
        invitation = surveys.find_invitation(token)
        with tenant_context(tenant_id):
            response = surveys.record_answer(invitation, score, comment)
            db.session.commit()
            response_id = response.id
        db.session.remove()
    return response_id


def audit_entries(app, tenant_id: int) -> list:
    """The tenant's audit log, oldest first, as detached ``AuditEntry`` rows."""
    from app.settings.models import AuditEntry

    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def user_email(app, user_id: int) -> str:
    with app.app_context():
        email = db.session.get(User, user_id).email
        db.session.remove()
    return email


def login(client, app, user_id: int) -> None:
    response = client.post("/login", data={"email": user_email(app, user_id), "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def slug_of(app, tenant_id: int) -> str:
    with app.app_context():
        slug = db.session.get(Tenant, tenant_id).slug
        db.session.remove()
    return slug


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
