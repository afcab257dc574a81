"""The ticket board: four columns with counts, Mine / All, htmx swaps, empty state and column caps."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.settings.models import RootCause
from app.tenancy import tenant_context
from app.tickets import services
from app.tickets.models import Ticket
from app.timeutil import utcnow
from app.views import encode_cursor
from tests.support.tickets import (
    HTMX, any_root_cause, bulk_tickets, card_count, column_count, column_html, open_ticket, squash, with_ticket,
)


def _move(app, org, ticket_id, status, actor="manager"):
    with_ticket(app, org["tenant_id"], ticket_id,
                lambda t: services.move_status(t, db.session.get(User, org[actor]), status))


def _close(app, org, ticket_id, actor="manager"):
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.close_ticket(
        t, db.session.get(User, org[actor]), outcome="resolved", note="Refunded the charge.", root_cause_ids=any_root_cause()))


def test_board_shows_each_column_with_its_count_and_cards(app, org, as_member):
    first = open_ticket(app, org, "Casey Client", 3, account="Casey Dental")
    second = open_ticket(app, org, "Dana Doe", 0)
    third = open_ticket(app, org, "Eli East", 6)
    _move(app, org, second, "action_plan")
    _close(app, org, third)

    response = as_member("agent").get(f"/t/{org['slug']}/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<!doctype html>" in page
    for status, label in (("new", "New"), ("contacted", "Contacted"), ("action_plan", "Action plan"), ("closed", "Closed")):
        assert f'id="column-{status}">{label} ' in page
    assert [column_count(page, s) for s in ("new", "contacted", "action_plan", "closed")] == [1, 0, 1, 1]

    card = squash(column_html(page, "new"))
    assert f'href="/t/{org["slug"]}/tickets/{first}"' in card and "D-0001" in card
    assert '<span class="score band-detractor"' in card and "</span>3</span>" in card
    assert "Casey Client" in card and "Casey Dental" in card
    assert "Alex Agent · opened just now" in card
    assert "D-0002" in column_html(page, "action_plan") and "D-0003" in column_html(page, "closed")
    assert "No tickets here." in column_html(page, "contacted")


def test_mine_shows_only_my_tickets_and_all_is_the_default(app, org, as_member):
    mine = open_ticket(app, org, "Casey Client")
    open_ticket(app, org, "Dana Doe")  # stays with the agent, whom round-robin picked
    with_ticket(app, org["tenant_id"], mine, lambda t: services.reassign(
        t, db.session.get(User, org["agent"]), db.session.get(User, org["manager"])))

    client = as_member("manager")
    everything = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert "D-0001" in everything and "D-0002" in everything
    assert 'aria-current="page">All tickets' in squash(everything)

    only_mine = client.get(f"/t/{org['slug']}/?who=mine").get_data(as_text=True)
    assert "D-0001" in only_mine and "D-0002" not in only_mine
    assert column_count(only_mine, "new") == 1
    assert 'aria-current="page">Mine' in squash(only_mine)

    # Anything else than "mine" falls back to all.
    assert "D-0002" in client.get(f"/t/{org['slug']}/?who=nonsense").get_data(as_text=True)


def test_filter_through_htmx_returns_only_the_board_fragment(app, org, as_member):
    open_ticket(app, org)
    response = as_member("agent").get(f"/t/{org['slug']}/?who=mine", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    fragment = response.get_data(as_text=True)
    assert "<!doctype html>" not in fragment and "<header" not in fragment.split('<nav class="board-filter"')[0]
    assert 'class="board"' in fragment and "D-0001" in fragment
    assert 'hx-target="#board"' in fragment and 'hx-push-url="true"' in fragment


def test_empty_board_tells_the_user_to_send_a_survey(app, org, as_member):
    client = as_member("agent")
    page = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert "No detractor tickets yet" in page
    assert f'<a href="/t/{org["slug"]}/surveys/send" role="button">Send a survey</a>' in page
    assert 'class="board"' not in page

    mine = client.get(f"/t/{org['slug']}/?who=mine").get_data(as_text=True)
    assert "No tickets are assigned to you" in mine and "See all tickets" in mine


def test_viewer_sees_the_board_but_no_send_button(app, org, as_member):
    page = as_member("viewer").get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert "No detractor tickets yet" in page and "Send a survey</a>" not in page
    open_ticket(app, org)
    assert "D-0001" in as_member("viewer").get(f"/t/{org['slug']}/").get_data(as_text=True)


def test_columns_show_at_most_twenty_cards_with_the_full_count(app, org, as_member):
    bulk_tickets(app, org["tenant_id"], 60, status="new", start=1)
    closed = bulk_tickets(app, org["tenant_id"], 55, status="closed", start=100)

    page = as_member("manager").get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert column_count(page, "new") == 60 and card_count(page, "new") == 20
    assert column_count(page, "closed") == 55 and card_count(page, "closed") == 20
    assert "Showing the oldest 20 of 60." in page
    assert "Showing the most recently closed 20 of 55." in page
    new_column, closed_column = column_html(page, "new"), column_html(page, "closed")
    # Working columns keep the longest-waiting tickets; the closed column the most recently closed.
    assert "D-0001<" in new_column and "D-0060<" not in new_column
    assert "D-0154<" in closed_column and "D-0100<" not in closed_column
    assert closed_column.index("D-0154<") < closed_column.index("D-0153<")
    assert len(closed) == 55


def test_show_more_pages_a_column_by_keyset_as_page_and_htmx_fragment(app, org, as_member):
    bulk_tickets(app, org["tenant_id"], 45, status="closed", start=1)
    client = as_member("agent")
    page = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    closed = column_html(page, "closed")
    more = re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#cards-closed" hx-swap="beforeend">'
                     r'Show more closed tickets</a>', closed)
    assert more and card_count(page, "closed") == 20 and "D-0045<" in closed and "D-0025<" not in closed
    more_url = unescape(more.group(1))

    fragment = client.get(more_url, headers=HTMX)
    assert fragment.status_code == 200
    cards = fragment.get_data(as_text=True)
    assert "<!doctype html>" not in cards and cards.count('<li class="card">') == 20
    assert "D-0025<" in cards and "D-0006<" in cards and "D-0026<" not in cards
    assert 'id="more-closed" hx-swap-oob="true"' in cards

    whole = client.get(more_url)
    assert whole.status_code == 200 and "<h1>Closed tickets</h1>" in whole.get_data(as_text=True)
    last = client.get(unescape(re.search(r'<a href="([^"]+)"', cards.split('id="more-closed"')[1]).group(1)),
                      headers=HTMX).get_data(as_text=True)
    assert last.count('<li class="card">') == 5 and "That is every closed ticket." in last


def test_an_unknown_column_is_404(app, org, as_member):
    assert as_member("agent").get(f"/t/{org['slug']}/columns/bogus").status_code == 404


def test_show_more_keeps_the_sla_due_order_and_lists_tickets_without_a_due_time_last(app, org, as_member):
    ids = bulk_tickets(app, org["tenant_id"], 25, status="new", start=1)
    with app.app_context(), tenant_context(org["tenant_id"]):
        # D-0001 … D-0022 fall due in reverse order of opening; D-0023 … D-0025 have no due time.
        for n, ticket_id in enumerate(ids[:22]):
            db.session.get(Ticket, ticket_id).first_contact_due_at = utcnow() + timedelta(hours=100 - n)
        db.session.commit()
        db.session.remove()
    client = as_member("agent")
    page = client.get(f"/t/{org['slug']}/?sort=due").get_data(as_text=True)
    first = re.findall(r"<strong>(D-\d+)</strong>", column_html(page, "new"))
    assert first == [f"D-{n:04d}" for n in range(22, 2, -1)]
    more_url = unescape(re.search(r'<a href="([^"]+)"[^>]*>Show more new tickets</a>', page).group(1))
    assert "sort=due" in more_url
    rest = re.findall(r"<strong>(D-\d+)</strong>", client.get(more_url, headers=HTMX).get_data(as_text=True))
    assert rest == ["D-0002", "D-0001", "D-0023", "D-0024", "D-0025"]


def test_the_root_cause_filter_counts_closed_tickets_of_that_cause_and_mine_narrows_them(app, org, as_member):
    mine = bulk_tickets(app, org["tenant_id"], 3, status="closed", assignee_id=org["manager"], start=1)
    others = bulk_tickets(app, org["tenant_id"], 2, status="closed", assignee_id=org["agent"], start=10)
    other_cause = bulk_tickets(app, org["tenant_id"], 1, status="closed", assignee_id=org["manager"], start=20)
    working = bulk_tickets(app, org["tenant_id"], 1, status="waiting", assignee_id=org["manager"], start=30)
    with app.app_context(), tenant_context(org["tenant_id"]):
        cause, other = db.session.execute(select(RootCause).order_by(RootCause.id).limit(2)).scalars().all()
        for ticket_id in mine + others + working:
            db.session.get(Ticket, ticket_id).root_causes = [cause]
        db.session.get(Ticket, other_cause[0]).root_causes = [other]
        cause_id = cause.id
        db.session.commit()
        db.session.remove()
    client = as_member("manager")

    page = client.get(f"/t/{org['slug']}/?cause={cause_id}").get_data(as_text=True)
    assert column_count(page, "closed") == 5 and card_count(page, "closed") == 5
    assert "D-0020<" not in column_html(page, "closed")
    assert column_count(page, "waiting") == 1  # working columns are not filtered

    only_mine = client.get(f"/t/{org['slug']}/?who=mine&cause={cause_id}").get_data(as_text=True)
    assert column_count(only_mine, "closed") == 3 and card_count(only_mine, "closed") == 3
    assert "D-0010<" not in column_html(only_mine, "closed")


def test_a_cursor_of_the_wrong_kind_shows_the_first_cards_rather_than_an_error(app, org, as_member):
    bulk_tickets(app, org["tenant_id"], 25, status="closed", start=1)
    client = as_member("agent")
    for cursor in (encode_cursor([1, 2]), encode_cursor(["soon", 2]), "not-a-cursor"):
        response = client.get(f"/t/{org['slug']}/columns/closed?after={cursor}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "D-0025<" in page and page.count('<li class="card">') == 20
