"""SLA clocks: due times and the notices they owe, what the board and the ticket page say, and the pause
that "Waiting on customer" puts on the resolution clock."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.settings.models import RootCause
from app.tenancy import tenant_context
from app.tickets import services
from app.tickets.models import Ticket
from app.workflow.ticket_sla import sla_state
from tests.support.data import login
from tests.support.html import field_error, shown_status, text
from tests.support.tickets import (
    HTMX,
    bulk_tickets,
    column_html,
    count_queries,
    open_ticket,
    squash,
    ticket_state,
    ticket_url,
    timeline_html,
    with_ticket,
)
from tests.support.workflow import MONDAY_9AM, notices_of, set_sla

# Monday 3 March 2025, 09:00 in New York (EST, before the DST change): the organisations' timezone.


def _as(app, org, client, role):
    """Log in (again: the clock may have moved past the idle timeout)."""
    login(client, app, org[role])
    return client


def _close(app, org, ticket_id, actor="manager"):
    def change(ticket):
        cause = db.session.execute(select(RootCause.id).limit(1)).scalar_one()
        services.close_ticket(ticket, db.session.get(User, org[actor]), outcome="not_resolved",
                              note="They moved to a competitor.", root_cause_ids=[cause])
    with_ticket(app, org["tenant_id"], ticket_id, change)


def _call(app, org, ticket_id):
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.log_call(
        t, db.session.get(User, org["agent"]), called="Casey Client", outcome="left_voicemail", notes=None))


def _move(app, org, ticket_id, status, actor="agent"):
    with_ticket(app, org["tenant_id"], ticket_id,
                lambda t: services.move_status(t, db.session.get(User, org[actor]), status))


def _ticket(app, org, ticket_id) -> dict:
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.get(Ticket, ticket_id)
        values = {"resolution_due_at": ticket.resolution_due_at, "paused_at": ticket.paused_at}
        db.session.remove()
    return values


def test_a_new_ticket_owes_four_sla_notices_at_75_percent_and_at_the_breach(app, org, clock):
    set_sla(app, org["tenant_id"], business_hours_only=False, first_contact_target=1,
            first_contact_breach=2, resolution_target=14)
    ticket_id = open_ticket(app, org)
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert {kind: n["due_at"] for kind, n in notices.items()} == {
        "first_contact_at_risk": MONDAY_9AM + timedelta(hours=18),
        "first_contact_breached": MONDAY_9AM + timedelta(hours=48),
        "resolution_at_risk": MONDAY_9AM + timedelta(days=10, hours=12),
        "resolution_breached": MONDAY_9AM + timedelta(days=14),
    }
    assert notices["first_contact_breached"]["key"] == f"ticket:{ticket_id}:first_contact_breached"
    assert all(n["sent_at"] is None and n["cancelled_at"] is None for n in notices.values())


def test_sla_state_reads_ok_then_at_risk_then_overdue_and_switches_to_resolution_after_first_contact():
    opened = MONDAY_9AM
    ticket = Ticket(status="new", opened_at=opened, first_contact_due_at=opened + timedelta(hours=24),
                    first_contact_breach_at=opened + timedelta(hours=48),
                    resolution_due_at=opened + timedelta(days=14))
    states = [sla_state(ticket, opened + timedelta(hours=h)) for h in (1, 18, 26)]
    assert [(s.clock, s.level, s.text) for s in states] == [
        ("first_contact", "ok", "First contact due in 23 h"),
        ("first_contact", "at_risk", "At risk: first contact due in 6 h"),
        ("first_contact", "overdue", "First contact overdue by 2 h"),
    ]
    assert states[2].breach_at == opened + timedelta(hours=48) and states[2].css_class == "sla-overdue"

    ticket.status, ticket.first_contact_at = "contacted", opened + timedelta(hours=3)
    assert sla_state(ticket, opened + timedelta(days=2)).text == "Resolution due in 12 days"
    assert sla_state(ticket, opened + timedelta(days=12)).text == "At risk: resolution due in 2 days"
    assert sla_state(ticket, opened + timedelta(days=16)).text == "Resolution overdue by 2 days"
    assert sla_state(ticket, opened + timedelta(days=13, hours=23, minutes=20)).text == \
        "At risk: resolution due in 40 min"

    ticket.status, ticket.paused_at = "waiting", opened + timedelta(days=1)
    paused = sla_state(ticket, opened + timedelta(days=30))
    assert (paused.level, paused.text) == ("paused", "Paused — waiting on customer")

    ticket.status, ticket.paused_at, ticket.closed_at = "closed", None, opened + timedelta(days=15)
    assert sla_state(ticket, opened + timedelta(days=20)).text == "Closed 24 h after the resolution target"
    ticket.closed_at = opened + timedelta(days=5)
    assert sla_state(ticket, opened + timedelta(days=20)).level == "met"


def test_first_call_meets_first_contact_and_cancels_only_its_notices(app, org, clock):
    ticket_id = open_ticket(app, org)
    clock.shift(timedelta(hours=2))
    _call(app, org, ticket_id)
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert notices["first_contact_at_risk"]["cancelled_at"] == MONDAY_9AM + timedelta(hours=2)
    assert notices["first_contact_breached"]["cancelled_at"] is not None
    assert notices["resolution_at_risk"]["cancelled_at"] is None
    assert notices["resolution_breached"]["cancelled_at"] is None


def test_logging_an_email_also_meets_first_contact(app, org, clock, client):
    ticket_id = open_ticket(app, org)
    _as(app, org, client, "agent")
    response = client.post(ticket_url(org, ticket_id, "emails"), data={
        "email-direction": "outbound", "email-subject": "Sorry about the invoice", "email-summary": ""})
    assert response.status_code == 303
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert notices["first_contact_breached"]["cancelled_at"] is not None
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "Resolution due in" in page and "First contact due in" not in page
    assert "First contact <time" in page and "(on time)" in page


def test_closing_cancels_every_notice_still_owed(app, org, clock):
    ticket_id = open_ticket(app, org)
    _close(app, org, ticket_id)
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert all(n["cancelled_at"] is not None for n in notices.values())


def test_reopening_a_closed_ticket_owes_its_notices_again_at_the_same_times(app, org, clock):
    ticket_id = open_ticket(app, org)
    before = notices_of(app, org["tenant_id"], ticket_id)
    _close(app, org, ticket_id)
    clock.shift(timedelta(hours=1))
    _move(app, org, ticket_id, "action_plan", actor="manager")
    after = notices_of(app, org["tenant_id"], ticket_id)
    assert all(n["cancelled_at"] is None for n in after.values())
    assert {k: n["due_at"] for k, n in after.items()} == {k: n["due_at"] for k, n in before.items()}


def test_waiting_on_customer_pauses_the_resolution_clock_and_moving_on_pushes_the_due_time(app, org, clock, client):
    set_sla(app, org["tenant_id"], business_hours_only=False, resolution_target=14)
    ticket_id = open_ticket(app, org)
    _call(app, org, ticket_id)
    due = MONDAY_9AM + timedelta(days=14)

    clock.shift(timedelta(days=1))
    _as(app, org, client, "agent")
    response = client.post(ticket_url(org, ticket_id, "status"), headers=HTMX,
                           data={"status-status": "waiting"})
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert shown_status(fragment) == "Waiting on customer"
    assert 'class="ticket-sla sla sla-paused"' in fragment
    assert "Paused — waiting on customer" in text(fragment)
    assert ("Alex Agent moved the ticket from Contacted to Waiting on customer (resolution clock paused)."
            in text(timeline_html(fragment)))
    state = _ticket(app, org, ticket_id)
    assert state["paused_at"] == MONDAY_9AM + timedelta(days=1) and state["resolution_due_at"] == due
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert notices["resolution_at_risk"]["cancelled_at"] and notices["resolution_breached"]["cancelled_at"]

    clock.shift(timedelta(days=3))
    _as(app, org, client, "agent")
    response = client.post(ticket_url(org, ticket_id, "status"), data={"status-status": "action_plan"})
    assert response.status_code == 303
    new_due = due + timedelta(days=3)
    state = _ticket(app, org, ticket_id)
    assert state["paused_at"] is None and state["resolution_due_at"] == new_due
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert notices["resolution_breached"]["due_at"] == new_due
    assert notices["resolution_breached"]["cancelled_at"] is None and notices["resolution_breached"]["sent_at"] is None
    assert notices["resolution_at_risk"]["due_at"] == MONDAY_9AM + (new_due - MONDAY_9AM) * 0.75
    assert notices["resolution_at_risk"]["cancelled_at"] is None
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "moved the ticket from Waiting on customer to Action plan (resolution clock restarted, now due " \
           "Thu 20 Mar, 10:00 EDT)." in page
    assert "Resolution due in 13 days" in text(page)


def test_in_business_hours_mode_the_pause_gives_back_only_opening_hours(app, org, clock):
    ticket_id = open_ticket(app, org)  # Monday 3 March 09:00 New York; Mon–Fri 09:00–17:00
    _call(app, org, ticket_id)
    # 10 business days: Monday 17 March 09:00, after the change to daylight saving time.
    assert _ticket(app, org, ticket_id)["resolution_due_at"].isoformat() == "2025-03-17T13:00:00+00:00"
    clock.move_to("2025-03-07T15:00:00Z")  # Friday 10:00
    _move(app, org, ticket_id, "waiting")
    clock.move_to("2025-03-10T14:00:00Z")  # Monday 10:00 (EDT): 7 opening hours on Friday + 1 on Monday went by
    _move(app, org, ticket_id, "contacted")
    assert _ticket(app, org, ticket_id)["resolution_due_at"].isoformat() == "2025-03-17T21:00:00+00:00"


def test_waiting_on_customer_is_refused_before_the_first_contact(app, org, clock, client):
    ticket_id = open_ticket(app, org)
    _as(app, org, client, "agent")
    response = client.post(ticket_url(org, ticket_id, "status"), headers=HTMX, data={"status-status": "waiting"})
    assert response.status_code == 422
    fragment = response.get_data(as_text=True)
    assert field_error(fragment, "status-status") == (
        "Log a call or an email with the customer first: only the resolution clock can wait on the customer.")
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"
    assert _ticket(app, org, ticket_id)["paused_at"] is None


def test_ticket_page_shows_the_current_clock_in_the_organisations_timezone(app, org, clock, client):
    set_sla(app, org["tenant_id"], business_hours_only=False, first_contact_target=1,
            first_contact_breach=2)
    ticket_id = open_ticket(app, org)
    _as(app, org, client, "viewer")
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert 'class="ticket-sla sla sla-ok"' in page and "First contact due in 24 h" in text(page)
    assert ">Tue 04 Mar, 09:00 EST</time>" in page and "SLA breach at <time" in page
    assert ">Wed 05 Mar, 09:00 EST</time>" in page

    clock.shift(timedelta(hours=20))
    _as(app, org, client, "viewer")
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert 'sla-at-risk' in page and "At risk: first contact due in 4 h" in text(page)

    clock.shift(timedelta(hours=10))
    _as(app, org, client, "viewer")
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert 'sla-overdue' in page and "First contact overdue by 6 h" in text(page)


def test_board_cards_say_how_the_sla_stands_and_can_be_sorted_by_due_time(app, org, clock, client):
    set_sla(app, org["tenant_id"], business_hours_only=False, resolution_target=14)
    slow = open_ticket(app, org, "Casey Client")
    clock.shift(timedelta(hours=1))
    set_sla(app, org["tenant_id"], resolution_target=2)
    urgent = open_ticket(app, org, "Dana Doe")
    waiting = open_ticket(app, org, "Eli East")
    for ticket_id in (slow, urgent, waiting):
        _call(app, org, ticket_id)
    _move(app, org, waiting, "waiting")

    _as(app, org, client, "agent")
    board = f"/t/{org['slug']}/"
    page = client.get(board).get_data(as_text=True)
    contacted = squash(column_html(page, "contacted"))
    assert contacted.index("D-0001") < contacted.index("D-0002")  # waited longest first
    assert "Resolution due in 2 days" in text(contacted) and 'class="sla sla-ok"' in contacted
    assert "Resolution due in 14 days" in text(contacted)
    assert ">Wed 05 Mar, 10:00</time>" in contacted  # the due time, in New York time
    assert "Paused — waiting on customer" in text(column_html(page, "waiting"))
    assert 'aria-current="true">Waiting longest' in squash(page)

    by_due = client.get(board + "?sort=due").get_data(as_text=True)
    contacted = squash(column_html(by_due, "contacted"))
    assert contacted.index("D-0002") < contacted.index("D-0001")
    assert 'aria-current="true">SLA due soonest' in squash(by_due)

    fragment = client.get(board + "?who=mine&sort=due", headers=HTMX)
    assert fragment.status_code == 200
    html = squash(fragment.get_data(as_text=True))
    assert "<!doctype html>" not in html and 'class="board"' in html
    assert f'href="/t/{org["slug"]}/?who=mine&amp;sort=due" hx-get="/t/{org["slug"]}/?who=mine&amp;sort=due"' in html
    assert f'hx-get="/t/{org["slug"]}/?who=mine" hx-target="#board"' in html  # back to waiting longest, still mine


def test_board_sorted_by_due_time_runs_a_fixed_number_of_queries(app, org, client):
    login(client, app, org["manager"])
    board = f"/t/{org['slug']}/?sort=due"
    for i, status in enumerate(("new", "contacted", "waiting", "closed")):
        bulk_tickets(app, org["tenant_id"], 3, status=status, assignee_id=org["agent"], start=1 + i * 3)
    client.get(board)
    with count_queries(app) as few:
        assert client.get(board).status_code == 200
    for i, status in enumerate(("new", "contacted", "action_plan", "waiting", "closed")):
        bulk_tickets(app, org["tenant_id"], 40, status=status, assignee_id=org["manager"], start=100 + i * 40)
    with count_queries(app) as many:
        assert client.get(board).status_code == 200
    assert len(few) == len(many) <= 8, many  # user; tenant + membership; counts; one query per column


def _email(app, org, ticket_id):
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.log_email(
        t, db.session.get(User, org["agent"]), direction="outbound", subject="Following up", summary=None))


def test_when_only_a_call_counts_a_personal_email_leaves_the_first_contact_clock_running(app, org, clock, client):
    set_sla(app, org["tenant_id"], first_contact_stopped_by="call")
    ticket_id = open_ticket(app, org)
    _email(app, org, ticket_id)
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["status"] == "new"
    notices = notices_of(app, org["tenant_id"], ticket_id)
    assert notices["first_contact_breached"]["cancelled_at"] is None
    _as(app, org, client, "viewer")
    assert "<strong>First contact due in" in squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))

    _call(app, org, ticket_id)
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "contacted"
    assert notices_of(app, org["tenant_id"], ticket_id)["first_contact_breached"]["cancelled_at"] is not None


def test_when_a_call_or_a_personal_email_counts_the_email_meets_first_contact(app, org, clock):
    ticket_id = open_ticket(app, org)
    _email(app, org, ticket_id)
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "contacted"
    assert notices_of(app, org["tenant_id"], ticket_id)["first_contact_breached"]["cancelled_at"] is not None
