"""The sweep (a batch across organisations) and the services (a batch of one) tell the same people the same
thing about the same occurrence: recipients, subject, text and HTML bodies and dedupe key, for every event,
in a normal and in a PHI-safe organisation."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select, update

from app.accounts.models import User
from app.extensions import db
from app.mail import OutboxMessage
from app.notifications import EVENTS, SLA_KINDS, notify
from app.notifications import sweep as due_notices
from app.notifications.batch import Batch, Occurrence
from app.settings.models import NotificationList, RootCause
from app.tenancy import tenant_context, unscoped
from app.tickets import services
from app.tickets.models import Activity, Ticket
from app.timeutil import utcnow
from app.workflow import notices
from app.workflow.models import ActionPlanItem, ScheduledNotice, Task
from tests.support.tickets import open_ticket
from tests.support.workflow import set_sla

PATIENT = {"name": "Zanzibar Quillfeather", "phone": "+1 555 0199 7731", "external_id": "MRN-884120",
           "account": "Quillfeather Household"}
COMMENT = "My left knee brace pinched terribly"
SCHEDULED = (*SLA_KINDS, "task_reminder", "item_overdue")
COLUMNS = (OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.to_name, OutboxMessage.from_name,
           OutboxMessage.reply_to, OutboxMessage.subject, OutboxMessage.text_body, OutboxMessage.html_body,
           OutboxMessage.dedupe_key, OutboxMessage.ticket_id)


def _prepare(app, org: dict, event: str, breach_target: int) -> dict:
    """A patient's ticket with a task, an action-plan item, a list that hears everything and, for the events
    that need one, the reassignment or closing that happened; no mail owed yet."""
    tenant_id = org["tenant_id"]
    # The same cadence in both (organisation B is a clinic, whose preset plans no call after the introduction).
    set_sla(app, tenant_id, business_hours_only=False, breach_reassign_to_id=breach_target, call_attempts=2,
            email_attempts=2)
    with app.app_context(), tenant_context(tenant_id):
        db.session.add(NotificationList(name="Everything", events=["ticket_opened", "sla_at_risk", "sla_breached",
                                                                    "ticket_reassigned", "ticket_closed"],
                                        member_ids=[org["agent"]], addresses=[f"watch@{org['slug']}.example"]))
        db.session.commit()
        db.session.remove()
    ticket_id = open_ticket(app, org, PATIENT["name"], 2, COMMENT, phone=PATIENT["phone"],
                            external_id=PATIENT["external_id"], account=PATIENT["account"])
    later = utcnow() + timedelta(days=1)
    subject = {"tenant_id": tenant_id, "ticket_id": ticket_id, "actor": breach_target, "activity_id": None,
               "previous": None}
    with app.app_context(), tenant_context(tenant_id):
        ticket, actor = db.session.get(Ticket, ticket_id), db.session.get(User, breach_target)
        task = Task(ticket_id=ticket_id, owner_id=org["agent"], kind="custom", due_at=later, remind_at=later,
                    title=f"Call {PATIENT['name']} about {PATIENT['external_id']}")
        item = ActionPlanItem(ticket_id=ticket_id, title=f"Review {PATIENT['name'].lower()}'s denials",
                              owner_team="Coding team", due_date=date(2025, 3, 4))
        db.session.add_all([task, item])
        db.session.flush()
        notices.schedule(key=f"task:{task.id}:reminder", kind="task_reminder", due_at=later, task_id=task.id)
        notices.schedule(key=f"item:{item.id}:overdue", kind="item_overdue", due_at=later, item_id=item.id)
        if event == "ticket_reassigned":
            subject["previous"] = ticket.assignee.name
            services.reassign(ticket, actor, actor)
        if event == "ticket_closed":
            cause = db.session.execute(select(RootCause.id).limit(1)).scalar_one()
            services.close_ticket(ticket, actor, outcome="not_resolved", note=f"Spoke with {PATIENT['name']}",
                                  root_cause_ids=[cause])
        db.session.flush()
        subject["activity_id"] = db.session.execute(
            select(Activity.id).where(Activity.ticket_id == ticket_id).order_by(Activity.id.desc()).limit(1)
        ).scalar_one()
        db.session.execute(delete(OutboxMessage))
        subject.update(task_id=task.id, item_id=item.id)
        db.session.commit()
        db.session.remove()
    return subject


def _notice_key(event: str, subject: dict) -> str:
    if event == "task_reminder":
        return f"task:{subject['task_id']}:reminder"
    if event == "item_overdue":
        return f"item:{subject['item_id']}:overdue"
    return f"ticket:{subject['ticket_id']}:{event}"


def _outbox(tenant_id: int) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(unscoped(
        select(*COLUMNS).where(OutboxMessage.tenant_id == tenant_id).order_by(OutboxMessage.id)))]


def _through_the_sweep(app, event: str, subjects: list[dict], tenant_id: int) -> list[tuple]:
    """The batch path: a scheduled notice claimed by the sweep, or (for the events services raise) the batch
    API the sweep runs, with one occurrence from each organisation in the same batch."""
    now = utcnow()
    with app.app_context():
        if event in SCHEDULED:
            db.session.execute(unscoped(update(ScheduledNotice).where(
                ScheduledNotice.key.in_([_notice_key(event, s) for s in subjects])).values(due_at=now)))
            claimed = due_notices.claim(now, 100)
            assert sorted(n.kind for n in claimed) == [event, event]
            due_notices.handle(claimed, now)
        else:
            Batch([Occurrence(
                event=event, tenant_id=s["tenant_id"], key=EVENTS[event].key(
                    ticket_id=s["ticket_id"], activity_id=s["activity_id"]),
                ticket_id=s["ticket_id"], actor=db.session.get(User, s["actor"]).name,
                previous_assignee=s["previous"]) for s in subjects], now).run()
        rows = _outbox(tenant_id)
        db.session.rollback()
        db.session.remove()
    return rows


def _through_the_service(app, event: str, subject: dict) -> list[tuple]:
    """The service path: :func:`app.notifications.notify` in the organisation's own transaction."""
    with app.app_context(), tenant_context(subject["tenant_id"]):
        about = {"ticket": db.session.get(Ticket, subject["ticket_id"])}
        if event == "task_reminder":
            about = {"task": db.session.get(Task, subject["task_id"])}
        if event == "item_overdue":
            about = {"item": db.session.get(ActionPlanItem, subject["item_id"])}
        notify(event, **about, activity=db.session.get(Activity, subject["activity_id"]),
               actor=db.session.get(User, subject["actor"]), previous_assignee=subject["previous"])
        rows = _outbox(subject["tenant_id"])
        db.session.rollback()
        db.session.remove()
    return rows


@pytest.mark.parametrize("phi_safe", [False, True], ids=["full", "phi_safe"])
@pytest.mark.parametrize("event", list(EVENTS))
def test_the_sweep_and_the_services_send_the_same_mail_for_the_same_occurrence(
        app, org, other_org, clock, event, phi_safe):
    mine = _prepare(app, org, event, breach_target=org["manager"])
    theirs = _prepare(app, other_org, event, breach_target=other_org["admin"])
    set_sla(app, org["tenant_id"], phi_safe_alerts=phi_safe)

    swept = _through_the_sweep(app, event, [mine, theirs], org["tenant_id"])
    served = _through_the_service(app, event, mine)

    assert swept, f"{event} sent nothing"
    assert served == swept
    if phi_safe and not EVENTS[event].to_contact:
        for row in swept:
            whole = " ".join(str(value) for value in row)
            for detail in ("Zanzibar", "Quillfeather", "zanzibar", "MRN-884120", "knee"):
                assert detail not in whole, (event, detail)
