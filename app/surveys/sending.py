"""Sending a survey to many contacts: a ``survey_send`` row, worked through by a job in fixed-size batches.

The request only records the send (:func:`start_send`) and hands :func:`run_send` to the worker after commit.
The job takes the recipients in contact-id order, :data:`BATCH_SIZE` at a time. One batch is one transaction
of a fixed number of statements, whatever its size: lock the send and read its place, read the batch's
contacts with whether each was surveyed within the throttle window, insert their invitations
(``ON CONFLICT (send_id, contact_id) DO NOTHING RETURNING``), write the outbox rows of the invitations just
inserted with the bulk outbox writer (one dedupe key per send and contact), and move the send's place and
counts forward. The email template is prepared once per run and merged per contact.

At most once, and nobody lost: a batch commits whole or not at all, so a job killed mid-way resumes after the
last committed batch; the unique (send, contact) invitation and the outbox dedupe key make a batch that is
somehow run twice write nothing the second time. The job holds the send under a lease it renews each
batch; :func:`sweep_sends` hands a send to the worker again when its job was lost (queued, and no job for it
in Redis) or its worker died (running past its lease).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, false, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from app.accounts.models import Tenant, User
from app.contacts.models import Contact, RecipientRole, contact_role
from app.emailtemplates import Prepared, prepare
from app.extensions import db
from app.jobs import JobSpec, enqueue_now, job, on_commit
from app.leased import lock_for_batch, lost_work, run_leased
from app.mail import enqueue_bulk_deliveries
from app.notifications.outbox import insert_outbox, row
from app.security import new_token
from app.settings.services import get_settings
from app.surveys.models import Survey, SurveyInvitation, SurveySend
from app.tenancy import scoped_by_hand
from app.timeutil import utcnow

BATCH_SIZE = 1000
# A batch takes well under a second; a send whose job has not renewed its lease for this long lost its worker.
LEASE = timedelta(minutes=2)
SEND_JOB = JobSpec(timeout=3600)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def send_summary(send: SurveySend) -> str:
    """What a send did, in words: how many it sent, how many it skipped and why. It may be flashed, and so ride in
    the session cookie: it names no contact."""
    parts = []
    if send.status == "failed":
        parts.append(f"The send stopped after queuing {_plural(send.queued, 'survey', 'surveys')}.")
    elif send.active:
        parts.append(f"Queued {send.queued:,} of {send.total:,}.")
    elif send.queued or not send.skipped_throttled:
        parts.append(f"Survey sent to {_plural(send.queued, 'contact', 'contacts')}.")
    else:
        parts.append("No survey was sent.")
    if send.skipped_throttled:
        n = send.skipped_throttled
        parts.append(f"{_plural(n, 'contact was', 'contacts were')} skipped because they were surveyed in the last "
                     f"{send.throttle_days} days.")
    return " ".join(parts)


def start_send(*, survey: Survey, sent_by: User, total: int, role: RecipientRole | None = None,
               contact_ids: list[int] | None = None) -> SurveySend:
    """Record a send of ``survey`` to everyone holding ``role``, or to ``contact_ids``, and hand its job to the
    worker once the current transaction commits. ``total`` is how many contacts it is expected to reach (the
    progress bar's length until the job has walked them all). The caller checks the sender may send."""
    if (role is None) == (contact_ids is None):
        raise ValueError("a send goes to a role or to a list of contacts")
    send = SurveySend(survey_id=survey.id, sent_by_id=sent_by.id, role_id=role.id if role else None,
                      contact_ids=sorted(set(contact_ids)) if contact_ids is not None else None, total=total,
                      queued=0, skipped_throttled=0, throttle_days=get_settings().survey_throttle_days,
                      last_contact_id=0, status="queued", enqueued_at=utcnow())
    db.session.add(send)
    db.session.flush()
    on_commit(_enqueue_sends, send.id)
    return send


def recent_sends(limit: int = 5) -> list[SurveySend]:
    """The organisation's latest sends, newest first."""
    return list(db.session.execute(
        select(SurveySend).order_by(SurveySend.created_at.desc(), SurveySend.id.desc()).limit(limit)
    ).scalars())


def _job_id(send_id: int) -> str:
    """One RQ job id per send: the sweep asks Redis whether that job is still waiting or running."""
    return f"{current_app.config['QUEUE_PREFIX']}-survey-send-{send_id}"


def _enqueue_sends(send_ids: list[int]) -> None:
    for send_id in send_ids:
        enqueue_now(run_send, send_id, job_id=_job_id(send_id))


@job(SEND_JOB)
def run_send(send_id: int, batch_size: int = BATCH_SIZE) -> str:
    """Work through a send, batch after batch, until every recipient has been invited or skipped.

    Returns ``done``, or ``skipped`` when another job holds the send or it is already finished.
    """
    return run_leased(SurveySend, send_id, lease=LEASE, prepare=_prepare_run,
                      step=lambda run: _run_batch(run, batch_size), what="Survey send")


_TOKEN_SLOT = "TOKENSLOT"


@dataclass
class _Run:
    """What every batch of one run needs, read once: plain values, so a commit expires nothing it uses."""

    send_id: int
    tenant_id: int
    survey_id: int
    values: dict[str, str]
    template: Prepared
    sender: tuple[str, str]
    reply_to: str | None
    link: str  # the survey link with _TOKEN_SLOT for the token
    score_links: list[tuple[int, str]]

    def render(self, contact: Contact, token: str):
        from app.surveys.services import contact_values

        values = self.values | contact_values(contact) | {"survey.link": self.link.replace(_TOKEN_SLOT, token)}
        links = [(score, link.replace(_TOKEN_SLOT, token)) for score, link in self.score_links]
        return self.template.render(values, score_links=links)


def _prepare_run(send_id: int, tenant_id: int) -> _Run:
    from app.surveys.services import SCORES, invitation_sender, survey_link, survey_values

    send = db.session.get(SurveySend, send_id)
    tenant = db.session.get(Tenant, tenant_id)
    survey = db.session.get(Survey, send.survey_id)
    sent_by = db.session.get(User, send.sent_by_id) if send.sent_by_id else None
    from_name, reply_to = invitation_sender(tenant, sent_by)
    return _Run(send_id=send_id, tenant_id=tenant_id, survey_id=survey.id, values=survey_values(tenant, survey),
                template=prepare("survey_invitation"), sender=(from_name, current_app.config["MAIL_SENDER_ADDRESS"]),
                reply_to=reply_to, link=survey_link(_TOKEN_SLOT),
                score_links=[(score, survey_link(_TOKEN_SLOT, score)) for score in SCORES])


def _recipients(send: SurveySend, batch_size: int):
    """The next ``batch_size`` recipients after the send's place, in id order, each with whether they were
    surveyed (by anything but this send) within the throttle window: one statement."""
    since = utcnow() - timedelta(days=send.throttle_days)
    recent = exists().where(
        SurveyInvitation.contact_id == Contact.id, SurveyInvitation.created_at >= since,
        or_(SurveyInvitation.send_id.is_(None), SurveyInvitation.send_id != send.id),
    )
    throttled = recent if send.throttle_days > 0 else false()
    statement = (select(Contact, throttled.label("throttled")).options(joinedload(Contact.account))
                 .where(Contact.id > send.last_contact_id).order_by(Contact.id).limit(batch_size))
    if send.role_id is not None:
        statement = statement.join(contact_role, contact_role.c.contact_id == Contact.id).where(
            contact_role.c.role_id == send.role_id)
    else:
        statement = statement.where(Contact.id.in_(send.contact_ids or []))
    return db.session.execute(statement).all()


def _run_batch(run: _Run, batch_size: int) -> bool:
    """Invite and queue the emails of the next batch, in one transaction; returns whether the send is done."""
    from app.surveys.services import INVITATION_LIFETIME

    send = lock_for_batch(SurveySend, run.send_id)
    if send.status != "running":
        db.session.rollback()
        return True
    batch = _recipients(send, batch_size)
    now = utcnow()
    tokens: dict[int, str] = {}
    invitations = []
    for contact, throttled in batch:
        if throttled:
            continue
        token, token_hash = new_token()
        tokens[contact.id] = token
        invitations.append({"tenant_id": run.tenant_id, "survey_id": run.survey_id, "contact_id": contact.id,
                            "token_hash": token_hash, "sent_by_id": send.sent_by_id, "send_id": send.id,
                            "created_at": now, "expires_at": now + INVITATION_LIFETIME})
    invited: set[int] = set()
    if invitations:
        table = SurveyInvitation.__table__
        dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
        # Executed with the rows as parameters, SQLAlchemy sends them as one multi-row INSERT per 1,000 rows
        # ("insertmanyvalues") from a statement compiled once, instead of compiling 1,000 VALUES each batch.
        invited = set(db.session.execute(scoped_by_hand(
            dialect.insert(table)
            .on_conflict_do_nothing(index_elements=["send_id", "contact_id"]).returning(table.c.contact_id)
        ), invitations).scalars())
    rows = []
    for contact, _ in batch:
        if contact.id in invited:
            rendered = run.render(contact, tokens[contact.id])
            rows.append(row(tenant_id=run.tenant_id, kind="survey_invitation",
                            occurrence_key=f"survey_send:{send.id}:contact:{contact.id}", address=contact.email,
                            name=contact.name, sender=run.sender, reply_to=run.reply_to, subject=rendered.subject,
                            text_body=rendered.text, html_body=rendered.html, ticket_id=None, now=now))
    message_ids = insert_outbox(rows, stream=True)
    done = len(batch) < batch_size
    skipped = sum(1 for _, throttled in batch if throttled)
    queued, skipped_throttled = send.queued + len(invited), send.skipped_throttled + skipped
    values = {"queued": queued, "skipped_throttled": skipped_throttled, "lease_until": now + LEASE,
              "total": max(send.total, queued + skipped_throttled)}
    if batch:
        values["last_contact_id"] = batch[-1][0].id
    if done:
        values.update(status="done", finished_at=now, lease_until=None, total=queued + skipped_throttled)
    db.session.execute(update(SurveySend).where(SurveySend.id == send.id).values(**values),
                       execution_options={"synchronize_session": False})
    for message_id in message_ids:
        on_commit(enqueue_bulk_deliveries, message_id)
    db.session.commit()
    db.session.expunge_all()  # a batch's contacts are not needed again: keep the session small
    return done


def sweep_sends(stale_after: int | None = None) -> int:
    """Hand sends whose job was lost back to the worker (see :func:`app.leased.lost_work`); returns how many.
    The job resumes after the last batch that committed."""
    lost = lost_work(SurveySend, _job_id, stale_after)
    _enqueue_sends(lost)
    return len(lost)
