"""Tasks: the outreach cadence's calls and emails, and the to-dos agents add for themselves.

The cadence (calls, emails, the gap between attempts) comes from the organisation's settings and is
copied onto a ticket as tasks when it opens, so later changes to the settings never move them.
Logging a call ticks the earliest open call task; logging an email sent to the contact ticks the
earliest open email task. When every planned attempt is logged without reaching the contact, the
ticket's cadence is complete (``Ticket.cadence_complete_at``).

A task with a reminder time owes a ``task_reminder`` notice keyed ``task:<id>:reminder``; finishing
the task cancels it. Sending the notices is the sweep's job, not this module's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.extensions import db
from app.rules import RuleError
from app.settings.models import WorkflowSettings
from app.settings.services import get_settings
from app.business_time import Calendar, Duration
from app.tickets import services as ticket_services
from app.tickets.models import Activity, Status, Ticket
from app.timeutil import localize, utcnow
from app.views import KeysetPage, keyset_page
from app.workflow import notices
from app.workflow.models import ActionPlanItem, ScheduledNotice, Task

CADENCE_KINDS = ("call", "email")
TASKS_PER_PAGE = 50
COUNT_CAP = 500


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cadence_steps(call_attempts: int, email_attempts: int) -> list[tuple[str, str]]:
    """The cadence as ``(kind, title)`` in order: the calls, then the personal emails.

    ``email_attempts`` counts the automatic introduction email, which is sent when the ticket opens
    and needs no task; every further attempt is a personal follow-up email.
    """
    steps = [("call", f"{ordinal(n)} call") for n in range(1, call_attempts + 1)]
    personal = max(email_attempts - 1, 0)
    steps += [("email", "Personal follow-up email" if n == 1 else f"{ordinal(n)} personal follow-up email")
              for n in range(1, personal + 1)]
    return steps


def reminder_key(task_id: int) -> str:
    return f"task:{task_id}:reminder"


def overdue_key(item_id: int) -> str:
    return f"item:{item_id}:overdue"


def _schedule_reminder(task: Task) -> None:
    if task.remind_at is not None and task.done_at is None:
        notices.schedule(key=reminder_key(task.id), kind="task_reminder", due_at=task.remind_at,
                         ticket_id=task.ticket_id, task_id=task.id)


def cancel_notices(keys: Iterable[str]) -> None:
    """Cancel the unsent notices among ``keys`` in one statement (however many there are)."""
    keys = list(keys)
    if not keys:
        return
    db.session.execute(
        update(ScheduledNotice)
        .where(ScheduledNotice.key.in_(keys), ScheduledNotice.sent_at.is_(None), ScheduledNotice.cancelled_at.is_(None))
        .values(cancelled_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def create_cadence_tasks(tickets: list[Ticket], settings: WorkflowSettings, clock: Calendar) -> list[Task]:
    """Give newly opened tickets their cadence tasks, owned by each ticket's assignee, each with a reminder when
    due: one INSERT of tasks and their reminders go with the tickets' other notices, however many tickets.

    The 1st call is due at the first-contact target; each later attempt one gap (``attempt_gap_hours``
    of SLA clock time, see :meth:`Duration.from_hours`) after the one before. A cadence with no attempt
    after the introduction gives no task (the ticket is opened with its cadence complete): nobody chases a
    contact who does not answer the introduction.
    """
    steps = cadence_steps(settings.call_attempts, settings.email_attempts)
    if not steps:
        return []
    tasks = []
    dues: dict = {}  # tickets opened together share their due times; the clock is asked once per start
    for ticket in tickets:
        start = ticket.first_contact_due_at or ticket.opened_at
        if start not in dues:
            due, times = start, []
            for step in range(1, len(steps) + 1):
                if step > 1:
                    due = clock.due(due, Duration.from_hours(settings.attempt_gap_hours))
                times.append(due)
            dues[start] = times
        tasks += [Task(ticket_id=ticket.id, owner_id=ticket.assignee_id, title=title, kind=kind, cadence_step=step,
                       due_at=due, remind_at=due)
                  for step, ((kind, title), due) in enumerate(zip(steps, dues[start]), start=1)]
    db.session.add_all(tasks)
    db.session.flush()
    for task in tasks:
        # New tasks: their reminder keys cannot exist yet.
        notices.add_new(key=reminder_key(task.id), kind="task_reminder", due_at=task.remind_at,
                        ticket_id=task.ticket_id, task_id=task.id)
    return tasks


def _open_cadence_tasks(ticket: Ticket, kind: str | None = None):
    statement = select(Task).where(Task.ticket_id == ticket.id, Task.cadence_step.is_not(None), Task.done_at.is_(None))
    if kind is not None:
        statement = statement.where(Task.kind == kind)
    return statement.order_by(Task.due_at, Task.cadence_step)


@dataclass(frozen=True)
class Outreach:
    """What has been logged on a ticket against its cadence."""

    calls: int
    emails: int
    reached: bool
    planned_calls: int
    planned_emails: int

    @property
    def exhausted(self) -> bool:
        return not self.reached and self.calls >= self.planned_calls and self.emails >= self.planned_emails


def outreach(activities: Iterable[Activity], tasks: Iterable[Task]) -> Outreach:
    """Count a ticket's logged calls and personal emails sent (the automatic introduction is not one; the
    closing follow-up is, as it ticks a personal follow-up email task) against its cadence tasks. A connected
    call or an email from the contact means they were reached. A ticket that planned no attempt is exhausted
    by the first one logged."""
    calls = emails = 0
    reached = False
    for activity in activities:
        details = activity.details or {}
        if activity.kind == "call":
            calls += 1
            reached = reached or details.get("outcome") == "connected"
        elif activity.kind == "email" and details.get("direction") == "inbound":
            reached = True
        elif activity.kind == "email" and details.get("direction") == "outbound" and not details.get("automatic"):
            emails += 1
    cadence = [task for task in tasks if task.cadence_step is not None]
    return Outreach(calls=calls, emails=emails, reached=reached,
                    planned_calls=sum(task.kind == "call" for task in cadence),
                    planned_emails=sum(task.kind == "email" for task in cadence))


def _finish(task: Task) -> None:
    task.done_at = utcnow()
    notices.cancel(reminder_key(task.id))


def tick_cadence_task(ticket: Ticket, kind: str) -> Task | None:
    """A call or a personal email (``kind``) went to the contact: tick the earliest open cadence task of that
    kind (its reminder is cancelled). Returns the task ticked, if any."""
    ticked = db.session.execute(_open_cadence_tasks(ticket, kind).limit(1)).scalar_one_or_none()
    if ticked is not None:
        _finish(ticked)
    return ticked


def record_outreach(ticket: Ticket, *, kind: str | None, reached: bool) -> Task | None:
    """A call or an email was just logged on ``ticket``: tick the earliest open cadence task of ``kind``
    (``None`` for an email received), and see whether the cadence is now done.

    Reaching the contact ends the cadence early: the remaining cadence tasks are closed, and a cadence
    marked complete before is no longer (they did answer). Logging the last planned attempt without
    reaching them marks the cadence complete; when the organisation stops after the cadence, the
    reminders of any cadence tasks still open are cancelled. Returns the task ticked, if any.
    """
    ticked = tick_cadence_task(ticket, kind) if kind in CADENCE_KINDS else None
    if reached:
        remaining = db.session.execute(_open_cadence_tasks(ticket)).scalars().all()
        for task in remaining:
            task.done_at = utcnow()
        cancel_notices(reminder_key(task.id) for task in remaining)
        ticket.cadence_complete_at = None
        return ticked
    if ticket.cadence_complete_at is None:
        activities = db.session.execute(
            select(Activity).where(Activity.ticket_id == ticket.id, Activity.kind.in_(("call", "email")))
        ).scalars().all()
        tasks = db.session.execute(
            select(Task).where(Task.ticket_id == ticket.id, Task.cadence_step.is_not(None))
        ).scalars().all()
        if outreach(activities, tasks).exhausted:
            ticket.cadence_complete_at = utcnow()
            if get_settings().stop_after_cadence:
                cancel_notices(reminder_key(task.id) for task in tasks if task.done_at is None)
    return ticked


def local_to_utc(moment: datetime, tz_name: str) -> datetime:
    """A wall-clock time typed in the organisation's timezone, as an aware UTC datetime."""
    return moment.replace(tzinfo=ZoneInfo(tz_name)).astimezone(ZoneInfo("UTC"))


def add_task(ticket: Ticket, actor: User, *, title: str, due_at: datetime, remind_at: datetime | None) -> Task:
    """An agent's own task on a ticket, owned by them; a reminder time owes a reminder notice."""
    ticket_services.ensure_open(ticket)
    if not (title or "").strip():
        raise RuleError("Say what needs doing.", "title")
    if remind_at is not None and remind_at > due_at:
        raise RuleError("Choose a reminder time at or before the due time.", "remind_at")
    task = Task(ticket_id=ticket.id, owner_id=actor.id, created_by_id=actor.id, title=title.strip(), kind="custom",
                due_at=due_at, remind_at=remind_at)
    db.session.add(task)
    db.session.flush()
    _schedule_reminder(task)
    return task


def set_task_done(task: Task, ticket: Ticket, done: bool) -> bool:
    """Tick a task done (its reminder is cancelled) or open it again (its reminder is owed again, unless it
    was already sent). Returns whether anything changed."""
    ticket_services.ensure_open(ticket)
    if done == (task.done_at is not None):
        return False
    if done:
        _finish(task)
    else:
        task.done_at = None
        _schedule_reminder(task)
    return True


def ticket_tasks(ticket_id: int) -> list[Task]:
    """A ticket's tasks with their owners, open ones first by due time, in one query."""
    return list(db.session.execute(
        select(Task).where(Task.ticket_id == ticket_id)
        .options(joinedload(Task.owner))
        .order_by(Task.done_at.is_not(None), Task.due_at, Task.id)
    ).scalars())


def close_ticket_work(ticket: Ticket) -> None:
    """The ticket is closing: nothing more is owed for its open tasks and action-plan items. The tasks stay
    as they are (not done): a closed ticket's page shows them as not needed, My tasks leaves them out, and
    reopening the ticket owes them again (:func:`reopen_ticket_work`)."""
    task_ids = db.session.execute(
        select(Task.id).where(Task.ticket_id == ticket.id, Task.done_at.is_(None), Task.remind_at.is_not(None))
    ).scalars().all()
    item_ids = db.session.execute(
        select(ActionPlanItem.id).where(ActionPlanItem.ticket_id == ticket.id, ActionPlanItem.done_at.is_(None),
                                        ActionPlanItem.due_date.is_not(None))
    ).scalars().all()
    cancel_notices([*(reminder_key(i) for i in task_ids), *(overdue_key(i) for i in item_ids)])


def reopen_ticket_work(ticket: Ticket) -> None:
    """The ticket is open again: its tasks still not done are owed again, with their reminders (unless one
    was already sent), as when a task is ticked open again."""
    tasks = db.session.execute(
        select(Task).where(Task.ticket_id == ticket.id, Task.done_at.is_(None), Task.remind_at.is_not(None))
    ).scalars().all()
    notices.schedule_all([dict(key=reminder_key(task.id), kind="task_reminder", due_at=task.remind_at,
                               ticket_id=task.ticket_id, task_id=task.id) for task in tasks])


GROUPS = {"overdue": "Overdue", "today": "Today", "upcoming": "Upcoming"}


@dataclass
class MyTasks:
    """One keyset page of a member's open tasks, grouped by when they are due, with their tickets. ``counts``
    stop at ``COUNT_CAP + 1`` (shown as "500+")."""

    page: KeysetPage
    groups: dict[str, list[Task]]
    counts: dict[str, int]
    tickets: dict[int, Ticket]


def _today_bounds(tz_name: str, now: datetime) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz_name)
    today: date = localize(now, tz_name).date()
    start = datetime.combine(today, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
    return start, end


def my_tasks(user_id: int, tz_name: str, after: str | None = None) -> MyTasks:
    """The member's open tasks on open tickets, soonest due first, a keyset page after the cursor ``after``:
    Overdue (due before now), Today (due later today in the organisation's timezone) and Upcoming, with a
    capped count of each. Three queries, whatever the number of tasks."""
    now = utcnow()
    _, end_of_today = _today_bounds(tz_name, now)

    # The ticket's status is a correlated lookup rather than a join: the planner cannot know that open
    # tasks are nearly all on open tickets, and with a join it hashes every open ticket; this way it walks
    # ix_task_tenant_owner_open_due in order and stops after the page (or the count's cap).
    ticket_status = select(Ticket.status).where(Ticket.id == Task.ticket_id).correlate(Task).scalar_subquery()

    def mine(statement):
        return statement.where(Task.owner_id == user_id, Task.done_at.is_(None), ticket_status != Status.CLOSED)

    windows = {"overdue": (Task.due_at < now,), "today": (Task.due_at >= now, Task.due_at < end_of_today),
               "upcoming": (Task.due_at >= end_of_today,)}
    capped = [select(func.count()).select_from(mine(select(Task.id)).where(*window).limit(COUNT_CAP + 1).subquery())
              .scalar_subquery().label(key) for key, window in windows.items()]
    counts = dict(zip(windows, db.session.execute(select(*capped)).one()))
    page = keyset_page(mine(select(Task)), [Task.due_at, Task.id], after=after, limit=TASKS_PER_PAGE)
    tasks = page.items
    tickets = {}
    if tasks:
        tickets = {t.id: t for t in db.session.execute(
            select(Ticket).where(Ticket.id.in_({task.ticket_id for task in tasks})).options(joinedload(Ticket.contact))
        ).scalars()}
    groups: dict[str, list[Task]] = {key: [] for key in GROUPS}
    for task in tasks:
        key = "overdue" if task.due_at < now else "today" if task.due_at < end_of_today else "upcoming"
        groups[key].append(task)
    return MyTasks(page=page, groups=groups, counts=counts, tickets=tickets)
