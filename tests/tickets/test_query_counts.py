"""The board and the ticket page run a fixed number of SQL statements, however many tickets there are."""
from __future__ import annotations

from tests.support.tickets import add_notes, bulk_tickets, count_queries, open_ticket, ticket_url


def _statements_for(app, client, url) -> list[str]:
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return list(statements)


def _spread(app, org, count, start):
    """``count`` tickets spread over the four columns and two assignees."""
    per = count // 4
    for i, status in enumerate(("new", "contacted", "action_plan", "closed")):
        assignee = org["agent"] if i % 2 == 0 else org["manager"]
        bulk_tickets(app, org["tenant_id"], per, status=status, assignee_id=assignee, start=start + i * per)


def test_board_query_count_does_not_grow_with_tickets(app, org, as_member):
    client = as_member("manager")
    _spread(app, org, 12, start=1)
    board = f"/t/{org['slug']}/"
    client.get(board)  # warm up anything done once per session
    few_all = _statements_for(app, client, board)
    few_mine = _statements_for(app, client, board + "?who=mine")

    _spread(app, org, 200, start=100)
    many_all = _statements_for(app, client, board)
    many_mine = _statements_for(app, client, board + "?who=mine")

    assert len(few_all) == len(many_all), many_all
    assert len(few_mine) == len(many_mine), many_mine
    # user; tenant + membership; the capped counts; every column's cards (one LIMIT branch each) with their
    # contact, account, response, assignee and plan progress
    assert len(many_all) <= 4, many_all


def test_ticket_page_query_count_does_not_grow_with_timeline_or_tickets(app, org, as_member):
    client = as_member("agent")
    ticket_id = open_ticket(app, org)
    page = ticket_url(org, ticket_id)
    client.get(page)
    few = _statements_for(app, client, page)

    add_notes(app, org["tenant_id"], ticket_id, 150, org["manager"])
    add_notes(app, org["tenant_id"], ticket_id, 50, org["admin"])
    bulk_tickets(app, org["tenant_id"], 200, start=500)
    many = _statements_for(app, client, page)

    assert len(few) == len(many), many
    # user; tenant + membership; ticket with its rows; timeline; assignable members; root causes for the close
    # form; tasks; action-plan items; their owners; plan templates; cadence settings
    assert len(many) <= 12, many


def test_viewer_ticket_page_query_count_is_fixed_too(app, org, as_member):
    client = as_member("viewer")
    ticket_id = open_ticket(app, org)
    page = ticket_url(org, ticket_id)
    client.get(page)
    few = _statements_for(app, client, page)
    add_notes(app, org["tenant_id"], ticket_id, 100, org["agent"])
    assert len(_statements_for(app, client, page)) == len(few)
