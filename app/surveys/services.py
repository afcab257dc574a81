"""Sending surveys and recording answers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Iterable, Mapping

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app import audit, emailtemplates, notifications
from app.accounts.models import Tenant, User
from app.auth.services import unverified_founder
from app.contacts.models import Contact, RecipientRole, contact_role
from app.extensions import db
from app.rules import RuleError
from app.security import hash_token
from app.settings.services import get_settings
from app.surveys import sending
from app.surveys.models import (
    BAND_LABELS, QUESTION_KINDS, Response, ResponseAnswer, Survey, SurveyInvitation, SurveyQuestion, SurveySend,
)
from app.tenancy import unscoped
from app.timeutil import utcnow
from app.urls import absolute_url

INVITATION_LIFETIME = timedelta(days=30)
AMEND_WINDOW = timedelta(days=7)
SCORES = range(0, 11)


class LinkExpired(Exception):
    """The response can no longer be changed through this link."""


def send_blocked_reason(tenant: Tenant) -> str | None:
    """Why nothing may be sent on the organisation's behalf yet, in words; None when sending is allowed."""
    founder = unverified_founder(tenant.id)
    if founder is None:
        return None
    return (f"No survey is sent until {founder.name}, who created {tenant.name}, confirms their email address "
            f"({founder.email}) with the link we emailed. Surveys go out, and alerts follow, once it is confirmed.")


def require_verified_sender(tenant: Tenant) -> None:
    """Refuse, with :class:`~app.rules.RuleError`, to send anything on behalf of an organisation whose first admin has
    not confirmed their email address: whoever signs up with an address they do not read sends nothing."""
    reason = send_blocked_reason(tenant)
    if reason is not None:
        raise RuleError(reason)


def default_survey() -> Survey:
    return db.session.execute(select(Survey).order_by(Survey.id).limit(1)).scalar_one()


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


def survey_values(tenant: Tenant, survey: Survey) -> dict[str, str]:
    """The invitation's merge values that are the same for every recipient."""
    return {"organisation": tenant.name, "survey.question": survey.question_for(tenant.name)}


def contact_values(contact) -> dict[str, str]:
    """The invitation's merge values of one recipient."""
    return {"contact.first_name": contact.first_name, "contact.name": contact.name,
            "contact.account": contact.account.name if contact.account is not None else ""}


def invitation_preview(tenant: Tenant, survey: Survey, sent_by: User | None = None) -> dict:
    """Sender, subject and plain-text body of the invitation email as a recipient would get it from
    ``sent_by``, with sample links."""
    sample = SimpleNamespace(first_name="[First name]", name="[Name]", account=SimpleNamespace(name="[Account]"))
    values = survey_values(tenant, survey) | contact_values(sample) | {"survey.link": "[personal link]"}
    links = [(score, f"[personal link for score {score}]") for score in SCORES]
    rendered = emailtemplates.render("survey_invitation", values, score_links=links)
    from_name, reply_to = invitation_sender(tenant, sent_by)
    return {"subject": rendered.subject, "text": rendered.text, "from_name": from_name, "reply_to": reply_to}


def invitation_sender(tenant: Tenant, sent_by: User | None) -> tuple[str, str | None]:
    """``(display name, Reply-To)`` of a survey invitation: the sender name chosen in the settings or the
    organisation's name, and the reply-to address chosen there or else the person who sent it. The
    envelope From address is always the configured ``MAIL_SENDER_ADDRESS``."""
    settings = get_settings()
    return (settings.sender_name or tenant.name,
            settings.reply_to_address or (sent_by.email if sent_by is not None else None))


def survey_link(token: str, score: int | None = None) -> str:
    params = {"token": token}
    if score is not None:
        params["score"] = score
    return absolute_url("survey_public.answer", **params)


def recently_surveyed(contact_ids: list[int], days: int) -> set[int]:
    """Which of ``contact_ids`` were sent a survey within the last ``days`` days (one query)."""
    if days <= 0 or not contact_ids:
        return set()
    since = utcnow() - timedelta(days=days)
    return set(
        db.session.execute(
            select(SurveyInvitation.contact_id)
            .where(SurveyInvitation.contact_id.in_(contact_ids), SurveyInvitation.created_at >= since)
            .distinct()
        ).scalars()
    )


NAMES_SHOWN = 5


@dataclass
class SendPlan:
    """How many contacts a send would email and how many it would skip, and why, before anything is sent
    (counted in the database: a role may hold tens of thousands of contacts)."""

    recipient_count: int
    throttled_count: int
    throttled_names: list[str]  # the first few skipped, by name
    throttle_days: int

    @property
    def summary(self) -> str:
        """"This will email N contacts (M skipped: reasons)."""
        n = self.recipient_count
        text = f"This will email {n:,} contact{'' if n == 1 else 's'}"
        if self.throttled_count:
            more = self.throttled_count - len(self.throttled_names)
            names = ", ".join(self.throttled_names) + (f" and {more:,} more" if more > 0 else "")
            text += f" ({self.throttled_count:,} skipped: surveyed in the last {self.throttle_days} days — {names})"
        return text + "."

    @property
    def starting(self) -> str:
        """What a send that has just started will do, without names (it is flashed, and so rides in the
        session cookie): "Sending the survey to N contacts; M skipped: surveyed in the last D days."."""
        n, skipped = self.recipient_count, self.throttled_count
        text = f"Sending the survey to {n:,} contact{'' if n == 1 else 's'}"
        if skipped:
            text += (f"; {skipped:,} contact{' is' if skipped == 1 else 's are'} skipped because "
                     f"{'it was' if skipped == 1 else 'they were'} surveyed in the last {self.throttle_days} days")
        return text + "."


def plan_send(contacts: Iterable[Contact]) -> SendPlan:
    """The plan of a send to chosen ``contacts``: who it would email and who it skips for the throttle window."""
    contacts = list(contacts)
    days = get_settings().survey_throttle_days
    skip = recently_surveyed([c.id for c in contacts], days)
    throttled = sorted((c for c in contacts if c.id in skip), key=lambda c: c.name)
    return SendPlan(recipient_count=len(contacts) - len(throttled), throttled_count=len(throttled),
                    throttled_names=[c.name for c in throttled[:NAMES_SHOWN]], throttle_days=days)


def plan_role_send(role: RecipientRole) -> SendPlan:
    """The plan of a send to everyone holding ``role``, counted in the database in three statements whatever
    the role's size."""
    days = get_settings().survey_throttle_days
    holders = Contact.roles.any(RecipientRole.id == role.id)
    total = db.session.execute(select(func.count(Contact.id)).where(holders)).scalar_one()
    throttled_count, names = 0, []
    if days > 0 and total:
        recent = Contact.id.in_(select(SurveyInvitation.contact_id).where(
            SurveyInvitation.created_at >= utcnow() - timedelta(days=days)))
        throttled_count = db.session.execute(select(func.count(Contact.id)).where(holders, recent)).scalar_one()
        if throttled_count:
            names = list(db.session.execute(select(Contact.name).where(holders, recent)
                                            .order_by(Contact.name, Contact.id).limit(NAMES_SHOWN)).scalars())
    return SendPlan(recipient_count=total - throttled_count, throttled_count=throttled_count,
                    throttled_names=names, throttle_days=days)


def send_survey(*, tenant: Tenant, survey: Survey, sent_by: User, contacts: Iterable[Contact] | None = None,
                role: RecipientRole | None = None, total: int | None = None) -> SurveySend:
    """Start sending ``survey`` to ``contacts``, or to everyone holding ``role`` (``total`` of them expected): the
    send is recorded now and its job, handed to the worker after commit, invites each contact once and queues
    their email, skipping contacts surveyed within the organisation's throttle window (see
    :mod:`app.surveys.sending`). Raises :class:`~app.rules.RuleError` until the organisation may send."""
    require_verified_sender(tenant)
    if role is not None:
        return sending.start_send(survey=survey, sent_by=sent_by, role=role, total=total or 0)
    contact_ids = sorted({contact.id for contact in contacts or ()})
    return sending.start_send(survey=survey, sent_by=sent_by, contact_ids=contact_ids, total=len(contact_ids))


def find_invitation(token: str) -> SurveyInvitation | None:
    """The invitation behind a survey link, looked up across tenants by the token's hash.

    One statement loads it with its survey, contact, response and tenant (held by the invitation, so that
    ``db.session.get(Tenant, …)`` finds the tenant in the session without another query).
    """
    if not token or len(token) > 100:
        return None
    return db.session.execute(
        unscoped(
            select(SurveyInvitation)
            .where(SurveyInvitation.token_hash == hash_token(token))
            .options(joinedload(SurveyInvitation.survey), joinedload(SurveyInvitation.contact),
                     joinedload(SurveyInvitation.response), joinedload(SurveyInvitation.tenant))
        )
    ).scalar_one_or_none()


def link_state(invitation: SurveyInvitation) -> str:
    """``open`` (may answer or amend) or ``expired``."""
    now = utcnow()
    response = invitation.response
    if response is not None:
        return "open" if response.amendable_until > now else "expired"
    return "open" if invitation.expires_at > now else "expired"


def record_answer(invitation: SurveyInvitation, score: int, comment: str | None = None,
                  answers: Mapping[int, str] | None = None) -> Response:
    """Record or amend the invitation's single response; open a ticket when the trigger rule says so.

    ``answers`` are the extra questions' answers by question id (``None`` leaves stored answers alone,
    as the score posted on page load does). A ticket opens when the score is at or below the survey's
    ticket trigger, or when a trigger question shown to the score's band was answered No; a response
    never has more than one ticket.

    The invitation row is locked so that the score posted on page load and a quick submit
    cannot create two responses.
    """
    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES:
        raise ValueError(f"score must be an integer from 0 to 10, not {score!r}")
    # One statement locks the invitation and reads its response after the lock, so a response another request
    # committed meanwhile is seen and amended.
    set_committed_value(invitation, "response", db.session.execute(
        select(Response).select_from(SurveyInvitation)
        .outerjoin(Response, Response.invitation_id == SurveyInvitation.id)
        .where(SurveyInvitation.id == invitation.id)
        .with_for_update(of=SurveyInvitation).execution_options(populate_existing=True)
    ).scalar_one_or_none())
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
        notifications.announce("response.created", response=response)
        previous_score = None
        created = True
    else:
        created = False
        previous_score = response.score
        response.score, response.band = score, band
        if comment is not None:
            response.comment = comment.strip() or None
        db.session.flush()
    # A new response has no stored answers to match, so without answers there is nothing to write.
    if answers is not None and (answers or not created):
        store_answers(response, survey, band, answers)
    apply_trigger_rule(response, survey, created=created, previous_score=previous_score)
    return response


def apply_trigger_rule(response: Response, survey: Survey, *, created: bool, previous_score: int | None):
    """Open the response's ticket when the trigger rule says so (see :func:`apply_trigger_rules`, a batch of
    one). Returns the ticket opened, or None."""
    return apply_trigger_rules(survey, [(response, created, previous_score)])[0]


def apply_trigger_rules(survey: Survey, answered: list[tuple[Response, bool, int | None]]) -> list:
    """Open the tickets the trigger rule asks for, or note a changed score on the ticket a response has: the one
    path from answers to tickets, for a hosted answer (a batch of one) and a burst of answers collected
    elsewhere (:mod:`app.ingestion.answers`) alike. ``answered`` holds ``(response, created, previous score)``
    triples; returns, in their order, the ticket each opened, or None.

    A ticket opens when the score is at or below the survey's ticket trigger, or when a trigger question shown
    to the score's band was answered No; a response never has more than one ticket. The tickets open together
    (:func:`app.tickets.services.open_tickets`), in a fixed number of statements.
    """
    from app.tickets.services import Opening, note_score_change, open_tickets, tickets_for_responses

    existing = tickets_for_responses([response for response, created, _ in answered if not created])
    unscored = [response for response, _, _ in answered
                if response.id not in existing and response.score > survey.ticket_trigger_max]
    declined = _declined_trigger_questions(unscored)
    openings, positions = [], []
    for position, (response, _created, previous_score) in enumerate(answered):
        ticket = existing.get(response.id)
        if ticket is not None:
            if previous_score is not None and previous_score != response.score:
                note_score_change(ticket, previous_score, response.score)
        elif response.score <= survey.ticket_trigger_max:
            openings.append(Opening(response))
            positions.append(position)
        elif (question := declined.get(response.id)) is not None:
            openings.append(Opening(response, trigger="question", question=question))
            positions.append(position)
    opened: list = [None] * len(answered)
    for position, ticket in zip(positions, open_tickets(openings)):
        opened[position] = ticket
    return opened


BANDS = ("detractor", "passive", "promoter")
SCORING_FIELDS = ["detractor_max", "passive_max", "ticket_trigger_max"]
TEXT_LABELS = {
    "question": "question",
    "followup_detractor": "detractor follow-up question",
    "followup_passive": "passive follow-up question",
    "followup_promoter": "promoter follow-up question",
    "thanks_detractor": "detractor thank-you text",
    "thanks_passive": "passive thank-you text",
    "thanks_promoter": "promoter thank-you text",
}
QUESTION_FIELDS = ["kind", "prompt", "bands", "opens_ticket_on_no", "position"]
MERGE_FIELD = re.compile(r"\{([^{}]*)\}")
ALLOWED_MERGE_FIELDS = ("organisation",)
ANSWER_MAX = 1000
YES_NO = {"yes": "Yes", "no": "No"}


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}–{high}"


def band_ranges(detractor_max: int, passive_max: int) -> dict[str, str]:
    """The scores of each band as the settings pages write them, e.g. ``{"detractor": "0–6", …}``."""
    return {"detractor": _span(0, detractor_max), "passive": _span(detractor_max + 1, passive_max),
            "promoter": _span(passive_max + 1, 10)}


def band_summary(detractor_max: int, passive_max: int, ticket_trigger_max: int) -> str:
    """One line for people: "0–6 Detractor · 7–8 Passive · 9–10 Promoter; a ticket opens for scores 0–6"."""
    ranges = band_ranges(detractor_max, passive_max)
    bands = " · ".join(f"{ranges[band]} {BAND_LABELS[band]}" for band in BANDS)
    if ticket_trigger_max == 0:
        trigger = "a ticket opens for a score of 0"
    else:
        trigger = f"a ticket opens for scores {_span(0, ticket_trigger_max)}"
    return f"{bands}; {trigger}"


def scoring_errors(detractor_max: int, passive_max: int, ticket_trigger_max: int) -> dict[str, str]:
    """The scoring rules 0 ≤ detractor max < passive max < 10 and 0 ≤ trigger ≤ 10, as messages by field."""
    errors = {}
    if detractor_max < 0:
        errors["detractor_max"] = "Detractor max cannot be below 0."
    elif detractor_max >= passive_max:
        errors["detractor_max"] = f"Detractor max must be below the passive max ({passive_max})."
    if passive_max > 9:
        errors["passive_max"] = "Passive max must be 9 or lower, so that a 10 is always a promoter."
    elif passive_max < 1:
        errors["passive_max"] = "Passive max must be at least 1, above the detractor max."
    if not 0 <= ticket_trigger_max <= 10:
        errors["ticket_trigger_max"] = "The ticket trigger must be a score from 0 to 10."
    return errors


def update_scoring(survey: Survey, *, detractor_max: int, passive_max: int, ticket_trigger_max: int) -> bool:
    """Change the score bands and the ticket trigger, with an audit entry. Returns whether anything changed.

    Responses already recorded keep the band they were given; new and amended ones use the new bounds.
    """
    errors = scoring_errors(detractor_max, passive_max, ticket_trigger_max)
    if errors:
        raise RuleError.on_fields(errors)
    before = audit.snapshot(survey, SCORING_FIELDS)
    survey.detractor_max, survey.passive_max = detractor_max, passive_max
    survey.ticket_trigger_max = ticket_trigger_max
    changes = audit.diff(before, audit.snapshot(survey, SCORING_FIELDS))
    audit.record("scoring", f"Scoring changed: {band_summary(detractor_max, passive_max, ticket_trigger_max)}",
                 changes)
    return bool(changes)


def merge_error(text: str | None) -> str | None:
    """Why ``text`` cannot be used, if it names a merge field other than ``{organisation}``."""
    unknown = []
    for name in MERGE_FIELD.findall(text or ""):
        if name not in ALLOWED_MERGE_FIELDS and f"{{{name}}}" not in unknown:
            unknown.append(f"{{{name}}}")
    if not unknown:
        return None
    verb = "is not a merge field" if len(unknown) == 1 else "are not merge fields"
    return f"Only {{organisation}} can be merged into survey texts: {', '.join(unknown)} {verb} here."


def personalise(text: str | None, organisation: str) -> str:
    """A survey text as the respondent reads it: ``{organisation}`` replaced by the organisation's name."""
    return (text or "").replace("{organisation}", organisation)


def text_errors(texts: Mapping[str, str | None]) -> dict[str, str]:
    errors = {}
    for name, value in texts.items():
        if not (value or "").strip():
            errors[name] = f"Write the {TEXT_LABELS[name]}."
        elif (message := merge_error(value)) is not None:
            errors[name] = message
    return errors


def update_survey_texts(survey: Survey, texts: Mapping[str, str]) -> bool:
    """Change the question, follow-up questions and thank-you texts, with an audit entry (before → after)."""
    unknown = set(texts) - set(TEXT_LABELS)
    if unknown:
        raise ValueError(f"not survey texts: {sorted(unknown)}")
    errors = text_errors(texts)
    if errors:
        raise RuleError.on_fields(errors)
    fields = list(texts)
    before = audit.snapshot(survey, fields)
    for name, value in texts.items():
        setattr(survey, name, value.strip())
    changes = audit.diff(before, audit.snapshot(survey, fields))
    if changes:
        summary = "Survey content changed: " + ", ".join(TEXT_LABELS[name] for name in fields if name in changes)
        audit.record("survey_content", summary[:300], changes)
    return bool(changes)


def survey_questions(survey: Survey) -> tuple[list[SurveyQuestion], list[SurveyQuestion]]:
    """The survey's extra questions in order: (in use, retired)."""
    rows = db.session.execute(
        select(SurveyQuestion).where(SurveyQuestion.survey_id == survey.id)
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    ).scalars().all()
    return [q for q in rows if q.retired_at is None], [q for q in rows if q.retired_at is not None]


def questions_for_band(survey: Survey, band: str | None) -> list[SurveyQuestion]:
    """The extra questions in use that are shown to respondents of ``band``, in order."""
    if band is None:
        return []
    return [q for q in survey_questions(survey)[0] if band in (q.bands or [])]


def answer_counts(question_ids: Iterable[int]) -> dict[int, int]:
    """How many responses answered each question, in one grouped query."""
    ids = list(question_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(ResponseAnswer.question_id, func.count(ResponseAnswer.id))
        .where(ResponseAnswer.question_id.in_(ids)).group_by(ResponseAnswer.question_id)
    ).all())


def question_errors(*, kind: str, prompt: str | None, bands: Iterable[str], opens_ticket_on_no: bool,
                    question: SurveyQuestion | None = None) -> dict[str, str]:
    """The rules of an extra question, as messages by form field."""
    errors = {}
    if kind not in QUESTION_KINDS:
        errors["kind"] = "Choose whether the question is answered yes / no or with a short text."
    elif question is not None and kind != question.kind and answer_counts([question.id]):
        errors["kind"] = ("This question already has answers, so its kind cannot change. "
                          "Retire it and add a new question instead.")
    if not (prompt or "").strip():
        errors["prompt"] = "Write the question."
    elif (message := merge_error(prompt)) is not None:
        errors["prompt"] = message
    if not [band for band in BANDS if band in set(bands or ())]:
        errors["bands"] = "Choose at least one band to show the question to."
    if opens_ticket_on_no and kind != "yes_no":
        errors["opens_ticket_on_no"] = "Only a yes / no question can open a ticket when the answer is No."
    return errors


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _question_values(kind: str, prompt: str, bands: Iterable[str], opens_ticket_on_no: bool) -> dict:
    chosen = set(bands)
    return {"kind": kind, "prompt": prompt.strip(), "bands": [band for band in BANDS if band in chosen],
            "opens_ticket_on_no": bool(opens_ticket_on_no) and kind == "yes_no"}


def add_question(survey: Survey, *, kind: str, prompt: str, bands: Iterable[str],
                 opens_ticket_on_no: bool = False) -> SurveyQuestion:
    """Add an extra question after the others, with an audit entry."""
    bands = list(bands)
    errors = question_errors(kind=kind, prompt=prompt, bands=bands, opens_ticket_on_no=opens_ticket_on_no)
    if errors:
        raise RuleError.on_fields(errors)
    last = db.session.execute(
        select(func.max(SurveyQuestion.position)).where(SurveyQuestion.survey_id == survey.id)
    ).scalar_one()
    question = SurveyQuestion(survey_id=survey.id, position=(last or 0) + 1,
                              **_question_values(kind, prompt, bands, opens_ticket_on_no))
    db.session.add(question)
    db.session.flush()
    audit.record("survey_content", f"Extra question added: “{_short(question.prompt)}”",
                 audit.diff({}, audit.snapshot(question, QUESTION_FIELDS)))
    return question


def edit_question(question: SurveyQuestion, *, kind: str, prompt: str, bands: Iterable[str],
                  opens_ticket_on_no: bool = False) -> bool:
    """Change an extra question, with an audit entry (before → after). Returns whether anything changed."""
    bands = list(bands)
    errors = question_errors(kind=kind, prompt=prompt, bands=bands, opens_ticket_on_no=opens_ticket_on_no,
                             question=question)
    if errors:
        raise RuleError.on_fields(errors)
    before = audit.snapshot(question, QUESTION_FIELDS)
    for name, value in _question_values(kind, prompt, bands, opens_ticket_on_no).items():
        setattr(question, name, value)
    changes = audit.diff(before, audit.snapshot(question, QUESTION_FIELDS))
    audit.record("survey_content", f"Extra question changed: “{_short(question.prompt)}”", changes)
    return bool(changes)


def move_question(question: SurveyQuestion, direction: str) -> bool:
    """Swap an extra question in use with its neighbour above (``up``) or below (``down``).

    Positions of the questions in use are renumbered 1…n first, so earlier gaps or ties never block a move.
    Returns whether the question moved (the first cannot go up, the last cannot go down).
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be up or down, not {direction!r}")
    active = db.session.execute(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == question.survey_id, SurveyQuestion.retired_at.is_(None))
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    ).scalars().all()
    if question not in active:
        return False
    index = active.index(question)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(active):
        return False
    for number, row in enumerate(active, start=1):
        row.position = number
    before = question.position
    active[index].position, active[other].position = active[other].position, active[index].position
    audit.record("survey_content", f"Extra question moved {direction}: “{_short(question.prompt)}”",
                 {"position": [before, question.position]})
    return True


def retire_question(question: SurveyQuestion) -> bool:
    """Stop showing an extra question; its answers stay. Returns whether it was in use."""
    if question.retired_at is not None:
        return False
    question.retired_at = utcnow()
    audit.record("survey_content", f"Extra question retired: “{_short(question.prompt)}”",
                 {"retired": [False, True]})
    return True


def restore_question(question: SurveyQuestion) -> bool:
    """Show a retired extra question again, after the questions in use."""
    if question.retired_at is None:
        return False
    last = db.session.execute(
        select(func.max(SurveyQuestion.position))
        .where(SurveyQuestion.survey_id == question.survey_id, SurveyQuestion.retired_at.is_(None))
    ).scalar_one()
    question.retired_at, question.position = None, (last or 0) + 1
    audit.record("survey_content", f"Extra question brought back: “{_short(question.prompt)}”",
                 {"retired": [True, False]})
    return True


def delete_question(question: SurveyQuestion) -> None:
    """Remove an extra question nobody has answered (answered ones can only be retired)."""
    if answer_counts([question.id]):
        raise RuleError("This question has answers, so it can only be retired.", "question")
    audit.record("survey_content", f"Extra question deleted: “{_short(question.prompt)}”",
                 audit.diff(audit.snapshot(question, QUESTION_FIELDS), {}))
    db.session.delete(question)


def stored_answers(response: Response | None) -> dict[int, str]:
    """The response's extra answers by question id."""
    if response is None or response.id is None:
        return {}
    return dict(db.session.execute(
        select(ResponseAnswer.question_id, ResponseAnswer.value).where(ResponseAnswer.response_id == response.id)
    ).all())


def answered_questions(response: Response) -> list[tuple[SurveyQuestion, str]]:
    """The response's extra answers with their questions, in the survey's order, for the thank-you page."""
    rows = db.session.execute(
        select(SurveyQuestion, ResponseAnswer.value)
        .join(ResponseAnswer, ResponseAnswer.question_id == SurveyQuestion.id)
        .where(ResponseAnswer.response_id == response.id)
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    ).all()
    return [(question, YES_NO.get(value, value) if question.kind == "yes_no" else value) for question, value in rows]


def clean_answer(question: SurveyQuestion, raw: str | None) -> str:
    """A posted answer as stored: ``yes``/``no`` for yes/no questions, trimmed text otherwise; "" for none.

    Raises ``ValueError`` with a message for the respondent when the answer cannot be used.
    """
    value = (raw or "").strip()
    if question.kind == "yes_no":
        if value.lower() not in ("", *YES_NO):
            raise ValueError("Choose Yes or No.")
        return value.lower()
    if len(value) > ANSWER_MAX:
        raise ValueError(f"Please keep this answer under {ANSWER_MAX:,} characters.")
    return value


def store_answers(response: Response, survey: Survey, band: str, answers: Mapping[int, str]) -> None:
    """Make the stored answers match what the respondent sent: one row per answered question of the band.

    Answers to questions in use but not shown to the band (the score changed) are removed; answers to
    retired questions are kept.
    """
    existing = {answer.question_id: answer for answer in db.session.execute(
        select(ResponseAnswer).where(ResponseAnswer.response_id == response.id)
    ).scalars()}
    for question in survey_questions(survey)[0]:
        value = ""
        if band in (question.bands or []):
            try:
                value = clean_answer(question, answers.get(question.id))
            except ValueError:
                value = ""
        current = existing.get(question.id)
        if value and current is None:
            db.session.add(ResponseAnswer(response_id=response.id, question_id=question.id, value=value))
        elif value:
            current.value = value
        elif current is not None:
            db.session.delete(current)
    db.session.flush()


def _declined_trigger_questions(responses: list[Response]) -> dict[int, SurveyQuestion]:
    """For each of ``responses`` that answered No to a trigger question in use shown to its band, the first such
    question (in the survey's order), by response id; one query for all of them."""
    if not responses:
        return {}
    bands = {response.id: response.band for response in responses}
    found: dict[int, SurveyQuestion] = {}
    for response_id, question in db.session.execute(
        select(ResponseAnswer.response_id, SurveyQuestion)
        .join(ResponseAnswer, ResponseAnswer.question_id == SurveyQuestion.id)
        .where(ResponseAnswer.response_id.in_(list(bands)), ResponseAnswer.value == "no",
               SurveyQuestion.kind == "yes_no", SurveyQuestion.opens_ticket_on_no.is_(True),
               SurveyQuestion.retired_at.is_(None))
        .order_by(SurveyQuestion.position, SurveyQuestion.id)
    ).all():
        if response_id not in found and bands[response_id] in (question.bands or []):
            found[response_id] = question
    return found
