"""Tasks on a ticket (added by agents, ticked done, reminders) and the My tasks page."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.tenancy import tenant_context
from app.workflow.models import ScheduledNotice, Task
from tests.support.data import login
from tests.support.html import checked, field_error, label
from tests.support.tickets import (
    HTMX,
    count_queries,
    open_ticket,
    squash,
    ticket_url,
    with_ticket,
)
from tests.support.workflow import item_id as make_item

UTC = timezone.utc


def _add_task(client, org, ticket_id, htmx=False, **fields):
    data = {"task-title": "Send the AR report", "task-due_at": "2030-06-03T15:30", "task-remind_at": "2030-06-03T09:00"}
    data.update(fields)
    return client.post(ticket_url(org, ticket_id, "tasks"), data=data, headers=HTMX if htmx else None)


def _task(app, org, title):
    with app.app_context(), tenant_context(org["tenant_id"]):
        task = db.session.execute(select(Task).where(Task.title == title)).scalar_one_or_none()
        if task is not None:
            db.session.expunge(task)
        db.session.remove()
    return task


def _reminder(app, org, task_id):
    with app.app_context(), tenant_context(org["tenant_id"]):
        notice = db.session.execute(
            select(ScheduledNotice).where(ScheduledNotice.key == f"task:{task_id}:reminder")).scalar_one_or_none()
        state = None if notice is None else (notice.kind, notice.due_at, notice.task_id, notice.cancelled_at is not None)
        db.session.remove()
    return state


def tick_item(client, org, task_id, done=True, htmx=False, back=None):
    data = {"done": "y"} if done else {}
    if back:
        data["back"] = back
    return client.post(f"/t/{org['slug']}/tasks/{task_id}/done", data=data, headers=HTMX if htmx else None)


def test_agent_adds_a_task_due_in_the_organisations_timezone_with_a_reminder(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = _add_task(as_member("agent"), org, ticket_id)
    assert response.status_code == 303 and response.headers["Location"].endswith(ticket_url(org, ticket_id))
    task = _task(app, org, "Send the AR report")
    # 15:30 and 09:00 in New York (summer time, UTC-4).
    assert (task.due_at, task.remind_at) == (datetime(2030, 6, 3, 19, 30, tzinfo=UTC),
                                              datetime(2030, 6, 3, 13, 0, tzinfo=UTC))
    assert (task.owner_id, task.created_by_id, task.kind, task.cadence_step) == (org["agent"], org["agent"],
                                                                                  "custom", None)
    assert _reminder(app, org, task.id) == ("task_reminder", task.remind_at, task.id, False)


def test_a_task_without_a_reminder_owes_no_reminder(app, org, as_member):
    ticket_id = open_ticket(app, org)
    _add_task(as_member("agent"), org, ticket_id, **{"task-remind_at": ""})
    task = _task(app, org, "Send the AR report")
    assert task.remind_at is None and _reminder(app, org, task.id) is None


def test_adding_a_task_through_htmx_returns_the_ticket_with_the_new_task(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = _add_task(as_member("agent"), org, ticket_id, htmx=True)
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "<!doctype html>" not in fragment and '<div id="ticket">' in fragment
    assert "Task added, due Mon 03 Jun, 15:30 EDT." in fragment
    task_id = _task(app, org, "Send the AR report").id
    assert label(fragment, f"task-{task_id}-done") == "Send the AR report"
    assert not checked(fragment, f"task-{task_id}-done")


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"task-title": "  "}, "task-title", "Say what needs doing."),
    ({"task-due_at": ""}, "task-due_at", "Choose when it is due."),
    ({"task-due_at": "next week"}, "task-due_at", "Enter a date and time, like 2025-03-14 09:30."),
    ({"task-remind_at": "2030-06-04T09:00"}, "task-remind_at", "Choose a reminder time at or before the due time."),
    ({"task-remind_at": "2001-01-01T09:00", "task-due_at": "2001-01-02T09:00"}, "task-remind_at",
     "Choose a reminder time in the future."),
])
def test_task_form_errors_sit_next_to_the_field_and_nothing_is_saved(app, org, as_member, fields, field, message):
    ticket_id = open_ticket(app, org)
    response = _add_task(as_member("agent"), org, ticket_id, htmx=True, **fields)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#task-form"
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<article id="task-form"') and "<!doctype html>" not in fragment
    assert field_error(fragment, field) == message
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(Task).where(Task.cadence_step.is_(None))).first() is None


def test_a_plain_post_with_errors_shows_the_whole_ticket_page_with_the_task_tab_open(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = _add_task(as_member("agent"), org, ticket_id, **{"task-title": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<!doctype html>" in page and '<article id="task-form"' in page
    assert field_error(page, "task-title") == "Say what needs doing."


def test_ticking_a_task_done_cancels_its_reminder_and_unticking_owes_it_again(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _add_task(client, org, ticket_id)
    task = _task(app, org, "Send the AR report")

    response = tick_item(client, org, task.id, htmx=True)
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "Task done." in fragment
    assert f'id="task-{task.id}-done" name="done" value="y" checked>' in fragment
    assert _task(app, org, "Send the AR report").done_at is not None
    assert _reminder(app, org, task.id)[3] is True

    response = tick_item(client, org, task.id, done=False)
    assert response.status_code == 303
    assert _task(app, org, "Send the AR report").done_at is None
    assert _reminder(app, org, task.id)[3] is False


def test_tasks_of_a_closed_ticket_cannot_be_ticked(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _add_task(client, org, ticket_id)
    task = _task(app, org, "Send the AR report")
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: setattr(t, "status", "closed"))
    response = tick_item(client, org, task.id, htmx=True)
    assert "This ticket is closed. Reopen it to make changes." in response.get_data(as_text=True)
    assert _task(app, org, "Send the AR report").done_at is None


# --- My tasks --------------------------------------------------------------------------------------

def _my_tasks(client, org, htmx=False):
    return client.get(f"/t/{org['slug']}/tasks", headers=HTMX if htmx else None)


def _section(page: str, key: str) -> str:
    start = page.find(f'aria-labelledby="group-{key}"')
    if start < 0:
        return ""
    return page[start:page.find("</section>", start)]


def test_my_tasks_groups_my_open_tasks_as_overdue_today_and_upcoming(app, org, as_member):
    # Tuesday 10:00 in New York. Tickets open on Monday 09:00 and Tuesday 10:00: their cadence tasks
    # fall yesterday (overdue), later today and in the coming days.
    with time_machine.travel(datetime(2025, 6, 2, 13, 0, tzinfo=UTC), tick=False):
        monday = open_ticket(app, org, "Mo Monday")
    with time_machine.travel(datetime(2025, 6, 3, 14, 0, tzinfo=UTC), tick=False):
        tuesday = open_ticket(app, org, "Tu Tuesday")
    closed = open_ticket(app, org, "Cy Closed")
    with_ticket(app, org["tenant_id"], closed, lambda t: setattr(t, "status", "closed"))
    with time_machine.travel(datetime(2025, 6, 3, 14, 0, tzinfo=UTC)):
        client = as_member("agent")
        _add_task(client, org, tuesday, **{"task-title": "Ring back after lunch", "task-due_at": "2025-06-03T14:00",
                                           "task-remind_at": ""})
        tick_item(client, org, _task(app, org, "Ring back after lunch").id)  # done tasks are not listed
        _add_task(client, org, tuesday, **{"task-title": "Check the denial queue", "task-due_at": "2025-06-03T16:00",
                                           "task-remind_at": ""})
        page = squash(_my_tasks(client, org).get_data(as_text=True))

    overdue, today, upcoming = (_section(page, key) for key in ("overdue", "today", "upcoming"))
    assert "1st call" in overdue and "D-0001 · Mo Monday" in overdue and "Tu Tuesday" not in overdue
    assert "Check the denial queue" in today and "D-0002 · Tu Tuesday" in today
    assert "Ring back after lunch" not in overdue + today + upcoming
    assert "Personal follow-up email" in upcoming and "Mo Monday" in upcoming
    assert "Cy Closed" not in page  # tasks of closed tickets are not listed
    assert f'href="{ticket_url(org, monday)}"' in overdue
    assert 'Overdue: <strong>1</strong>' in page and 'Today: <strong>1</strong>' in page
    assert 'Upcoming: <strong>5</strong>' in page
    # Another member's tasks are theirs only.
    other = app.test_client()
    login(other, app, org["manager"])
    assert "No open tasks" in other.get(f"/t/{org['slug']}/tasks").get_data(as_text=True)


def test_my_tasks_runs_a_fixed_number_of_queries_and_paginates(app, org, as_member):
    client = as_member("agent")
    open_ticket(app, org, "First Few")
    client.get(f"/t/{org['slug']}/tasks")
    with count_queries(app) as few:
        assert _my_tasks(client, org).status_code == 200
    for n in range(20):
        open_ticket(app, org, f"Many More {n}")
    with count_queries(app) as many:
        page = _my_tasks(client, org).get_data(as_text=True)
    assert len(few) == len(many) <= 5, many  # user; tenant; capped group counts; a keyset page of tasks; tickets
    shown = page.count('<li class="task')
    assert shown == 50 and "Next →" in page
    next_url = unescape(re.search(r'<a href="([^"]+)"[^>]*>Next →</a>', page).group(1))
    rest = client.get(next_url).get_data(as_text=True)
    assert "Next →" not in rest and "← First page" in rest and rest.count('<li class="task') == 63 - 50


def test_ticking_a_task_on_my_tasks_through_htmx_returns_the_list_without_it(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _add_task(client, org, ticket_id, **{"task-remind_at": ""})
    task = _task(app, org, "Send the AR report")
    assert "Send the AR report" in _my_tasks(client, org).get_data(as_text=True)
    response = tick_item(client, org, task.id, htmx=True, back="tasks")
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<!doctype html>" not in fragment and "Task done." in fragment
    assert f'id="task-{task.id}-done"' not in fragment
    plain = tick_item(client, org, task.id, done=False, back="tasks")
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/t/{org['slug']}/tasks")


# --- Permissions -----------------------------------------------------------------------------------

def _post_urls(app, org) -> dict[str, str]:
    ticket_id = open_ticket(app, org, "Pat Permission")
    with app.app_context(), tenant_context(org["tenant_id"]):
        task_id = db.session.execute(select(Task.id).where(Task.ticket_id == ticket_id).limit(1)).scalar_one()
    item = make_item(app, org["tenant_id"])
    base = f"/t/{org['slug']}"
    return {
        "add task": f"{base}/tickets/{ticket_id}/tasks",
        "tick task": f"{base}/tasks/{task_id}/done",
        "apply plan": f"{base}/tickets/{ticket_id}/action-plan",
        "add item": f"{base}/tickets/{ticket_id}/action-plan/items",
        "edit item": f"{base}/action-plan/items/{item}",
        "tick item": f"{base}/action-plan/items/{item}/done",
    }


def _workflow_rows(app, org):
    from app.workflow.models import ActionPlanItem

    with app.app_context(), tenant_context(org["tenant_id"]):
        tasks = db.session.execute(select(Task.id, Task.done_at)).all()
        items = db.session.execute(select(ActionPlanItem.id, ActionPlanItem.done_at, ActionPlanItem.title)).all()
        db.session.remove()
    return tasks, items


def test_viewer_gets_403_on_every_task_and_action_plan_post_and_nothing_changes(app, org, as_member):
    urls = _post_urls(app, org)
    before = _workflow_rows(app, org)
    client = as_member("viewer")
    data = {"done": "y", "task-title": "x", "task-due_at": "2030-01-01T09:00", "plan-template_id": "1",
            "item-title": "x", "item-owner_team": "Billing team"}
    for name, url in urls.items():
        assert client.post(url, data=data).status_code == 403, name
        assert client.post(url, data=data, headers=HTMX).status_code == 403, name
    assert _workflow_rows(app, org) == before


def test_viewer_sees_tasks_and_the_plan_without_controls(app, org, as_member):
    ticket_id = open_ticket(app, org)
    page = as_member("viewer").get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "1st call" in page and "No action plan yet." in page
    assert 'type="checkbox"' not in page and "Add task</button>" not in page and "Apply plan</button>" not in page


def test_another_organisations_member_gets_404_on_tasks_and_items(app, org, other_org, client):
    urls = _post_urls(app, org)
    before = _workflow_rows(app, org)
    login(client, app, other_org["admin"])
    for name, url in urls.items():
        for slug in (other_org["slug"], org["slug"]):
            assert client.post(url.replace(org["slug"], slug), data={"done": "y"}).status_code == 404, name
    assert _workflow_rows(app, org) == before


def test_reminder_times_are_owed_as_scheduled_notices_for_the_cadence_too(app, org):
    with time_machine.travel(datetime(2025, 6, 2, 13, 0, tzinfo=UTC), tick=False):
        ticket_id = open_ticket(app, org)
    with app.app_context(), tenant_context(org["tenant_id"]):
        tasks = db.session.execute(select(Task).where(Task.ticket_id == ticket_id)).scalars().all()
        notices = {n.key: n for n in db.session.execute(select(ScheduledNotice)
                                                        .where(ScheduledNotice.kind == "task_reminder")).scalars()}
        assert {f"task:{t.id}:reminder" for t in tasks} == set(notices)
        assert all(notices[f"task:{t.id}:reminder"].due_at == t.remind_at == t.due_at for t in tasks)
        assert all(t.due_at > datetime(2025, 6, 2, 13, 0, tzinfo=UTC) + timedelta(hours=23) for t in tasks)


def test_reassigning_a_ticket_hands_its_open_tasks_to_the_new_assignee(app, org):
    from sqlalchemy import select

    from app.accounts.models import User
    from app.extensions import db
    from app.tenancy import tenant_context
    from app.tickets import services as tickets
    from app.tickets.models import Ticket
    from app.workflow.models import Task
    from tests.support.data import answer, make_contact

    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Tess Task"), 2)
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.execute(select(Ticket)).scalar_one()
        assert ticket.assignee_id == org["agent"]
        owners = set(db.session.execute(select(Task.owner_id).where(Task.done_at.is_(None))).scalars())
        assert owners == {org["agent"]}
        tickets.reassign(ticket, db.session.get(User, org["manager"]), db.session.get(User, org["manager"]))
        db.session.commit()
        owners = set(db.session.execute(select(Task.owner_id).where(Task.done_at.is_(None))).scalars())
        assert owners == {org["manager"]}
