"""The ticket list: each filter, each order paged by keyset, search, bulk actions and their refusals, saved
views, and a page's statement count that does not grow with the tickets."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from sqlalchemy import select, update

from app.accounts.models import User
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import RootCause
from app.surveys.models import Response
from app.teams.models import Team
from app.tenancy import tenant_context
from app.tickets import services
from app.tickets.models import SavedView, Ticket
from app.timeutil import utcnow
from app.workflow.ticket_sla import sla_state
from tests.support.data import add_member
from tests.support.tickets import (
    HTMX, any_root_cause, bulk_tickets, count_queries, open_ticket, ticket_state, with_ticket,
)


def _list(org, query: str = "") -> str:
    return f"/t/{org['slug']}/tickets/" + (f"?{query}" if query else "")


def _refs(html: str) -> list[str]:
    """The references of the tickets the page lists, in order."""
    return re.findall(r'class="tick-label">(D-\d+)<', html) or re.findall(r'data-label="Ticket">\s*(D-\d+)', html)


def _get(client, url: str, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _next_url(html: str) -> str | None:
    match = re.search(r'<a href="([^"]+)"[^>]*>Next page', html)
    return unescape(match.group(1)) if match else None


def _all_pages(client, url: str) -> tuple[list[str], int]:
    """Every reference the list shows, following its "Next page" links; and how many pages it took."""
    refs, pages = [], 0
    while url:
        html = _get(client, url)
        refs += _refs(html)
        pages += 1
        url = _next_url(html)
        assert pages < 50
    return refs, pages


def _set(app, org, ticket_id: int, **values) -> None:
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
        db.session.commit()
        db.session.remove()


def _refs_of(app, org, ids) -> list[str]:
    with app.app_context(), tenant_context(org["tenant_id"]):
        found = {t.id: t.reference for t in db.session.execute(select(Ticket).where(Ticket.id.in_(ids))).scalars()}
        db.session.remove()
    return [found[i] for i in ids]


def _ref(app, org, ticket_id: int) -> str:
    return _refs_of(app, org, [ticket_id])[0]


@pytest.fixture()
def small_pages(app):
    app.config["PAGE_SIZE"] = 3
    yield 3
    app.config["PAGE_SIZE"] = 25


# --- Page ------------------------------------------------------------------------------------------

def test_list_shows_tickets_with_contact_score_status_assignee_and_sla(app, org, as_member):
    ticket_id = open_ticket(app, org, "Casey Client", 3)
    html = _get(as_member("agent"), _list(org))
    assert "<h1>Ticket list</h1>" in html
    row = re.search(r"<tr>\s*<td data-label=\"Ticket\">.*?</tr>", html, re.S).group(0)
    assert "D-0001" in row and f'href="/t/{org["slug"]}/tickets/{ticket_id}">Casey Client</a>' in row
    assert '<span class="score band-detractor">3</span> Detractor' in row
    assert ">New<" in row and "Alex Agent" in row and "First contact due in" in row
    assert "1 ticket</h2>" in html


def test_board_and_menu_link_to_the_list(app, org, as_member):
    board = _get(as_member("agent"), f"/t/{org['slug']}/")
    assert f'href="/t/{org["slug"]}/tickets/">Show as a list</a>' in board
    assert re.search(rf'<a href="/t/{org["slug"]}/tickets/"\s*>Ticket list</a>', board)


def test_every_filter_control_has_a_visible_label_and_the_form_works_without_javascript(app, org, as_member):
    html = _get(as_member("agent"), _list(org))
    form = re.search(r'<form method="get".*?</form>', html, re.S).group(0)
    for control_id in re.findall(r'<(?:select|input)[^>]* id="([^"]+)"', form):
        assert f'<label for="{control_id}">' in form, control_id
    assert '<button type="submit">Apply filters</button>' in form
    assert 'hx-get=' in form and 'hx-push-url="true"' in form


def test_htmx_gets_only_the_table_region(app, org, as_member):
    open_ticket(app, org)
    response = as_member("agent").get(_list(org, "status=open"), headers=HTMX)
    html = response.get_data(as_text=True)
    assert "<!doctype html>" not in html and '<section id="ticket-list"' in html
    assert "HX-Request" in response.headers["Vary"]
    assert 'id="list-sort" class="filter-sort" hx-swap-oob="true"' in html
    empty_fields = as_member("agent").get(_list(org, "status=open&band=&q=&sort=opened&dir=desc"), headers=HTMX)
    assert empty_fields.headers["HX-Push-Url"] == _list(org, "status=open")


def test_bad_values_are_ignored_and_a_bad_date_is_said_next_to_its_field(app, org, as_member):
    open_ticket(app, org)
    client = as_member("agent")
    html = _get(client, _list(org, "status=nope&assignee=x&team=-1&cause=99999999999&sort=zzz&dir=up&after=%%%"))
    assert _refs(html) == ["D-0001"]
    html = _get(client, _list(org, "opened_from=31-12-2025"))
    assert 'id="filter-opened-from-error" class="field-error">Enter a date as YYYY-MM-DD.' in html
    assert _refs(html) == ["D-0001"]


# --- Filters ---------------------------------------------------------------------------------------

def test_status_filter_open_and_each_status(app, org, as_member):
    new = open_ticket(app, org, "Nora New")
    moved = open_ticket(app, org, "Ada Plan")
    closed = open_ticket(app, org, "Cleo Closed")
    manager = org["manager"]
    with_ticket(app, org["tenant_id"], moved, lambda t: services.move_status(t, db.session.get(User, manager), "action_plan"))
    with_ticket(app, org["tenant_id"], closed, lambda t: services.close_ticket(
        t, db.session.get(User, manager), outcome="resolved", note="Fixed.", root_cause_ids=any_root_cause()))
    client = as_member("agent")
    assert set(_refs(_get(client, _list(org, "status=open")))) == set(_refs_of(app, org, [new, moved]))
    assert _refs(_get(client, _list(org, "status=action_plan"))) == [_ref(app, org, moved)]
    assert _refs(_get(client, _list(org, "status=closed"))) == [_ref(app, org, closed)]
    assert len(_refs(_get(client, _list(org)))) == 3


def test_band_and_trigger_filters(app, org, as_member):
    detractor = open_ticket(app, org, "Dee Tractor", 2)
    question = open_ticket(app, org, "Quinn Question", 5)  # made a passive opened by a trigger question below
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.get(Ticket, question)
        ticket.trigger = "question"
        db.session.execute(update(Response).where(Response.id == ticket.response_id).values(band="passive"))
        db.session.commit()
        db.session.remove()
    client = as_member("agent")
    assert _refs(_get(client, _list(org, "band=passive"))) == [_ref(app, org, question)]
    assert _refs(_get(client, _list(org, "band=detractor"))) == [_ref(app, org, detractor)]
    assert _refs(_get(client, _list(org, "trigger=question"))) == [_ref(app, org, question)]
    assert _refs(_get(client, _list(org, "trigger=score"))) == [_ref(app, org, detractor)]


def test_assignee_filter_me_unassigned_and_a_member(app, org, as_member):
    mine = open_ticket(app, org, "Mo Mine")  # round robin gives it to the agent
    theirs = open_ticket(app, org, "Tess Theirs")
    nobody = open_ticket(app, org, "Nia Nobody")
    _set(app, org, mine, assignee_id=org["agent"])
    _set(app, org, theirs, assignee_id=org["manager"])
    _set(app, org, nobody, assignee_id=None)
    client = as_member("agent")
    assert _refs(_get(client, _list(org, "assignee=me"))) == [_ref(app, org, mine)]
    assert _refs(_get(client, _list(org, "assignee=none"))) == [_ref(app, org, nobody)]
    assert _refs(_get(client, _list(org, f"assignee={org['manager']}"))) == [_ref(app, org, theirs)]
    page = _get(client, _list(org, "assignee=none"))
    assert "Unassigned" in page


def test_team_filter_a_team_and_my_teams(app, org, as_member):
    outsider = add_member(app, org["tenant_id"], "agent", "Owen Other", "owen@acme.example")
    in_team = open_ticket(app, org, "Tia Team")
    other = open_ticket(app, org, "Oli Out")
    _set(app, org, in_team, assignee_id=org["manager"])
    _set(app, org, other, assignee_id=outsider)
    with app.app_context(), tenant_context(org["tenant_id"]):
        team = Team(name="Customer Success", members=[db.session.get(User, org["manager"]),
                                                      db.session.get(User, org["agent"])])
        db.session.add(team)
        db.session.commit()
        team_id = team.id
        db.session.remove()
    client = as_member("agent")
    assert _refs(_get(client, _list(org, f"team={team_id}"))) == [_ref(app, org, in_team)]
    assert _refs(_get(client, _list(org, "team=mine"))) == [_ref(app, org, in_team)]


def test_team_filter_of_a_member_in_no_team_is_empty(app, org, as_member):
    open_ticket(app, org)
    html = _get(as_member("viewer"), _list(org, "team=mine"))
    assert _refs(html) == [] and "No tickets match these filters." in html


def test_account_filter_finds_tickets_by_part_of_the_account_name(app, org, as_member):
    lakeside = open_ticket(app, org, "Lee Lake")
    hillside = open_ticket(app, org, "Hal Hill")
    with app.app_context(), tenant_context(org["tenant_id"]):
        lake = CustomerAccount(name="Lakeside Dental")
        hill = CustomerAccount(name="Hillside Therapy")
        db.session.add_all([lake, hill])
        db.session.flush()
        db.session.execute(update(Ticket).where(Ticket.id == lakeside).values(account_id=lake.id))
        db.session.execute(update(Ticket).where(Ticket.id == hillside).values(account_id=hill.id))
        db.session.commit()
        db.session.remove()
    client = as_member("agent")
    html = _get(client, _list(org, "account=lakeside"))
    assert _refs(html) == [_ref(app, org, lakeside)] and "Lakeside Dental" in html
    assert _refs(_get(client, _list(org, "account=SIDE"))) == _refs_of(app, org, [hillside, lakeside])
    assert _refs(_get(client, _list(org, "account=100%25"))) == []


def test_sla_filter_agrees_with_what_each_ticket_shows(app, org, as_member):
    now = utcnow()
    on_time, at_risk, overdue, paused, met = (open_ticket(app, org, name) for name in
                                              ("Ona Time", "Rita Risk", "Ozzy Over", "Paula Paused", "Mel Met"))
    opened = now - timedelta(hours=10)
    _set(app, org, on_time, opened_at=opened, first_contact_due_at=now + timedelta(hours=30))  # 25% gone
    _set(app, org, at_risk, opened_at=opened, first_contact_due_at=now + timedelta(hours=2))  # 83% gone
    _set(app, org, overdue, opened_at=opened, first_contact_due_at=now - timedelta(minutes=5))
    _set(app, org, paused, opened_at=opened, first_contact_at=opened, paused_at=now, status="waiting")
    # First contact met: the resolution clock runs, 90% gone.
    _set(app, org, met, opened_at=opened, first_contact_at=opened + timedelta(hours=1),
         resolution_due_at=now + timedelta(hours=1), status="contacted")
    expected = {"ok": [on_time], "at_risk": [at_risk, met], "overdue": [overdue], "paused": [paused]}
    client = as_member("agent")
    with app.app_context(), tenant_context(org["tenant_id"]):
        levels = {t.id: sla_state(t).level for t in db.session.execute(select(Ticket)).scalars()}
        db.session.remove()
    for level, ids in expected.items():
        assert all(levels[i] == level for i in ids), levels
        assert sorted(_refs(_get(client, _list(org, f"sla={level}")))) == sorted(_refs_of(app, org, ids)), level


def test_closed_tickets_have_no_sla_state_to_filter_by(app, org, as_member):
    ticket_id = open_ticket(app, org)
    _set(app, org, ticket_id, first_contact_due_at=utcnow() - timedelta(hours=1))
    client = as_member("agent")
    assert len(_refs(_get(client, _list(org, "sla=overdue")))) == 1
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.close_ticket(
        t, db.session.get(User, org["manager"]), outcome="resolved", note="Fixed.", root_cause_ids=any_root_cause()))
    assert _refs(_get(client, _list(org, "sla=overdue"))) == []


def test_root_cause_filter(app, org, as_member):
    tagged = open_ticket(app, org, "Tag Ged")
    untagged = open_ticket(app, org, "Un Tagged")
    with app.app_context(), tenant_context(org["tenant_id"]):
        first, second = db.session.execute(select(RootCause.id).order_by(RootCause.id).limit(2)).scalars().all()
        db.session.remove()
    for ticket_id, cause in ((tagged, first), (untagged, second)):
        with_ticket(app, org["tenant_id"], ticket_id, lambda t, c=cause: services.close_ticket(
            t, db.session.get(User, org["manager"]), outcome="resolved", note="Fixed.", root_cause_ids=[c]))
    client = as_member("agent")
    assert _refs(_get(client, _list(org, f"cause={first}"))) == [_ref(app, org, tagged)]
    assert _refs(_get(client, _list(org, f"cause={second}"))) == [_ref(app, org, untagged)]


def test_opened_between_counts_whole_days_in_the_organisations_timezone(app, org, as_member):
    # New York is UTC-5 in January: 1 Jan 2026 runs from 05:00 UTC on 1 Jan to 05:00 UTC on 2 Jan.
    late_on_new_years_eve = open_ticket(app, org, "Eve Late")
    new_years_day = open_ticket(app, org, "Jan First")
    last_minute = open_ticket(app, org, "Min Last")
    _set(app, org, late_on_new_years_eve, opened_at=datetime(2026, 1, 1, 4, 59, tzinfo=timezone.utc))
    _set(app, org, new_years_day, opened_at=datetime(2026, 1, 1, 5, 0, tzinfo=timezone.utc))
    _set(app, org, last_minute, opened_at=datetime(2026, 1, 2, 4, 59, tzinfo=timezone.utc))
    client = as_member("agent")
    day = _refs(_get(client, _list(org, "opened_from=2026-01-01&opened_to=2026-01-01")))
    assert sorted(day) == sorted(_refs_of(app, org, [new_years_day, last_minute]))
    assert _refs(_get(client, _list(org, "opened_to=2025-12-31"))) == [_ref(app, org, late_on_new_years_eve)]
    assert _refs(_get(client, _list(org, "opened_from=2026-01-02"))) == []


def test_filters_combine(app, org, as_member):
    wanted = open_ticket(app, org, "Wanda Wanted", 1)
    open_ticket(app, org, "Not Mine", 1)
    closed = open_ticket(app, org, "Wendy Closed", 1)
    _set(app, org, closed, assignee_id=org["agent"])
    _set(app, org, wanted, assignee_id=org["agent"])
    with_ticket(app, org["tenant_id"], closed, lambda t: services.close_ticket(
        t, db.session.get(User, org["manager"]), outcome="resolved", note="Fixed.", root_cause_ids=any_root_cause()))
    html = _get(as_member("agent"), _list(org, "assignee=me&status=open&q=wan"))
    assert _refs(html) == [_ref(app, org, wanted)]
    assert "1 ticket matches these filters" in html


# --- Search ----------------------------------------------------------------------------------------

def test_search_finds_tickets_by_comment_note_call_email_and_contact_name(app, org, as_member):
    by_comment = open_ticket(app, org, "Cora Comment", comment="The REFUND-7731 never arrived")
    by_note = open_ticket(app, org, "Nate Note", comment="Slow")
    by_call = open_ticket(app, org, "Cal Call", comment="Slow")
    by_email = open_ticket(app, org, "Emma Email", comment="Slow")
    by_name = open_ticket(app, org, "Zebulon Quartz", comment="Slow")
    agent = org["agent"]
    with_ticket(app, org["tenant_id"], by_note,
                lambda t: services.add_note(t, db.session.get(User, agent), "Payer portal says 100% pending"))
    with_ticket(app, org["tenant_id"], by_call, lambda t: services.log_call(
        t, db.session.get(User, agent), called="Cal", outcome="no_answer", notes="Voicemail box full_again"))
    with_ticket(app, org["tenant_id"], by_email, lambda t: services.log_email(
        t, db.session.get(User, agent), direction="outbound", subject="Follow-up", summary="Sent the Kowalczyk invoice"))
    client = as_member("agent")
    for text, ticket_id in (("refund-7731", by_comment), ("100%", by_note), ("full_again", by_call),
                            ("kowalczyk", by_email), ("zebulon", by_name)):
        assert _refs(_get(client, _list(org, f"q={text.replace('%', '%25')}"))) == [_ref(app, org, ticket_id)], text
    assert _refs(_get(client, _list(org, "q=nothing-like-this"))) == []


def test_search_never_finds_another_organisations_tickets(app, org, other_org, as_member):
    open_ticket(app, other_org, "Shared Name", comment="Shared words")
    open_ticket(app, org, "Someone Else", comment="Different")
    html = _get(as_member("agent"), _list(org, "q=shared"))
    assert _refs(html) == [] and "Shared Name" not in html


# --- Orders and keyset pages -----------------------------------------------------------------------

def _seven(app, org) -> list[int]:
    """Seven tickets with different opened, due, score, status and last-update values."""
    ids = bulk_tickets(app, org["tenant_id"], 7, assignee_id=org["agent"], start=1)  # scores 0..6, oldest first
    now = utcnow()
    statuses = ["waiting", "new", "closed", "contacted", "action_plan", "new", "contacted"]
    for i, ticket_id in enumerate(ids):
        _set(app, org, ticket_id, status=statuses[i], updated_at=now - timedelta(minutes=(i * 3) % 7),
             first_contact_due_at=now + timedelta(hours=(i * 5) % 7 + 1) if i != 3 else None,
             resolution_due_at=now + timedelta(days=1) if i == 3 else None)
    return ids


def _expected(app, org, key) -> list[str]:
    with app.app_context(), tenant_context(org["tenant_id"]):
        rows = db.session.execute(select(Ticket).join(Ticket.response)).scalars().all()
        refs = [t.reference for t in sorted(rows, key=key)]
        db.session.remove()
    return refs


def _due(ticket: Ticket):
    due = ticket.first_contact_due_at if ticket.first_contact_at is None else ticket.resolution_due_at
    return due or datetime(9999, 12, 31, tzinfo=timezone.utc)


ORDERS = {
    "opened": lambda t: (t.opened_at, t.id),
    "due": lambda t: (_due(t), t.opened_at, t.id),
    "score": lambda t: (t.response.score, t.response.id),
    "status": lambda t: (t.status, t.opened_at, t.id),
    "updated": lambda t: (t.updated_at, t.id),
}


@pytest.mark.parametrize("sort", sorted(ORDERS))
def test_each_order_pages_by_keyset_in_both_directions(app, org, as_member, small_pages, sort):
    _seven(app, org)
    client = as_member("agent")
    ascending = _expected(app, org, ORDERS[sort])
    refs, pages = _all_pages(client, _list(org, f"sort={sort}&dir=asc"))
    assert refs == ascending and pages == 3
    refs, pages = _all_pages(client, _list(org, f"sort={sort}&dir=desc"))
    assert refs == list(reversed(ascending)) and pages == 3


def test_next_page_keeps_the_filters_and_first_page_link_returns(app, org, as_member, small_pages):
    ids = bulk_tickets(app, org["tenant_id"], 8, assignee_id=org["agent"], start=1)
    _set(app, org, ids[0], assignee_id=org["manager"])
    client = as_member("agent")
    first = _get(client, _list(org, "assignee=me&sort=opened&dir=asc"))
    following = _next_url(first)
    assert "assignee=me" in following and "after=" in following
    second = _get(client, following)
    assert "First page</a>" in second
    refs, _ = _all_pages(client, _list(org, "assignee=me&sort=opened&dir=asc"))
    assert refs == [f"D-{n:04d}" for n in range(2, 9)]


def test_column_headings_sort_and_say_their_order(app, org, as_member):
    _seven(app, org)
    html = _get(as_member("agent"), _list(org, "sort=score&dir=asc"))
    assert 'aria-sort="ascending"' in html
    assert re.search(r'href="[^"]*sort=score&amp;dir=desc"[^>]*>Score', html)
    assert re.search(r'href="[^"]*sort=due&amp;dir=asc"[^>]*>SLA due', html)


# --- Bulk actions ----------------------------------------------------------------------------------

def _bulk(client, org, ticket_ids, action, query="", key=None, headers=None, **fields):
    data = {"ticket": [str(i) for i in ticket_ids], "action": action, "query": query, **fields}
    if key:
        data["submission_key"] = key
    return client.post(f"/t/{org['slug']}/tickets/bulk", data=data, headers=headers or {})


def _flash(client, org) -> str:
    html = _get(client, _list(org))
    return " ".join(re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', html, re.S))


def test_bulk_assign_reassigns_through_the_service_and_skips_closed_tickets(app, org, as_member, smtp_sink):
    first, second, closed = (open_ticket(app, org, name) for name in ("Ann One", "Bob Two", "Cy Closed"))
    with_ticket(app, org["tenant_id"], closed, lambda t: services.close_ticket(
        t, db.session.get(User, org["manager"]), outcome="resolved", note="Fixed.", root_cause_ids=any_root_cause()))
    client = as_member("agent")
    response = _bulk(client, org, [first, second, closed], "assign", query="status=open", assignee_id=org["manager"])
    assert response.status_code == 303 and response.headers["Location"].endswith("/tickets/?status=open")
    for ticket_id in (first, second):
        state = ticket_state(app, org["tenant_id"], ticket_id)
        assert state["assignee_id"] == org["manager"] and state["kinds"][0] == "reassigned"
    assert "reassigned" not in ticket_state(app, org["tenant_id"], closed)["kinds"]
    message = unescape(_flash(client, org))
    assert "2 tickets assigned." in message
    assert f"Skipped: {_ref(app, org, closed)} (This ticket is closed. Reopen it to make changes)." in message


def test_bulk_assign_to_the_current_assignee_is_skipped_as_unchanged(app, org, as_member):
    ticket_id = open_ticket(app, org)
    _set(app, org, ticket_id, assignee_id=org["agent"])
    client = as_member("agent")
    _bulk(client, org, [ticket_id], "assign", assignee_id=org["agent"])
    assert "0 tickets assigned. Skipped: D-0001 (already assigned to Alex Agent)." in unescape(_flash(client, org))


def test_bulk_move_refuses_waiting_before_first_contact_and_moves_the_rest(app, org, as_member):
    contacted, fresh = open_ticket(app, org, "Con Tacted"), open_ticket(app, org, "Fresh New")
    with_ticket(app, org["tenant_id"], contacted, lambda t: services.log_call(
        t, db.session.get(User, org["agent"]), called="Con", outcome="connected", notes=None))
    client = as_member("agent")
    _bulk(client, org, [contacted, fresh], "move", status="waiting")
    assert ticket_state(app, org["tenant_id"], contacted)["status"] == "waiting"
    assert ticket_state(app, org["tenant_id"], fresh)["status"] == "new"
    message = unescape(_flash(client, org))
    assert "1 ticket moved to Waiting on customer." in message
    assert "Skipped: D-0002 (Log a call or an email with the customer first" in message


def test_bulk_close_as_no_response_needs_the_cadence_done_and_writes_the_note(app, org, as_member):
    done, running = open_ticket(app, org, "Done Cadence"), open_ticket(app, org, "Still Running")
    _set(app, org, done, cadence_complete_at=utcnow())
    cause = any_root_cause_id(app, org)
    client = as_member("agent")
    response = _bulk(client, org, [done, running], "close", root_cause=str(cause), note="Three attempts, no answer.")
    assert response.status_code == 303
    closed = ticket_state(app, org["tenant_id"], done)
    assert closed["status"] == "closed" and closed["outcome"] == "no_response"
    assert closed["closing_note"] == "Three attempts, no answer." and closed["kinds"][0] == "closed"
    still = ticket_state(app, org["tenant_id"], running)
    assert still["status"] == "new" and "closed" not in still["kinds"]
    message = unescape(_flash(client, org))
    assert "1 ticket closed as no response." in message and "Skipped: D-0002 (“No response” can be chosen once" in message


def any_root_cause_id(app, org) -> int:
    with app.app_context(), tenant_context(org["tenant_id"]):
        cause = any_root_cause()[0]
        db.session.remove()
    return cause


def test_bulk_close_without_a_note_or_root_cause_is_refused_next_to_the_fields(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = _bulk(as_member("agent"), org, [ticket_id], "close", note="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="root_cause-error" class="field-error">Choose a root cause for closing.' in html
    assert 'id="note-error" class="field-error">Write a closing note.' in html
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"


def test_bulk_without_ticked_tickets_or_assignee_is_refused(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    response = _bulk(client, org, [], "assign", assignee_id=org["manager"], headers=HTMX)
    assert response.status_code == 422 and "Tick at least one ticket." in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#ticket-list"
    response = _bulk(client, org, [ticket_id], "assign")
    assert response.status_code == 422
    assert "Choose who to assign the tickets to." in response.get_data(as_text=True)
    response = _bulk(client, org, [ticket_id], "explode")
    assert response.status_code == 422 and "Choose an action." in response.get_data(as_text=True)


def test_bulk_with_htmx_answers_with_the_refreshed_table_and_the_flash(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = _bulk(as_member("agent"), org, [ticket_id], "move", query="status=new", status="action_plan",
                     headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and '<section id="ticket-list"' in html
    assert "1 ticket moved to Action plan." in html and _refs(html) == []


def test_bulk_form_posted_twice_with_one_key_does_its_work_once(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    key = "k" * 32
    for _ in range(2):
        response = _bulk(client, org, [ticket_id], "move", key=key, status="action_plan")
        assert response.status_code == 303
    kinds = ticket_state(app, org["tenant_id"], ticket_id)["kinds"]
    assert kinds.count("status") == 1
    html = _get(client, _list(org))
    assert 'name="submission_key"' in html


def test_bulk_ignores_another_organisations_tickets(app, org, other_org, as_member):
    theirs = open_ticket(app, other_org, "Their Ticket")
    _bulk(as_member("agent"), org, [theirs], "move", status="action_plan")
    assert ticket_state(app, other_org["tenant_id"], theirs)["status"] == "new"


def test_viewers_see_the_list_but_cannot_act_in_bulk(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("viewer")
    html = _get(client, _list(org))
    assert _refs(html) == ["D-0001"] and 'name="ticket"' not in html and "Assign ticked tickets" not in html
    assert _bulk(client, org, [ticket_id], "move", status="action_plan").status_code == 403


# --- Saved views -----------------------------------------------------------------------------------

def test_save_list_open_and_delete_a_view(app, org, as_member):
    open_ticket(app, org)
    client = as_member("agent")
    response = client.post(f"/t/{org['slug']}/tickets/views",
                           data={"view-name": "Mine, open", "view-query": "assignee=me&status=open&after=xyz&bogus=1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("?status=open&assignee=me")
    html = _get(client, _list(org))
    assert f'<a href="/t/{org["slug"]}/tickets/?status=open&amp;assignee=me">Mine, open</a>' in html
    with app.app_context(), tenant_context(org["tenant_id"]):
        view = db.session.execute(select(SavedView)).scalar_one()
        view_id, query = view.id, view.query
        db.session.remove()
    assert query == "status=open&assignee=me"

    # The same name again updates the view.
    client.post(f"/t/{org['slug']}/tickets/views", data={"view-name": "Mine, open", "view-query": "sla=overdue"})
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(SavedView.query)).scalars().all() == ["sla=overdue"]
        db.session.remove()

    confirm = _get(client, f"/t/{org['slug']}/tickets/views/{view_id}/delete")
    assert "Delete the view “Mine, open”?" in unescape(confirm) and "Delete view</button>" in confirm
    response = client.post(f"/t/{org['slug']}/tickets/views/{view_id}/delete")
    assert response.status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(SavedView)).first() is None
        db.session.remove()
    assert "View “Mine, open” deleted." in unescape(_flash(client, org))


def test_a_view_needs_a_name(app, org, as_member):
    response = as_member("agent").post(f"/t/{org['slug']}/tickets/views", data={"view-name": " ", "view-query": ""})
    assert response.status_code == 422
    assert 'id="view-name-error" class="field-error">Give the view a name.' in response.get_data(as_text=True)


def test_ready_made_views_my_overdue_and_team_at_risk(app, org, as_member):
    now = utcnow()
    overdue, at_risk = open_ticket(app, org, "Ova Due"), open_ticket(app, org, "Risa Risk")
    _set(app, org, overdue, assignee_id=org["agent"], first_contact_due_at=now - timedelta(hours=1))
    _set(app, org, at_risk, assignee_id=org["manager"], opened_at=now - timedelta(hours=9),
         first_contact_due_at=now + timedelta(hours=1))
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add(Team(name="Customer Success", members=[db.session.get(User, org["manager"]),
                                                              db.session.get(User, org["agent"])]))
        db.session.commit()
        db.session.remove()
    client = as_member("agent")
    html = _get(client, _list(org))
    my_overdue = unescape(re.search(r'<a href="([^"]+)">My overdue</a>', html).group(1))
    team_at_risk = unescape(re.search(r'<a href="([^"]+)">Team at risk</a>', html).group(1))
    assert _refs(_get(client, my_overdue)) == [_ref(app, org, overdue)]
    assert _refs(_get(client, team_at_risk)) == [_ref(app, org, at_risk)]


def test_another_members_or_organisations_view_is_a_404(app, org, other_org, as_member):
    with app.app_context():
        with tenant_context(other_org["tenant_id"]):
            theirs = SavedView(user_id=other_org["admin"], name="Theirs", query="status=open")
            db.session.add(theirs)
            db.session.commit()
            theirs_id = theirs.id
        with tenant_context(org["tenant_id"]):
            colleagues = SavedView(user_id=org["manager"], name="Colleague's", query="status=open")
            db.session.add(colleagues)
            db.session.commit()
            colleagues_id = colleagues.id
        db.session.remove()
    client = as_member("agent")
    for view_id in (theirs_id, colleagues_id):
        assert client.get(f"/t/{org['slug']}/tickets/views/{view_id}/delete").status_code == 404
        assert client.post(f"/t/{org['slug']}/tickets/views/{view_id}/delete").status_code == 404
    assert "Colleague" not in _get(client, _list(org))


# --- Statement count -------------------------------------------------------------------------------

def _statements(app, client, url) -> list[str]:
    with count_queries(app) as statements:
        assert client.get(url).status_code == 200
    return list(statements)


def test_a_page_runs_the_same_statements_for_5_and_50_tickets(app, org, as_member):
    client = as_member("agent")
    with app.app_context(), tenant_context(org["tenant_id"]):
        account = CustomerAccount(name="Big Account")
        db.session.add(account)
        db.session.commit()
        account_id = account.id
        db.session.remove()
    few = bulk_tickets(app, org["tenant_id"], 5, assignee_id=org["agent"], start=1)
    for ticket_id in few:
        _set(app, org, ticket_id, account_id=account_id)
    urls = [_list(org), _list(org, "sort=score"), _list(org, "status=open&assignee=me&q=bulk&sla=ok&sort=due")]
    client.get(urls[0])
    counts_few = [len(_statements(app, client, url)) for url in urls]

    many = bulk_tickets(app, org["tenant_id"], 45, assignee_id=org["manager"], start=100)
    for ticket_id in many:
        _set(app, org, ticket_id, account_id=account_id)
    app.config["PAGE_SIZE"] = 50
    try:
        html = _get(client, _list(org))
        assert len(_refs(html)) == 50 and "Big Account" in html
        counts_many = [len(_statements(app, client, url)) for url in urls]
    finally:
        app.config["PAGE_SIZE"] = 25
    assert counts_few == counts_many
    # user; tenant + membership; the page; its capped count; members; teams; root causes; saved views
    assert max(counts_many) <= 8, counts_many
