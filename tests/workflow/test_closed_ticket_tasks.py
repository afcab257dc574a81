"""What closing a ticket means for its tasks: the ticket page shows the ones not done as no longer needed (as My
tasks leaves them out), the closing follow-up email does the personal follow-up email task, and reopening the
ticket owes its tasks and their reminders again."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.tenancy import tenant_context
from app.workflow.models import ScheduledNotice, Task
from tests.support.html import text
from tests.support.tickets import HTMX, open_ticket, root_cause_id, ticket_url

def _tasks_section(page: str) -> str:
    """The "Outreach and tasks" section of a ticket page, as HTML."""
    start = page.index('aria-labelledby="tasks-heading"')
    return page[start:page.index("</section>", start)]


def _task_rows(page: str) -> dict[str, str]:
    """Each task of the ticket page by title: the text a person reads on its line."""
    rows = {}
    for row in re.findall(r'<li class="task[^"]*">(.*?)</li>', _tasks_section(page), re.S):
        line = text(row)
        title = next(t for t in ("1st call", "2nd call", "Personal follow-up email") if t in line)
        rows[title] = line
    return rows


def _close(app, client, org, ticket_id, followup: bool = False, htmx: bool = False):
    data = {"close-outcome": "resolved", "close-note": "Credit agreed.",
            "close-root_causes": root_cause_id(app, org["tenant_id"])}
    if followup:
        data.update({"close-send_followup": "y", "close-followup_subject": "Thank you, {contact.first_name}",
                     "close-followup_body": "Hi {contact.first_name},\n\nThanks for your time today.\n\n{agent.name}"})
    return client.post(ticket_url(org, ticket_id, "close"), data=data, headers=HTMX if htmx else None)


def _log_call(client, org, ticket_id):
    return client.post(ticket_url(org, ticket_id, "calls"),
                       data={"call-called": "", "call-outcome": "no_answer", "call-notes": ""})


def _cadence(app, org, ticket_id) -> dict[str, tuple[bool, bool | None]]:
    """Each cadence task by title: (done?, reminder still owed?)."""
    with app.app_context(), tenant_context(org["tenant_id"]):
        tasks = db.session.execute(select(Task).where(Task.ticket_id == ticket_id)).scalars().all()
        notices = {n.task_id: n for n in db.session.execute(
            select(ScheduledNotice).where(ScheduledNotice.kind == "task_reminder")).scalars()}
        state = {t.title: (t.done_at is not None,
                           t.id in notices and notices[t.id].cancelled_at is None and notices[t.id].sent_at is None)
                 for t in tasks}
        db.session.remove()
    return state


def test_a_closed_tickets_tasks_not_done_show_as_not_needed_without_due_time_reminder_or_checkbox(
        app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id)
    before = _task_rows(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "Due " in before["2nd call"] and "reminder " in before["2nd call"]

    assert _close(app, client, org, ticket_id).status_code == 303
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    rows = _task_rows(page)
    assert rows["1st call"].startswith("Done: ✓ 1st call Done ")
    for title in ("2nd call", "Personal follow-up email"):
        assert rows[title] == f"{title} Not needed: ticket closed · Alex Agent"
    section = _tasks_section(page)
    assert 'type="checkbox"' not in section and "Overdue" not in section
    # My tasks agrees: nothing on the closed ticket is left to do.
    assert "No open tasks" in client.get(f"/t/{org['slug']}/tasks").get_data(as_text=True)


def test_the_closing_follow_up_email_does_the_personal_follow_up_email_task(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id)
    response = _close(app, client, org, ticket_id, followup=True, htmx=True)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "D-0001 closed: Resolved. The follow-up email is on its way." in fragment
    rows = _task_rows(fragment)
    assert rows["Personal follow-up email"].startswith("Done: ✓ Personal follow-up email Done ")
    assert rows["2nd call"] == "2nd call Not needed: ticket closed · Alex Agent"
    assert "1 of 2 calls and 1 of 1 personal email logged" in text(_tasks_section(fragment))
    assert _cadence(app, org, ticket_id) == {"1st call": (True, False), "2nd call": (False, False),
                                             "Personal follow-up email": (True, False)}


def test_closing_without_the_follow_up_leaves_the_personal_follow_up_email_not_done(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _close(app, client, org, ticket_id)
    assert _cadence(app, org, ticket_id)["Personal follow-up email"] == (False, False)
    assert "0 of 2 calls and 0 of 1 personal email logged" in text(
        _tasks_section(client.get(ticket_url(org, ticket_id)).get_data(as_text=True)))


def test_reopening_the_ticket_owes_its_tasks_and_their_reminders_again(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id)
    _close(app, client, org, ticket_id, followup=True)
    assert client.post(ticket_url(org, ticket_id, "status"),
                       data={"status-status": "contacted"}).status_code == 303

    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    rows = _task_rows(page)
    assert "Not needed" not in _tasks_section(page)
    assert "Due " in rows["2nd call"] and "reminder " in rows["2nd call"]
    assert 'id="task-' in _tasks_section(page) and 'type="checkbox"' in _tasks_section(page)
    # The follow-up sent at closing still counts: that task stays done.
    assert "Done " in rows["Personal follow-up email"] and "Due " not in rows["Personal follow-up email"]
    assert _cadence(app, org, ticket_id) == {"1st call": (True, False), "2nd call": (False, True),
                                             "Personal follow-up email": (True, False)}
    assert "2nd call" in client.get(f"/t/{org['slug']}/tasks").get_data(as_text=True)
