"""A form posted twice does its work once: closing, logging a call and adding a note twice (one after the
other, or racing in parallel requests on the real database) leave one timeline entry and one set of emails."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import sweep
from app.mail import OutboxMessage
from app.submissions import FormSubmission, new_key
from app.tenancy import all_tenants, tenant_context
from app.timeutil import utcnow
from app.workflow.models import Task
from tests.support.data import login
from tests.support.html import field_error, text
from tests.support.tickets import HTMX, open_ticket, root_cause_id, squash, ticket_state, ticket_url, timeline_html


def _close_form(app, org, key: str) -> dict:
    return {"close-submission_key": key, "close-outcome": "not_resolved", "close-note": "Agreed a credit.",
            "close-root_causes": root_cause_id(app, org["tenant_id"])}


def _call_form(key: str) -> dict:
    return {"call-submission_key": key, "call-called": "", "call-outcome": "no_answer", "call-notes": ""}


def _closing_emails(app, org, ticket_id: int) -> int:
    with app.app_context(), tenant_context(org["tenant_id"]):
        count = db.session.execute(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.ticket_id == ticket_id, OutboxMessage.kind == "ticket_closed")).scalar_one()
        db.session.remove()
    return count


def _done_calls(app, org, ticket_id: int) -> list[int]:
    """The cadence steps of the ticket's call tasks that are done."""
    with app.app_context(), tenant_context(org["tenant_id"]):
        steps = list(db.session.execute(select(Task.cadence_step).where(
            Task.ticket_id == ticket_id, Task.kind == "call", Task.done_at.is_not(None))).scalars())
        db.session.remove()
    return steps


def _in_parallel(app, org, role: str, url: str, forms: list[dict]) -> list:
    """Post each of ``forms`` to ``url`` at the same moment, each from its own logged-in browser (test client)."""
    clients = []
    for _ in forms:
        client = app.test_client()
        login(client, app, org[role])
        clients.append(client)
    start = threading.Barrier(len(forms))
    responses: list = [None] * len(forms)

    def post(index: int) -> None:
        start.wait()
        responses[index] = clients[index].post(url, data=forms[index])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_the_ticket_page_gives_each_form_its_own_key(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    # The composer shows one form at a time: every tab's form, and the header's, carries a key.
    tabs = ("call", "email", "email-log", "note", "task")
    keys = [[found for tab in tabs for found in re.findall(
        r'name="(\w+)-submission_key"[^>]*value="([^"]+)"',
        client.get(ticket_url(org, ticket_id) + f"?tab={tab}").get_data(as_text=True))] for _ in range(2)]
    forms = {name for name, _ in keys[0]}
    assert {"call", "compose", "email", "note", "reassign", "status", "close", "task", "item", "plan"} <= forms
    assert len({key for _, key in keys[0] + keys[1]}) == len(keys[0]) + len(keys[1]), "keys are never reused"


@pytest.mark.parametrize("same_key", [True, False], ids=["one key", "a key each"])
def test_five_parallel_closes_close_the_ticket_once(app, org, same_key):
    ticket_id = open_ticket(app, org)
    key = new_key()
    forms = [_close_form(app, org, key if same_key else new_key()) for _ in range(5)]

    responses = _in_parallel(app, org, "agent", ticket_url(org, ticket_id, "close"), forms)

    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("closed") == 1
    assert _closing_emails(app, org, ticket_id) == 2  # the managers' list: the admin and the manager, once each
    statuses = sorted(response.status_code for response in responses)
    if same_key:
        # Every post answers as the first did: back to the ticket page.
        assert statuses == [303] * 5
        assert {response.headers["Location"] for response in responses} == {ticket_url(org, ticket_id)}
    else:
        assert statuses == [303] + [422] * 4
        refused = next(r for r in responses if r.status_code == 422).get_data(as_text=True)
        assert "This ticket is already closed." in text(refused)


def test_a_repeated_close_answers_as_the_first_did(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    form = _close_form(app, org, new_key())
    first = client.post(ticket_url(org, ticket_id, "close"), data=form)
    second = client.post(ticket_url(org, ticket_id, "close"), data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"]
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "D-0001 closed: Not resolved." in text(page)
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("closed") == 1
    assert _closing_emails(app, org, ticket_id) == 2


def test_closing_a_closed_ticket_with_a_new_form_is_refused(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    assert client.post(ticket_url(org, ticket_id, "close"), data=_close_form(app, org, new_key())).status_code == 303
    again = client.post(ticket_url(org, ticket_id, "close"), headers=HTMX, data=_close_form(app, org, new_key()))
    assert again.status_code == 422
    assert "This ticket is already closed." in text(again.get_data(as_text=True))
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("closed") == 1


def test_a_double_log_call_logs_one_call_and_ticks_one_task(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    form = _call_form(new_key())
    first = client.post(ticket_url(org, ticket_id, "calls"), data=form)
    second = client.post(ticket_url(org, ticket_id, "calls"), data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("call") == 1
    assert _done_calls(app, org, ticket_id) == [1], "only the 1st call is ticked"


def test_parallel_log_calls_with_one_key_log_one_call(app, org):
    ticket_id = open_ticket(app, org)
    key = new_key()
    responses = _in_parallel(app, org, "agent", ticket_url(org, ticket_id, "calls"), [_call_form(key)] * 3)
    assert [r.status_code for r in responses] == [303] * 3
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("call") == 1
    assert _done_calls(app, org, ticket_id) == [1]


def test_a_call_logged_on_a_ticket_closed_meanwhile_is_refused(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    client.post(ticket_url(org, ticket_id, "close"), data=_close_form(app, org, new_key()))
    refused = client.post(ticket_url(org, ticket_id, "calls"), headers=HTMX, data=_call_form(new_key()))
    assert refused.status_code == 422
    assert "This ticket is closed. Reopen it to make changes." in text(refused.get_data(as_text=True))
    assert "call" not in ticket_state(app, org["tenant_id"], ticket_id)["kinds"]


def test_a_double_note_adds_one_note_and_the_htmx_repeat_gets_the_ticket(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    form = {"note-submission_key": new_key(), "note-body": "Customer prefers mornings."}
    first = client.post(ticket_url(org, ticket_id, "notes"), headers=HTMX, data=form)
    second = client.post(ticket_url(org, ticket_id, "notes"), headers=HTMX, data=form)
    assert (first.status_code, second.status_code) == (200, 200)
    fragment = squash(second.get_data(as_text=True))
    assert '<div id="ticket">' in fragment and "<!doctype html>" not in fragment
    assert "Note added." in text(fragment)
    assert text(timeline_html(fragment)).count("Customer prefers mornings.") == 1
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("note") == 1


def test_a_refused_post_leaves_its_key_free_for_the_corrected_form(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    key = new_key()
    refused = client.post(ticket_url(org, ticket_id, "calls"), data={**_call_form(key), "call-outcome": ""})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert field_error(page, "call-outcome") == "Choose how the call went."
    assert key in page, "the form shown again keeps its key"
    assert client.post(ticket_url(org, ticket_id, "calls"), data=_call_form(key)).status_code == 303
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("call") == 1


def test_a_double_task_add_adds_one_task(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    due = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = {"task-submission_key": new_key(), "task-title": "Send the corrected invoice", "task-due_at": due}
    for _ in range(2):
        assert client.post(f"/t/{org['slug']}/tickets/{ticket_id}/tasks", data=form).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        titles = list(db.session.execute(select(Task.title).where(Task.ticket_id == ticket_id)).scalars())
        db.session.remove()
    assert titles.count("Send the corrected invoice") == 1


def test_the_sweep_forgets_keys_older_than_a_day(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    old, recent = new_key(), new_key()
    for key in (old, recent):
        client.post(ticket_url(org, ticket_id, "notes"), data={"note-submission_key": key, "note-body": "Hello"})
    with app.app_context():
        with tenant_context(org["tenant_id"]):
            row = db.session.execute(select(FormSubmission).where(FormSubmission.key == old)).scalar_one()
            row.created_at = utcnow() - timedelta(days=1, minutes=1)
            db.session.commit()
        with all_tenants():
            assert sweep()["submissions"] == 1
            assert list(db.session.execute(select(FormSubmission.key)).scalars()) == [recent]
        db.session.remove()
