"""Builders for test data (organisations, members, contacts, invitations, responses), login, and running jobs.

Each opens its own app context and closes its session, so a test's client never sees stale rows.
"""
from __future__ import annotations

import re

from rq import SimpleWorker
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import Membership, Tenant, User
from app.contacts.models import Contact, RecipientRole
from app.customers.models import CustomerAccount
from app.settings.models import NotificationList
from app.extensions import db
from app.jobs import QUEUES, get_queue, redis_connection
from app.security import new_token
from app.surveys import services as surveys
from app.surveys.models import SurveyInvitation
from app.tenancy import tenant_context
from app.timeutil import utcnow

PASSWORD = "correct-horse-battery"


def run_jobs(app) -> None:
    """Run every queued job with a real RQ worker on the real Redis, until the queues are empty."""
    with app.app_context():
        worker = SimpleWorker([get_queue(name) for name in QUEUES], connection=redis_connection())
        worker.work(burst=True, with_scheduler=False)
        db.session.remove()


def make_org(app, name: str = "Acme Billing", *, kind: str = "billing", email: str | None = None,
             admin_name: str = "Ada Admin", timezone: str = "America/New_York",
             verified: bool = True) -> tuple[int, int]:
    """Sign up an organisation; returns (tenant_id, admin_user_id). Its first admin's address counts as
    confirmed (as if the emailed link had been used), so it can send surveys, unless ``verified`` is False."""
    email = email or f"admin@{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.example"
    with app.app_context():
        tenant, user = accounts.create_organisation(
            name=name, kind=kind, timezone=timezone, admin_name=admin_name, email=email, password=PASSWORD
        )
        if verified:
            user.email_verified_at = utcnow()
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


def make_account(app, tenant_id: int, name: str, **fields) -> int:
    """The tenant's account called ``name`` (made with ``fields`` when it is new); returns its id."""
    with app.app_context(), tenant_context(tenant_id):
        account = db.session.execute(select(CustomerAccount).where(CustomerAccount.name == name)).scalar_one_or_none()
        if account is None:
            account = CustomerAccount(name=name, **fields)
            db.session.add(account)
            db.session.commit()
        account_id = account.id
        db.session.remove()
    return account_id


def make_contact(app, tenant_id: int, name: str = "Casey Client", email: str | None = None, *,
                 roles: tuple[str, ...] = ("NPS Recipient",), account: str | None = None, **fields) -> int:
    """A contact of the tenant; ``account`` names its account (made when new), or ``account_id=`` gives it."""
    account_id = make_account(app, tenant_id, account) if account else fields.pop("account_id", None)
    with app.app_context(), tenant_context(tenant_id):
        role_rows = db.session.execute(db.select(RecipientRole).where(RecipientRole.name.in_(roles))).scalars().all()
        contact = Contact(name=name, email=email or f"{name.lower().replace(' ', '.')}@client.example",
                          roles=list(role_rows), account_id=account_id, **fields)
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


def managers_list_id(app, tenant_id: int) -> int:
    """The id of the "Managers" list every new organisation starts with."""
    with app.app_context(), tenant_context(tenant_id):
        list_id = db.session.execute(
            select(NotificationList.id).where(NotificationList.name == "Managers")).scalar_one()
        db.session.remove()
    return list_id
