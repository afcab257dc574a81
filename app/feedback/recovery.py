"""Recovery re-surveys: ask a closed ticket's contact again, after the organisation's delay.

When a ticket closes (and the organisation has the re-survey on) a ``RecoverySurvey`` row is owed at
``closed_at + delay``, in the same transaction as the closing. The sweep (:func:`sweep_resurveys`) claims the
due rows with a conditional UPDATE, so each is sent at most once even when sweeps race or a worker restarts,
and writes each contact's invitation (carrying the ticket in ``followup_ticket_id``) and its email in the
same transaction as the claim. The throttling window is not consulted: the re-survey is the one survey that
may reach a contact inside it, and only that contact; nothing else about throttling changes.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.accounts.models import Tenant
from app.contacts.models import Contact
from app.emailtemplates import prepare
from app.extensions import db
from app.feedback.models import RecoverySurvey
from app.security import new_token
from app.settings.services import get_settings
from app.surveys.models import Response, SurveyInvitation
from app.tenancy import all_tenants, tenant_context, unscoped
from app.tickets.models import Ticket
from app.timeutil import utcnow

SWEEP_LIMIT = 200


def schedule_resurvey(ticket: Ticket) -> RecoverySurvey | None:
    """Owe the ticket's contact a re-survey ``resurvey_delay_days`` after it closed, when the organisation has
    the re-survey on. A ticket is re-surveyed once: closing it again after a reopen moves a re-survey not yet
    sent and leaves one already sent alone."""
    settings = get_settings()
    if not settings.resurvey_enabled or ticket.closed_at is None:
        return None
    due = ticket.closed_at + timedelta(days=settings.resurvey_delay_days)
    owed = db.session.execute(select(RecoverySurvey).where(RecoverySurvey.ticket_id == ticket.id)).scalar_one_or_none()
    if owed is None:
        owed = RecoverySurvey(ticket_id=ticket.id, due_at=due)
        db.session.add(owed)
    elif owed.sent_at is None:
        owed.due_at, owed.cancelled_at = due, None
    return owed


def cancel_resurvey(ticket: Ticket) -> None:
    """A reopened ticket owes no re-survey until it closes again."""
    db.session.execute(update(RecoverySurvey).where(RecoverySurvey.ticket_id == ticket.id,
                                                    RecoverySurvey.sent_at.is_(None))
                       .values(cancelled_at=utcnow()), execution_options={"synchronize_session": False})


@all_tenants()
def sweep_resurveys(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Send the re-surveys that are due, in every organisation; returns how many were claimed."""
    from app.mail import enqueue_deliveries

    now = now or utcnow()
    owed = RecoverySurvey.__table__.c
    due = (select(owed.id).where(owed.sent_at.is_(None), owed.cancelled_at.is_(None), owed.due_at <= now)
           .order_by(owed.due_at).limit(limit).with_for_update(skip_locked=True))
    claimed = db.session.execute(unscoped(
        update(RecoverySurvey.__table__).where(owed.id.in_(due), owed.sent_at.is_(None))
        .values(sent_at=now).returning(owed.id, owed.tenant_id, owed.ticket_id)
    )).all()
    message_ids: list[int] = []
    try:
        for row_id, tenant_id, ticket_id in claimed:
            with tenant_context(tenant_id):
                message_ids += _send(row_id, tenant_id, ticket_id, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    enqueue_deliveries(message_ids, bulk=True)
    return len(claimed)


def _send(row_id: int, tenant_id: int, ticket_id: int, now: datetime) -> list[int]:
    """The re-survey's invitation and email for one ticket (inside its tenant); nothing when the contact has
    no email address any more."""
    from app.notifications.outbox import insert_outbox, row
    from app.surveys.services import INVITATION_LIFETIME, SCORES, contact_values, default_survey, \
        invitation_sender, survey_link, survey_values

    ticket = db.session.execute(select(Ticket).where(Ticket.id == ticket_id)
                                .options(joinedload(Ticket.contact).joinedload(Contact.account))).scalar_one()
    contact = ticket.contact
    if not contact.email:
        return []
    tenant = db.session.get(Tenant, tenant_id)
    survey = default_survey()
    token, token_hash = new_token()
    invitation = SurveyInvitation(survey_id=survey.id, contact_id=contact.id, token_hash=token_hash,
                                  created_at=now, expires_at=now + INVITATION_LIFETIME, followup_ticket_id=ticket.id)
    db.session.add(invitation)
    db.session.flush()
    db.session.execute(update(RecoverySurvey).where(RecoverySurvey.id == row_id).values(invitation_id=invitation.id),
                       execution_options={"synchronize_session": False})
    from_name, reply_to = invitation_sender(tenant, None)
    values = survey_values(tenant, survey) | contact_values(contact) | {"survey.link": survey_link(token)}
    rendered = prepare("survey_invitation").render(values, score_links=[(s, survey_link(token, s)) for s in SCORES])
    return list(insert_outbox([row(tenant_id=tenant_id, kind="survey_invitation", occurrence_key=f"recovery:{ticket.id}",
                              address=contact.email, name=contact.name,
                              sender=(from_name, current_app.config["MAIL_SENDER_ADDRESS"]), reply_to=reply_to,
                              subject=rendered.subject, text_body=rendered.text, html_body=rendered.html,
                              ticket_id=ticket.id, now=now)]))


def followup_response(ticket_id: int) -> Response | None:
    """The answer to the ticket's re-survey, once it has come back."""
    return db.session.execute(
        select(Response).join(SurveyInvitation, SurveyInvitation.id == Response.invitation_id)
        .where(SurveyInvitation.followup_ticket_id == ticket_id)
    ).scalar_one_or_none()
