"""The outreach cadence: its settings page, the tasks a new ticket gets, and when the cadence is complete."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.settings.models import AuditEntry, RootCause, WorkflowSettings
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.workflow.models import ScheduledNotice, Task
from tests.support.data import login
from tests.support.html import field_error, text
from tests.support.tickets import HTMX, open_ticket, squash, ticket_url

UTC = timezone.utc
FRIDAY_11AM_NEW_YORK = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)


def _settings_url(org) -> str:
    return f"/t/{org['slug']}/settings/cadence"


def _change_settings(app, org, **values) -> None:
    with app.app_context(), tenant_context(org["tenant_id"]):
        settings = db.session.execute(select(WorkflowSettings)).scalar_one()
        for name, value in values.items():
            setattr(settings, name, value)
        db.session.commit()
        db.session.remove()


def _tasks(app, org, ticket_id=None) -> list[tuple]:
    """(title, kind, due_at, owner_id, done?) of the cadence tasks, in cadence order."""
    with app.app_context(), tenant_context(org["tenant_id"]):
        statement = select(Task).where(Task.cadence_step.is_not(None)).order_by(Task.cadence_step)
        if ticket_id is not None:
            statement = statement.where(Task.ticket_id == ticket_id)
        rows = [(t.title, t.kind, t.due_at, t.owner_id, t.done_at is not None)
                for t in db.session.execute(statement).scalars()]
        db.session.remove()
    return rows


def _notices(app, org) -> dict[str, tuple]:
    """Task reminders by key: (due_at, cancelled?)."""
    with app.app_context(), tenant_context(org["tenant_id"]):
        rows = {n.key: (n.due_at, n.cancelled_at is not None) for n in db.session.execute(
            select(ScheduledNotice).where(ScheduledNotice.kind == "task_reminder")).scalars()}
        db.session.remove()
    return rows


def _ticket(app, org, ticket_id) -> Ticket:
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.get(Ticket, ticket_id)
        db.session.expunge(ticket)
        db.session.remove()
    return ticket


def _log_call(client, org, ticket_id, outcome="no_answer", htmx=False):
    return client.post(ticket_url(org, ticket_id, "calls"), headers=HTMX if htmx else None,
                       data={"call-called": "", "call-outcome": outcome, "call-notes": ""})


def _log_email(client, org, ticket_id, direction="outbound"):
    return client.post(ticket_url(org, ticket_id, "emails"),
                       data={"email-direction": direction, "email-subject": "Can we talk?", "email-summary": ""})


# --- Tasks at open ---------------------------------------------------------------------------------

def test_opening_a_ticket_gives_the_assignee_a_task_per_attempt_one_gap_apart_on_the_sla_clock(app, org):
    with time_machine.travel(FRIDAY_11AM_NEW_YORK, tick=False):
        ticket_id = open_ticket(app, org)
    # Defaults: 2 calls, 2 emails (the automatic introduction plus one personal), 24 h apart, business days.
    # Friday 11:00 in New York + 24 working hours skips the weekend: the 1st call is due Monday 11:00.
    assert _tasks(app, org, ticket_id) == [
        ("1st call", "call", datetime(2025, 3, 17, 15, 0, tzinfo=UTC), org["agent"], False),
        ("2nd call", "call", datetime(2025, 3, 18, 15, 0, tzinfo=UTC), org["agent"], False),
        ("Personal follow-up email", "email", datetime(2025, 3, 19, 15, 0, tzinfo=UTC), org["agent"], False),
    ]
    assert _ticket(app, org, ticket_id).first_contact_due_at == datetime(2025, 3, 17, 15, 0, tzinfo=UTC)
    reminders = _notices(app, org)
    assert sorted(due for due, _ in reminders.values()) == [row[2] for row in _tasks(app, org, ticket_id)]
    assert not any(cancelled for _, cancelled in reminders.values())


def test_new_tickets_follow_the_cadence_settings(app, org):
    _change_settings(app, org, call_attempts=3, email_attempts=3, attempt_gap_hours=4, business_hours_only=False)
    with time_machine.travel(FRIDAY_11AM_NEW_YORK, tick=False):
        ticket_id = open_ticket(app, org)
    first = datetime(2025, 3, 15, 15, 0, tzinfo=UTC)  # 24 calendar hours later
    assert [(title, due) for title, _, due, _, _ in _tasks(app, org, ticket_id)] == [
        ("1st call", first),
        ("2nd call", first.replace(hour=19)),
        ("3rd call", first.replace(hour=23)),
        ("Personal follow-up email", datetime(2025, 3, 16, 3, 0, tzinfo=UTC)),
        ("2nd personal follow-up email", datetime(2025, 3, 16, 7, 0, tzinfo=UTC)),
    ]


# --- Logging ticks the cadence ---------------------------------------------------------------------

def test_logging_a_call_ticks_the_earliest_open_call_task_and_cancels_its_reminder(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    assert _log_call(client, org, ticket_id).status_code == 303
    assert [(title, done) for title, _, _, _, done in _tasks(app, org, ticket_id)] == [
        ("1st call", True), ("2nd call", False), ("Personal follow-up email", False)]
    reminders = _notices(app, org)
    assert [cancelled for _, (_, cancelled) in sorted(reminders.items())] == [True, False, False]

    # An email received from the contact is not an attempt of ours; one sent to them ticks the email task.
    assert _log_email(client, org, ticket_id, "outbound").status_code == 303
    assert [done for *_, done in _tasks(app, org, ticket_id)] == [True, False, True]


def test_every_attempt_logged_without_reaching_the_contact_completes_the_cadence(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id, "no_answer")
    _log_call(client, org, ticket_id, "left_voicemail")
    assert _ticket(app, org, ticket_id).cadence_complete_at is None
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "Outreach cadence: 2 of 2 calls and 0 of 1 personal email logged." in page

    _log_email(client, org, ticket_id, "outbound")
    assert _ticket(app, org, ticket_id).cadence_complete_at is not None
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "Cadence complete" in text(page)
    board = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert "Cadence complete" in text(board)


def test_a_connected_call_reaches_the_contact_so_the_cadence_never_completes(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id, "connected")
    # Reaching them ends the cadence early: every cadence task is closed and no reminder is owed.
    assert [done for *_, done in _tasks(app, org, ticket_id)] == [True, True, True]
    assert all(cancelled for _, cancelled in _notices(app, org).values())
    _log_call(client, org, ticket_id, "no_answer")
    _log_email(client, org, ticket_id, "outbound")
    assert _ticket(app, org, ticket_id).cadence_complete_at is None
    assert "Contact reached" in client.get(ticket_url(org, ticket_id)).get_data(as_text=True)


def test_an_email_back_from_the_contact_undoes_a_complete_cadence(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    for _ in range(2):
        _log_call(client, org, ticket_id)
    _log_email(client, org, ticket_id)
    assert _ticket(app, org, ticket_id).cadence_complete_at is not None
    _log_email(client, org, ticket_id, "inbound")
    assert _ticket(app, org, ticket_id).cadence_complete_at is None


def test_completing_the_cadence_cancels_reminders_of_cadence_tasks_left_open(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id)
    with app.app_context(), tenant_context(org["tenant_id"]):
        first_call = db.session.execute(select(Task).where(Task.title == "1st call")).scalar_one()
        first_id = first_call.id
    # The agent unticks the 1st call: it is owed a reminder again…
    client.post(f"/t/{org['slug']}/tasks/{first_id}/done", data={})
    assert _notices(app, org)[f"task:{first_id}:reminder"][1] is False
    _log_call(client, org, ticket_id)   # ticks the 1st call again
    _log_call(client, org, ticket_id)   # no open call task left to tick
    client.post(f"/t/{org['slug']}/tasks/{first_id}/done", data={})
    _log_email(client, org, ticket_id)  # the last attempt: the cadence is complete
    assert _ticket(app, org, ticket_id).cadence_complete_at is not None
    # …and with "stop after the cadence" on, the reminder of the task still open is cancelled.
    assert _notices(app, org)[f"task:{first_id}:reminder"][1] is True


# --- "No response" follows the setting -------------------------------------------------------------

def _close_no_response(client, org, ticket_id, htmx=False):
    with client.application.app_context(), tenant_context(org["tenant_id"]):
        cause_id = db.session.execute(select(RootCause.id).where(RootCause.label == "Communication")).scalar_one()
    return client.post(ticket_url(org, ticket_id, "close"), headers=HTMX if htmx else None, data={
        "close-outcome": "no_response", "close-note": "Never picked up.", "close-root_causes": str(cause_id)})


def test_no_response_is_refused_before_the_cadence_is_complete(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    _log_call(client, org, ticket_id)
    response = _close_no_response(client, org, ticket_id, htmx=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#action-close"
    fragment = squash(response.get_data(as_text=True))
    assert field_error(fragment, "close-outcome").startswith(
        "“No response” can be chosen once the outreach cadence is complete")
    assert _ticket(app, org, ticket_id).status == "contacted"


def test_no_response_is_allowed_once_the_cadence_is_complete(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    for _ in range(2):
        _log_call(client, org, ticket_id)
    _log_email(client, org, ticket_id)
    response = _close_no_response(client, org, ticket_id)
    assert response.status_code == 303
    ticket = _ticket(app, org, ticket_id)
    assert (ticket.status, ticket.outcome) == ("closed", "no_response")


def test_no_response_is_allowed_any_time_when_the_organisation_does_not_stop_after_the_cadence(app, org, as_member):
    _change_settings(app, org, stop_after_cadence=False)
    ticket_id = open_ticket(app, org)
    response = _close_no_response(as_member("agent"), org, ticket_id)
    assert response.status_code == 303
    assert _ticket(app, org, ticket_id).outcome == "no_response"


# --- The settings page -----------------------------------------------------------------------------

def test_managers_see_the_cadence_settings_but_agents_and_viewers_get_403(app, org, as_member):
    client = as_member("manager")
    page = squash(client.get(_settings_url(org)).get_data(as_text=True))
    assert 'id="call_attempts"' in page and 'value="2"' in page and 'id="attempt_gap_hours"' in page
    assert "1st call: due at the first-contact target" in text(page)
    assert "Only admins can change these settings." in page and "Save cadence</button>" not in page
    for role in ("agent", "viewer"):
        other = app.test_client()
        login(other, app, org[role])
        assert other.get(_settings_url(org)).status_code == 403


def test_admin_saves_the_cadence_and_the_change_is_audited(app, org, as_member):
    client = as_member("admin")
    response = client.post(_settings_url(org), data={
        "call_attempts": "3", "email_attempts": "2", "attempt_gap_hours": "48"})  # box unticked: stop = off
    assert response.status_code == 303 and response.headers["Location"].endswith(_settings_url(org))
    with app.app_context(), tenant_context(org["tenant_id"]):
        settings = db.session.execute(select(WorkflowSettings)).scalar_one()
        assert (settings.call_attempts, settings.email_attempts, settings.attempt_gap_hours,
                settings.stop_after_cadence) == (3, 2, 48, False)
        entry = db.session.execute(select(AuditEntry)).scalar_one()
        assert (entry.area, entry.actor_id) == ("cadence", org["admin"])
        assert entry.changes == {"call_attempts": [2, 3], "attempt_gap_hours": [24, 48],
                                 "stop_after_cadence": [True, False]}
    page = squash(client.get(_settings_url(org)).get_data(as_text=True))
    assert "Outreach cadence saved." in page and "3rd call: 48 hours after the 2nd call" in text(page)


def test_saving_the_cadence_through_htmx_returns_the_form_fragment(app, org, as_member):
    response = as_member("admin").post(_settings_url(org), headers=HTMX, data={
        "call_attempts": "1", "email_attempts": "2", "attempt_gap_hours": "24", "stop_after_cadence": "y"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<!doctype html>" not in fragment and 'hx-swap-oob="true"' in fragment
    assert "Save cadence</button>" in fragment


@pytest.mark.parametrize(("field", "value", "message"), [
    ("call_attempts", "11", "Enter a number of calls from 0 to 10."),
    ("email_attempts", "-1", "Enter a number of emails from 0 to 10."),
    ("attempt_gap_hours", "0", "Enter a number of hours from 1 to 168."),
    ("attempt_gap_hours", "169", "Enter a number of hours from 1 to 168."),
    ("attempt_gap_hours", "soon", "Enter a number of hours from 1 to 168."),
    ("call_attempts", "", "Enter a number of calls from 0 to 10."),
])
def test_cadence_settings_are_checked_with_the_message_next_to_the_field(app, org, as_member, field, value, message):
    data = {"call_attempts": "2", "email_attempts": "2", "attempt_gap_hours": "24", "stop_after_cadence": "y",
            field: value}
    response = as_member("admin").post(_settings_url(org), data=data)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field) == message
    with app.app_context(), tenant_context(org["tenant_id"]):
        settings = db.session.execute(select(WorkflowSettings)).scalar_one()
        assert (settings.call_attempts, settings.email_attempts, settings.attempt_gap_hours) == (2, 2, 24)
        assert db.session.execute(select(AuditEntry)).first() is None


def test_a_clinic_saves_an_intro_only_cadence_and_its_tickets_close_as_no_response_with_no_further_tasks(
        app, other_org, client):
    """The PT clinic's advice: email the patient once and do not follow up when they do not respond."""
    login(client, app, other_org["admin"])
    url = _settings_url(other_org)
    response = client.post(url, data={"call_attempts": "0", "email_attempts": "0", "attempt_gap_hours": "24",
                                      "stop_after_cadence": "y"})
    assert response.status_code == 303
    page = text(squash(client.get(url).get_data(as_text=True)))
    assert "Outreach cadence saved." in page and "None: only the automatic introduction email is sent." in page
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.area == "cadence")).scalar_one()
        assert entry.changes == {"email_attempts": [1, 0]}  # the clinic preset already had no call

    ticket_id = open_ticket(app, other_org, "Pat Patient", 4, "The front desk lost my referral")
    assert _tasks(app, other_org, ticket_id) == []
    ticket = _ticket(app, other_org, ticket_id)
    assert ticket.cadence_complete_at == ticket.opened_at
    # The introduction went out from the assignee: it is the first contact, so no first-contact alarm is owed.
    assert ticket.first_contact_at == ticket.opened_at
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        owed = set(db.session.execute(select(ScheduledNotice.kind).where(
            ScheduledNotice.ticket_id == ticket_id, ScheduledNotice.cancelled_at.is_(None))).scalars())
    assert owed == {"resolution_at_risk", "resolution_breached"}
    ticket_page = text(squash(client.get(ticket_url(other_org, ticket_id)).get_data(as_text=True)))
    assert "Cadence complete · the cadence plans nothing after the introduction email, so nobody chases" in ticket_page
    assert "The outreach cadence is complete, so “No response” may be chosen." in ticket_page

    response = _close_no_response(client, other_org, ticket_id)
    assert response.status_code == 303
    ticket = _ticket(app, other_org, ticket_id)
    assert (ticket.status, ticket.outcome) == ("closed", "no_response")
    assert _tasks(app, other_org, ticket_id) == []
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        assert db.session.execute(select(Task).where(Task.ticket_id == ticket_id)).first() is None


def test_with_the_introduction_only_a_call_only_first_contact_keeps_its_clock_running(app, other_org):
    _change_settings(app, other_org, first_contact_stopped_by="call")
    ticket_id = open_ticket(app, other_org)
    ticket = _ticket(app, other_org, ticket_id)
    assert ticket.cadence_complete_at is not None and ticket.first_contact_at is None
    assert _tasks(app, other_org, ticket_id) == []


def test_only_admins_change_the_cadence(app, org):
    data = {"call_attempts": "5", "email_attempts": "2", "attempt_gap_hours": "24"}
    for role in ("manager", "agent", "viewer"):
        client = app.test_client()
        login(client, app, org[role])
        assert client.post(_settings_url(org), data=data).status_code == 403
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(WorkflowSettings.call_attempts)).scalar_one() == 2


def test_another_organisation_cannot_see_or_change_the_cadence(app, org, other_org, client):
    login(client, app, other_org["admin"])
    assert client.get(_settings_url(org)).status_code == 404
    assert client.post(_settings_url(org), data={"call_attempts": "9", "email_attempts": "2",
                                                 "attempt_gap_hours": "24"}).status_code == 404
