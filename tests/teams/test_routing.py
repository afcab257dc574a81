"""Who a new ticket goes to: one test per routing rule, capacity and absence, the notice when everyone is at
capacity, one query for every candidate's load, and two tickets racing for a member's last slot."""
from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import select

from app.accounts.models import Tenant
from app.extensions import db
from app.settings.services import get_settings
from app.teams import routing
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.support.data import add_member, make_contact, run_jobs
from tests.support.tickets import bulk_tickets, count_queries, open_ticket
from tests.support.workflow import set_sla
from tests.teams.helpers import kinds_sent, make_account, make_team, set_member, ticket_for

# The clock fixture stands at Monday 3 March 2025, 09:00 in New York.
TOMORROW, TODAY = date(2025, 3, 4), date(2025, 3, 3)
OWNER, TEAM, OVERFLOW = "the account owner", "round robin in the routing team", "everyone was at capacity or away"


def _team_of_two(app, org) -> dict:
    """Olive owns the Casey Dental account; Tom and Tia are the routing team "Customer Success"."""
    tenant_id = org["tenant_id"]
    people = {"olive": add_member(app, tenant_id, "agent", "Olive Owner", "olive@acme.example"),
              "tom": add_member(app, tenant_id, "agent", "Tom Team", "tom@acme.example"),
              "tia": add_member(app, tenant_id, "agent", "Tia Team", "tia@acme.example")}
    people["account"] = make_account(app, tenant_id, "Casey Dental", people["olive"])
    people["team"] = make_team(app, tenant_id, "Customer Success", [people["tom"], people["tia"]],
                               manager_id=org["manager"])
    set_sla(app, tenant_id, routing_team_id=people["team"])
    return people


def test_the_account_owner_under_capacity_gets_the_ticket(app, org, clock):
    people = _team_of_two(app, org)

    assert ticket_for(app, org, "Casey Client", people["account"]) == (people["olive"], OWNER)
    assert ticket_for(app, org, "Dana Doe", people["account"]) == (people["olive"], OWNER)
    # A contact with no account goes round the routing team.
    assert ticket_for(app, org, "Eve Elsewhere") == (people["tom"], TEAM)

    set_sla(app, org["tenant_id"], route_to_account_owner=False)
    assert ticket_for(app, org, "Fay Field", people["account"]) == (people["tia"], TEAM)


def test_an_owner_at_capacity_or_away_is_passed_by_for_round_robin_in_the_team(app, org, clock):
    people = _team_of_two(app, org)
    set_member(app, org["tenant_id"], people["olive"], capacity=2)
    bulk_tickets(app, org["tenant_id"], 2, assignee_id=people["olive"])

    # Least recently assigned first: Tom and Tia have never had one, Tom joined first; then Tia; then Tom.
    routed = []
    for n in range(3):
        clock.shift(timedelta(minutes=1))
        routed.append(ticket_for(app, org, f"Client {n}", people["account"]))
    assert routed == [(people["tom"], TEAM), (people["tia"], TEAM), (people["tom"], TEAM)]

    clock.shift(timedelta(minutes=1))
    set_member(app, org["tenant_id"], people["olive"], capacity=50, away_until=TOMORROW)
    assert ticket_for(app, org, "Away Case", people["account"]) == (people["tia"], TEAM)
    # The return date is the day they are back.
    set_member(app, org["tenant_id"], people["olive"], away_until=TODAY)
    assert ticket_for(app, org, "Back Case", people["account"]) == (people["olive"], OWNER)


def test_a_busy_team_hands_over_to_round_robin_among_everyone_agents_first(app, org, clock):
    people = _team_of_two(app, org)
    set_member(app, org["tenant_id"], people["tom"], capacity=0)
    set_member(app, org["tenant_id"], people["tia"], away_until=TOMORROW)
    set_member(app, org["tenant_id"], people["olive"], capacity=0)

    assert ticket_for(app, org, "First Case") == (org["agent"], None)
    assert ticket_for(app, org, "Second Case") == (org["agent"], None)
    # With no agent left with room, admins and managers take their turn.
    set_member(app, org["tenant_id"], org["agent"], capacity=2)
    assert ticket_for(app, org, "Third Case") == (org["admin"], None)
    assert ticket_for(app, org, "Fourth Case") == (org["manager"], None)


def test_when_everyone_is_at_capacity_the_routing_teams_manager_gets_it_and_the_managers_are_told(
        app, org, clock, smtp_sink):
    people = _team_of_two(app, org)
    for member in (org["admin"], org["manager"], org["agent"], people["olive"], people["tom"]):
        set_member(app, org["tenant_id"], member, capacity=0)
    set_member(app, org["tenant_id"], people["tia"], away_until=TOMORROW)

    assert ticket_for(app, org, "Casey Client", people["account"]) == (org["manager"], OVERFLOW)

    sent = kinds_sent(app, org["tenant_id"], "everyone_at_capacity")
    assert sent == [("admin@acme-billing.example", "Everyone is at capacity: D-0001 went to Mia Manager"),
                    ("mia@acme.example", "Everyone is at capacity: D-0001 went to Mia Manager")]
    run_jobs(app)
    mail = smtp_sink.to("admin@acme-billing.example")
    notice = next(m for m in mail if m["X-Turnaround-Kind"] == "everyone_at_capacity")
    body = notice.get_body(("plain",)).get_content()
    assert "Nobody at Acme Billing had room for a new ticket, so D-0001 was assigned to Mia Manager." in body
    assert "Casey" not in body and "invoice" not in body  # the ticket, never the contact
    assert "http://localhost/t/acme-billing/teams/workload" in body


def test_with_no_routing_team_manager_the_least_loaded_manager_or_admin_gets_it(app, org, clock):
    tenant_id = org["tenant_id"]
    for member in (org["admin"], org["manager"], org["agent"]):
        set_member(app, tenant_id, member, capacity=0)
    bulk_tickets(app, tenant_id, 1, assignee_id=org["admin"])

    assert ticket_for(app, org, "Casey Client") == (org["manager"], OVERFLOW)
    assert ticket_for(app, org, "Dana Doe") == (org["admin"], OVERFLOW)  # now they hold one each; Ada waited longer
    # Ada and Mia are told once for the hour, about the first ticket; an hour later the next one is news again.
    assert kinds_sent(app, tenant_id, "everyone_at_capacity") == [
        ("admin@acme-billing.example", "Everyone is at capacity: D-0001 went to Mia Manager"),
        ("mia@acme.example", "Everyone is at capacity: D-0001 went to Mia Manager")]
    clock.shift(timedelta(hours=1))
    assert ticket_for(app, org, "Evan Example") == (org["admin"], OVERFLOW)
    assert kinds_sent(app, tenant_id, "everyone_at_capacity")[2:] == [
        ("admin@acme-billing.example", "Everyone is at capacity: D-0003 went to Ada Admin"),
        ("mia@acme.example", "Everyone is at capacity: D-0003 went to Ada Admin")]


def test_routing_reads_every_candidates_load_with_the_same_queries_however_many_there_are(app, org, clock):
    tenant_id = org["tenant_id"]
    contact_id = make_contact(app, tenant_id, "Casey Client")

    def statements_to_route() -> int:
        with app.app_context(), tenant_context(tenant_id):
            tenant, settings = db.session.get(Tenant, tenant_id), get_settings()
            with count_queries(app) as statements:
                routing.route_new_ticket(tenant, settings, contact_id)
            db.session.rollback()
            db.session.remove()
        return len([s for s in statements if not s.lstrip().upper().startswith(("SELECT SET_CONFIG", "SAVEPOINT"))])

    few = statements_to_route()
    for n in range(20):
        member = add_member(app, tenant_id, "agent", f"Agent {n}", f"agent{n}@acme.example")
        bulk_tickets(app, tenant_id, 1, assignee_id=member, start=2000 + n)
    assert statements_to_route() == few


def test_two_tickets_opening_at_once_cannot_both_take_the_last_slot(app, org):
    tenant_id = org["tenant_id"]
    set_member(app, tenant_id, org["admin"], capacity=0)
    set_member(app, tenant_id, org["manager"], capacity=0)
    set_member(app, tenant_id, org["agent"], capacity=1)
    start = threading.Barrier(2)
    ids: list = [None, None]

    def opening(index: int) -> None:
        start.wait()
        ids[index] = open_ticket(app, org, f"Racer {index}")

    threads = [threading.Thread(target=opening, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    with app.app_context(), tenant_context(tenant_id):
        assignees = sorted(db.session.execute(select(Ticket.assignee_id).where(Ticket.id.in_(ids))).scalars())
        db.session.remove()
    assert assignees.count(org["agent"]) == 1, assignees
