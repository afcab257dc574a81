"""The notice sweep: at-risk and breach notices, reminders and overdue items reach the right people once,
late but once after an outage, never for a closed ticket or a cancelled notice, and never twice when two
sweeps race. Jobs run on the real Redis and mail lands in the real SMTP sink."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func, select

from app.accounts.models import User
from app.extensions import db
from app.jobs import sweep as sweep_job
from app.settings.models import EmailTemplate, RootCause
from app.tenancy import tenant_context, unscoped
from app.tickets import services
from app.tickets.models import Activity, Ticket
from app.timeutil import utcnow
from app.notifications import sweep as due_notices
from app.notifications import sweep_due
from app.workflow import notices
from app.workflow.models import ActionPlanItem, ScheduledNotice, Task
from tests.smtp_sink import body_html, body_text
from tests.support.data import add_member, login, run_jobs
from tests.support.html import text
from tests.support.tickets import count_queries, open_ticket, squash, ticket_url, timeline_html, with_ticket
from tests.support.workflow import MONDAY_9AM, notices_of, set_sla

ALEX, MIA, ADA = "alex@acme.example", "mia@acme.example", "admin@acme-billing.example"
SLA = ("first_contact_at_risk", "first_contact_breached", "resolution_at_risk", "resolution_breached")


def run_sweep(app) -> dict:
    """One sweep as the worker runs it, then every job it queued (real Redis, real SMTP)."""
    with app.app_context():
        result = sweep_job()
    run_jobs(app)
    return result


def sla_mail(smtp_sink, address: str) -> Counter:
    """How many SLA notices of each kind ``address`` received."""
    return Counter(m["X-Turnaround-Kind"] for m in smtp_sink.to(address) if m["X-Turnaround-Kind"] in SLA)


def calendar_hours(app, org, **values):
    set_sla(app, org["tenant_id"], business_hours_only=False, first_contact_target=1,
            first_contact_breach=2, resolution_target=14, **values)


def test_at_risk_and_breach_notices_reach_the_assignee_and_the_lists_once_each(app, org, clock, smtp_sink):
    calendar_hours(app, org)
    ticket_id = open_ticket(app, org)
    run_sweep(app)
    assert all(not sla_mail(smtp_sink, a) for a in (ALEX, MIA, ADA))

    clock.shift(timedelta(hours=18))
    assert run_sweep(app)["notices"] >= 1
    for address in (ALEX, MIA, ADA):  # the assignee, and the Managers list (managers and admins)
        assert sla_mail(smtp_sink, address) == Counter({"first_contact_at_risk": 1})
    assert not sla_mail(smtp_sink, "val@acme.example")
    message = next(m for m in smtp_sink.to(ALEX) if m["X-Turnaround-Kind"] == "first_contact_at_risk")
    assert message["Subject"] == "First contact at risk: D-0001 due Tue 04 Mar, 09:00 EST"
    text = body_text(message)
    assert "Nobody has called or emailed the customer on D-0001 yet. First contact is due Tue 04 Mar, 09:00 EST " \
           "(in 6 h)." in text
    assert "Assigned to: Alex Agent" in text and f"http://localhost/t/{org['slug']}/tickets/{ticket_id}" in text
    assert "Casey Client" in text and "The invoice was wrong twice" in text  # not a PHI-safe organisation

    clock.shift(timedelta(minutes=30))
    run_sweep(app)
    assert sla_mail(smtp_sink, ALEX) == Counter({"first_contact_at_risk": 1})

    clock.shift(timedelta(hours=30))
    run_sweep(app)
    for address in (ALEX, MIA, ADA):
        assert sla_mail(smtp_sink, address) == Counter({"first_contact_at_risk": 1, "first_contact_breached": 1})
    breach = next(m for m in smtp_sink.to(MIA) if m["X-Turnaround-Kind"] == "first_contact_breached")
    assert breach["Subject"] == "First contact SLA breached: D-0001"
    assert "the first-contact SLA was breached at Wed 05 Mar, 09:00 EST." in body_text(breach)
    sent = notices_of(app, org["tenant_id"], ticket_id)
    assert sent["first_contact_breached"]["sent_at"] == MONDAY_9AM + timedelta(hours=48, minutes=30)
    assert sent["resolution_at_risk"]["sent_at"] is None


def test_notices_missed_while_the_worker_was_down_go_out_late_and_once(app, org, clock, smtp_sink):
    calendar_hours(app, org)
    open_ticket(app, org)
    clock.shift(timedelta(days=30))
    run_sweep(app)
    run_sweep(app)
    expected = Counter(dict.fromkeys(SLA, 1))
    for address in (ALEX, MIA, ADA):
        assert sla_mail(smtp_sink, address) == expected
    late = next(m for m in smtp_sink.to(ALEX) if m["X-Turnaround-Kind"] == "resolution_at_risk")
    assert "is still open and is due to be resolved by Mon 17 Mar, 10:00 EDT (16 days ago)." in body_text(late)


def test_first_contact_cancels_its_notices_and_the_resolution_ones_still_come(app, org, clock, smtp_sink):
    calendar_hours(app, org)
    ticket_id = open_ticket(app, org)
    clock.shift(timedelta(hours=1))
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.log_call(
        t, db.session.get(User, org["agent"]), called="Casey Client", outcome="no_answer", notes=None))
    clock.shift(timedelta(days=15))
    run_sweep(app)
    assert sla_mail(smtp_sink, ALEX) == Counter({"resolution_at_risk": 1, "resolution_breached": 1})


def test_closed_tickets_cancelled_notices_and_paused_clocks_send_nothing_until_reopened(app, org, clock, smtp_sink):
    calendar_hours(app, org)
    closed = open_ticket(app, org, "Casey Client")
    quietly_closed = open_ticket(app, org, "Dana Doe")
    paused = open_ticket(app, org, "Eli East")
    cancelled = open_ticket(app, org, "Fay Fox")

    def close_quietly(ticket):  # as if closed by a path that cancels nothing
        ticket.status, ticket.closed_at, ticket.outcome = "closed", utcnow(), "resolved"

    with_ticket(app, org["tenant_id"], closed, lambda t: _close(t, org))
    with_ticket(app, org["tenant_id"], quietly_closed, close_quietly)
    with_ticket(app, org["tenant_id"], paused, lambda t: (
        services.log_call(t, db.session.get(User, org["agent"]), called="Eli", outcome="connected", notes=None),
        services.move_status(t, db.session.get(User, org["agent"]), "waiting")))
    with app.app_context(), tenant_context(org["tenant_id"]):
        for kind in SLA:
            notices.cancel(f"ticket:{cancelled}:{kind}")
        db.session.commit()
        db.session.remove()

    clock.shift(timedelta(days=30))
    run_sweep(app)
    assert sla_mail(smtp_sink, ALEX) == Counter()
    dropped = notices_of(app, org["tenant_id"], quietly_closed)
    assert all(n["sent_at"] and n["cancelled_at"] for n in dropped.values())  # claimed, then dropped
    assert all(n["sent_at"] is None for n in notices_of(app, org["tenant_id"], cancelled).values())

    # Reopened, the ticket owes its (long overdue) notices again, and they go out once.
    with_ticket(app, org["tenant_id"], quietly_closed,
                lambda t: services.move_status(t, db.session.get(User, org["manager"]), "new"))
    owed = notices_of(app, org["tenant_id"], quietly_closed)
    assert all(n["sent_at"] is None and n["cancelled_at"] is None for n in owed.values())
    run_sweep(app)
    run_sweep(app)
    assert sla_mail(smtp_sink, ALEX) == Counter(dict.fromkeys(SLA, 1))


def _close(ticket, org):
    cause = db.session.execute(select(RootCause.id).limit(1)).scalar_one()
    services.close_ticket(ticket, db.session.get(User, org["manager"]), outcome="not_resolved",
                          note="Gone to a competitor.", root_cause_ids=[cause])


def test_phi_safe_alerts_carry_no_contact_details(app, org, clock, smtp_sink):
    calendar_hours(app, org, phi_safe_alerts=True)
    open_ticket(app, org, "Casey Client", 2, "My knee still hurts after therapy", phone="+1 555 0100",
                external_id="PT-1042", account="Lakeside Orthopedics")
    clock.shift(timedelta(days=30))
    run_sweep(app)
    mail = [m for m in smtp_sink.messages if m["X-Turnaround-Kind"] in SLA]
    assert len(mail) == 12
    for message in mail:
        whole = message["Subject"] + body_text(message) + body_html(message)
        for detail in ("Casey", "casey.client@client.example", "555 0100", "PT-1042", "knee", "Lakeside"):
            assert detail not in whole, (detail, message["Subject"])
        assert "D-0001" in whole and "no patient details because PHI-safe alerts are on" in body_text(message)


def test_a_breach_reassigns_the_ticket_when_the_organisation_says_so_and_the_timeline_shows_it(
        app, org, clock, smtp_sink, client):
    calendar_hours(app, org, breach_reassign_to_id=org["manager"])
    ticket_id = open_ticket(app, org)
    clock.shift(timedelta(hours=48))
    run_sweep(app)
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.get(Ticket, ticket_id).assignee_id == org["manager"]
        reassigned = db.session.execute(select(Activity).where(Activity.kind == "reassigned")).scalars().all()
        assert [(a.actor_id, a.details["previous"], a.details["assignee"]) for a in reassigned] == \
            [(None, "Alex Agent", "Mia Manager")]
        db.session.remove()
    for address in (ALEX, MIA, ADA):  # the new assignee, the one it was taken from, and the list
        assert sla_mail(smtp_sink, address)["first_contact_breached"] == 1
    breach = next(m for m in smtp_sink.to(ALEX) if m["X-Turnaround-Kind"] == "first_contact_breached")
    assert "moved the ticket from Alex Agent to Mia Manager" in body_text(breach)
    assert "Assigned to: Mia Manager" in body_text(breach)

    clock.shift(timedelta(days=20))
    run_sweep(app)  # the resolution breach: already with Mia, so no second reassignment
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(func.count()).where(Activity.kind == "reassigned")).scalar() == 1
        db.session.remove()
    login(client, app, org["agent"])
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "Turnaround reassigned the ticket from Alex Agent to Mia Manager." in text(timeline_html(page))


def test_a_breach_reassignment_also_reaches_the_lists_that_follow_reassignments(app, org, clock, smtp_sink):
    from app.settings.models import NotificationList

    calendar_hours(app, org, breach_reassign_to_id=org["manager"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add(NotificationList(name="Handovers", events=["ticket_reassigned"],
                                        addresses=["handovers@acme.example"]))
        db.session.commit()
        db.session.remove()
    open_ticket(app, org)
    clock.shift(timedelta(hours=48))
    run_sweep(app)
    run_sweep(app)
    (message,) = smtp_sink.to("handovers@acme.example")
    assert message["X-Turnaround-Kind"] == "first_contact_breached"
    assert "moved the ticket from Alex Agent to Mia Manager" in body_text(message)


def _task(app, org, ticket_id, *, title, owner, remind_at, done=False) -> int:
    with app.app_context(), tenant_context(org["tenant_id"]):
        task = Task(ticket_id=ticket_id, owner_id=owner, title=title, kind="custom", due_at=remind_at,
                    remind_at=remind_at, done_at=utcnow() if done else None)
        db.session.add(task)
        db.session.flush()
        notices.schedule(key=f"task:{task.id}:reminder", kind="task_reminder", due_at=remind_at, task_id=task.id)
        db.session.commit()
        task_id = task.id
        db.session.remove()
    return task_id


def test_a_task_reminder_goes_to_its_owner_in_the_organisations_wording_and_not_when_done(
        app, org, clock, smtp_sink):
    calendar_hours(app, org)
    ticket_id = open_ticket(app, org)
    remind = MONDAY_9AM + timedelta(hours=2)
    wanted = _task(app, org, ticket_id, title="Send the credit note", owner=org["manager"], remind_at=remind)
    _task(app, org, ticket_id, title="Already handled", owner=org["manager"], remind_at=remind, done=True)
    clock.shift(timedelta(hours=2))
    run_sweep(app)
    reminders = [m for m in smtp_sink.to(MIA) if m["X-Turnaround-Kind"] == "task_reminder"]
    assert [m["Subject"] for m in reminders] == ["Reminder: Send the credit note (D-0001)"]
    assert "This is your reminder: Send the credit note, due Mon 03 Mar, 11:00 EST." in body_text(reminders[0])
    assert body_text(reminders[0]).startswith("Hi Mia,")
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.get(Task, wanted).reminded_at == MONDAY_9AM + timedelta(hours=2)
        db.session.add(EmailTemplate(key="reminder", subject="Nudge: {task.title}",
                                     body="{recipient.first_name}, {task.title} is due {task.due}."))
        db.session.commit()
        db.session.remove()

    _task(app, org, ticket_id, title="Call the practice manager", owner=org["manager"],
          remind_at=MONDAY_9AM + timedelta(hours=3))
    clock.shift(timedelta(hours=1))
    run_sweep(app)
    own = [m for m in smtp_sink.to(MIA) if m["Subject"] == "Nudge: Call the practice manager"]
    assert len(own) == 1 and "Mia, Call the practice manager is due Mon 03 Mar, 12:00 EST." in body_text(own[0])


def test_an_overdue_item_goes_to_its_owner_or_for_a_team_to_the_tickets_assignee(app, org, clock, smtp_sink):
    calendar_hours(app, org)
    ticket_id = open_ticket(app, org)
    with app.app_context(), tenant_context(org["tenant_id"]):
        owned = ActionPlanItem(ticket_id=ticket_id, title="AR review", owner_id=org["manager"],
                               due_date=date(2025, 3, 4))
        teamed = ActionPlanItem(ticket_id=ticket_id, title="Coding review", owner_team="Coding team",
                                due_date=date(2025, 3, 4), position=1)
        done = ActionPlanItem(ticket_id=ticket_id, title="Enrollments review", owner_id=org["manager"],
                              due_date=date(2025, 3, 4), position=2, done_at=utcnow())
        db.session.add_all([owned, teamed, done])
        db.session.flush()
        for item in (owned, teamed, done):
            notices.schedule(key=f"item:{item.id}:overdue", kind="item_overdue",
                             due_at=MONDAY_9AM + timedelta(days=1, hours=10), item_id=item.id)
        db.session.commit()
        db.session.remove()
    clock.shift(timedelta(days=2))
    run_sweep(app)
    to_mia = [m for m in smtp_sink.to(MIA) if m["X-Turnaround-Kind"] == "item_overdue"]
    to_alex = [m for m in smtp_sink.to(ALEX) if m["X-Turnaround-Kind"] == "item_overdue"]
    assert [m["Subject"] for m in to_mia] == ["Action-plan item overdue: AR review (D-0001)"]
    assert [m["Subject"] for m in to_alex] == ["Action-plan item overdue: Coding review (D-0001)"]
    assert "“AR review” on D-0001 was due on Tue 04 Mar 2025 and is not done yet." in body_text(to_mia[0])
    assert "Item owner: Coding team (you get this as the ticket's assignee)" in body_text(to_alex[0])


def test_phi_safe_reminders_and_item_alerts_leave_the_contact_out_of_titles(app, org, clock, smtp_sink):
    calendar_hours(app, org, phi_safe_alerts=True)
    ticket_id = open_ticket(app, org, "Casey Client", external_id="PT-1042")
    soon = MONDAY_9AM + timedelta(hours=1)
    _task(app, org, ticket_id, title="Call Casey Client about PT-1042", owner=org["manager"], remind_at=soon)
    with app.app_context(), tenant_context(org["tenant_id"]):
        item = ActionPlanItem(ticket_id=ticket_id, title="Review casey client's denials", owner_id=org["manager"])
        db.session.add(item)
        db.session.flush()
        notices.schedule(key=f"item:{item.id}:overdue", kind="item_overdue", due_at=soon, item_id=item.id)
        db.session.commit()
        db.session.remove()
    clock.shift(timedelta(hours=2))
    run_sweep(app)
    mail = {m["X-Turnaround-Kind"]: m for m in smtp_sink.to(MIA)}
    reminder, overdue = mail["task_reminder"], mail["item_overdue"]
    assert reminder["Subject"] == "Reminder: Call the contact about the contact (D-0001)"
    assert overdue["Subject"] == "Action-plan item overdue: Review the contact's denials (D-0001)"
    for message in (reminder, overdue):
        whole = message["Subject"] + body_text(message) + body_html(message)
        assert "Casey" not in whole and "casey" not in whole and "PT-1042" not in whole


def test_processing_the_same_notices_twice_queues_each_email_once(app, org, clock):
    """Even a notice handled twice (two sweeps that both believed they held it) owes each email once."""
    calendar_hours(app, org)
    open_ticket(app, org)
    clock.shift(timedelta(hours=18))
    now = utcnow()
    with app.app_context():
        claimed = due_notices.claim(now, 100)
        assert [n.kind for n in claimed] == ["first_contact_at_risk"]
        first = due_notices.handle(claimed, now)
        second = due_notices.handle(claimed, now)
        db.session.commit()
        assert len(first) == 3 and second == {}
        assert due_notices.claim(now, 100) == []
        db.session.remove()


def test_two_sweeps_running_at_once_send_nothing_twice(app, org, other_org, clock, smtp_sink):
    calendar_hours(app, org)
    for i in range(3):
        open_ticket(app, org, f"Client {i}")
    add_member(app, other_org["tenant_id"], "manager", "Mo Manager", "mo@bayside.example")
    set_sla(app, other_org["tenant_id"], call_attempts=2, email_attempts=2)  # not the clinic's introduction only
    open_ticket(app, other_org, "Bay Client")
    clock.shift(timedelta(days=30))
    with app.app_context():
        due = db.session.execute(unscoped(select(func.count(ScheduledNotice.id)).where(
            ScheduledNotice.due_at <= utcnow(), ScheduledNotice.cancelled_at.is_(None)))).scalar()
        db.session.remove()

    start, handled, errors = threading.Barrier(2), [], []

    def sweeper():
        with app.app_context():
            try:
                start.wait()
                while True:  # small sweeps, so the two interleave claim after claim
                    count = sweep_due(limit=2)
                    if not count:
                        break
                    handled.append(count)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sum(handled) == due >= 4 * 4  # every due notice handled by exactly one of the two
    run_jobs(app)
    sla = [m for m in smtp_sink.messages if m["X-Turnaround-Kind"] in SLA]
    pairs = Counter((str(m["To"]), m["Subject"]) for m in sla)
    assert set(pairs.values()) == {1}
    assert len(pairs) == 3 * 4 * 3 + 1 * 4 * 3  # each ticket's assignee, its organisation's admin and manager
    with app.app_context():
        owed = db.session.execute(unscoped(select(func.count(ScheduledNotice.id)).where(
            ScheduledNotice.sent_at.is_(None), ScheduledNotice.cancelled_at.is_(None)))).scalar()
        assert owed == 0
        db.session.remove()


def test_the_sweep_runs_a_fixed_number_of_queries_however_many_notices_are_due(app, org, other_org, clock):
    calendar_hours(app, org)
    for i in range(2):
        open_ticket(app, org, f"Early {i}")
    clock.shift(timedelta(days=30))
    with count_queries(app) as few:
        with app.app_context():
            sweep_due()
            db.session.remove()

    for i in range(12):
        open_ticket(app, org, f"Later {i}")
    for i in range(3):
        open_ticket(app, other_org, f"Bay {i}")
    clock.shift(timedelta(days=30))
    with count_queries(app) as many:
        with app.app_context():
            handled = sweep_due()
            db.session.remove()
    assert handled >= 15 * 4
    assert len(few) == len(many), many
