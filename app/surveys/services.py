"""Sending surveys and recording answers."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Iterable

from app.urls import absolute_url
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.accounts.models import Tenant, User
from app.contacts.models import Contact, RecipientRole, contact_role
from app.extensions import db
from app.mail import queue_email
from app.security import hash_token, new_token
from app.surveys.models import Response, Survey, SurveyInvitation
from app.tenancy import unscoped
from app.timeutil import utcnow

INVITATION_LIFETIME = timedelta(days=30)
AMEND_WINDOW = timedelta(days=7)
SCORES = range(0, 11)


class LinkExpired(Exception):
    """The response can no longer be changed through this link."""


def default_survey() -> Survey:
    return db.session.execute(select(Survey).order_by(Survey.id).limit(1)).scalar_one()


def contacts_with_role(role: RecipientRole) -> list[Contact]:
    return list(
        db.session.execute(
            select(Contact).where(Contact.roles.any(RecipientRole.id == role.id)).order_by(Contact.name)
        ).scalars()
    )


def contacts_by_ids(contact_ids: Iterable[int]) -> list[Contact]:
    """The current tenant's contacts among ``contact_ids``, by name; ids of other tenants are simply absent."""
    ids = {int(i) for i in contact_ids or ()}
    if not ids:
        return []
    return list(
        db.session.execute(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.name, Contact.id)).scalars()
    )


def contacts_to_choose(q: str | None = None, limit: int = 200) -> list[Contact]:
    """Contacts for the send form's checkbox list: the first ``limit`` by name, optionally filtered by name or email."""
    statement = select(Contact).order_by(Contact.name, Contact.id).limit(limit)
    q = (q or "").strip()
    if q:
        statement = statement.where(
            or_(Contact.name.icontains(q, autoescape=True), Contact.email.icontains(q, autoescape=True))
        )
    return list(db.session.execute(statement).scalars())


def count_contacts() -> int:
    return db.session.execute(select(func.count(Contact.id))).scalar_one()


def roles_with_counts() -> list[tuple[RecipientRole, int]]:
    """The tenant's non-retired recipient roles by name, each with how many contacts hold it."""
    counts = dict(
        db.session.execute(
            select(contact_role.c.role_id, func.count(contact_role.c.contact_id))
            .join(RecipientRole, RecipientRole.id == contact_role.c.role_id)
            .group_by(contact_role.c.role_id)
        ).all()
    )
    roles = db.session.execute(
        select(RecipientRole).where(RecipientRole.retired_at.is_(None)).order_by(RecipientRole.name)
    ).scalars()
    return [(role, counts.get(role.id, 0)) for role in roles]


def invitation_subject(tenant: Tenant) -> str:
    return f"{tenant.name}: how likely are you to recommend us?"


def invitation_preview(tenant: Tenant, survey: Survey) -> dict:
    """Subject and plain-text body of the invitation email as a recipient would get it, with sample links."""
    from flask import render_template

    sample = SimpleNamespace(first_name="[First name]", name="[Name]")
    links = [(score, f"[personal link for score {score}]") for score in SCORES]
    text = render_template(
        "email/survey_invitation.txt", tenant=tenant, contact=sample, question=survey.question_for(tenant.name),
        links=links, open_link="[personal link]",
    )
    return {"subject": invitation_subject(tenant), "text": text}


def survey_link(token: str, score: int | None = None) -> str:
    params = {"token": token}
    if score is not None:
        params["score"] = score
    return absolute_url("survey_public.answer", **params)


def send_survey(*, tenant: Tenant, survey: Survey, contacts: Iterable[Contact], sent_by: User) -> int:
    """Create one invitation per contact and queue its email. Returns how many were sent."""
    question = survey.question_for(tenant.name)
    count = 0
    now = utcnow()
    for contact in contacts:
        token, token_hash = new_token()
        invitation = SurveyInvitation(
            survey_id=survey.id, contact_id=contact.id, token_hash=token_hash, sent_by_id=sent_by.id,
            expires_at=now + INVITATION_LIFETIME,
        )
        db.session.add(invitation)
        queue_email(
            kind="survey_invitation",
            to_address=contact.email,
            to_name=contact.name,
            subject=invitation_subject(tenant),
            template="survey_invitation",
            context={
                "tenant": tenant, "contact": contact, "question": question,
                "links": [(score, survey_link(token, score)) for score in SCORES],
                "open_link": survey_link(token),
            },
            reply_to=sent_by.email,
        )
        count += 1
    return count


def find_invitation(token: str) -> SurveyInvitation | None:
    """The invitation behind a survey link, looked up across tenants by the token's hash."""
    if not token or len(token) > 100:
        return None
    return db.session.execute(
        unscoped(
            select(SurveyInvitation)
            .where(SurveyInvitation.token_hash == hash_token(token))
            .options(selectinload(SurveyInvitation.survey), selectinload(SurveyInvitation.contact))
        )
    ).scalar_one_or_none()


def link_state(invitation: SurveyInvitation) -> str:
    """``open`` (may answer or amend) or ``expired``."""
    now = utcnow()
    response = invitation.response
    if response is not None:
        return "open" if response.amendable_until > now else "expired"
    return "open" if invitation.expires_at > now else "expired"


def record_answer(invitation: SurveyInvitation, score: int, comment: str | None = None) -> Response:
    """Record or amend the invitation's single response; open a ticket when the trigger rule says so.

    The invitation row is locked so that the score posted on page load and a quick submit
    cannot create two responses.
    """
    from app.tickets.services import note_score_change, open_ticket, ticket_for_response

    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES:
        raise ValueError(f"score must be an integer from 0 to 10, not {score!r}")
    db.session.execute(
        select(SurveyInvitation.id).where(SurveyInvitation.id == invitation.id).with_for_update()
    )
    db.session.refresh(invitation, attribute_names=["response"])
    if link_state(invitation) != "open":
        raise LinkExpired()
    survey = invitation.survey
    band = survey.band_for(score)
    response = invitation.response
    now = utcnow()
    if response is None:
        response = Response(
            survey_id=survey.id, invitation_id=invitation.id, contact_id=invitation.contact_id,
            score=score, band=band, comment=(comment or "").strip() or None, amendable_until=now + AMEND_WINDOW,
        )
        db.session.add(response)
        db.session.flush()
        previous_score = None
    else:
        previous_score = response.score
        response.score, response.band = score, band
        if comment is not None:
            response.comment = comment.strip() or None
        db.session.flush()
    ticket = ticket_for_response(response)
    if ticket is None and score <= survey.ticket_trigger_max:
        open_ticket(response)
    elif ticket is not None and previous_score is not None and previous_score != score:
        note_score_change(ticket, previous_score, score)
    return response
