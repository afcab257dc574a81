"""Follow-up performance: time to first contact on business hours, targets, outcomes and members' load."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.extensions import db
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.api.conftest import Api, make_token
from tests.reports.support import roll_up
from tests.reports.test_nps_overview import figure
from tests.support.html import table_rows
from tests.support.tickets import close, open_ticket, ticket_url

NY = ZoneInfo("America/New_York")
MARCH = "?period=custom&from=2025-03-01&to=2025-03-31"


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def log_call(as_member, org, ticket_id):
    client = as_member("manager")  # logged in afresh: the clock jumps past the idle timeout
    response = client.post(ticket_url(org, ticket_id, "calls"),
                           data={"call-called": "", "call-outcome": "no_answer", "call-notes": ""})
    assert response.status_code == 303, response.get_data(as_text=True)


def minutes_of(app, org, ticket_id):
    with app.app_context(), tenant_context(org["tenant_id"]):
        minutes = db.session.get(Ticket, ticket_id).first_contact_minutes
        db.session.remove()
    return minutes


def test_time_to_first_contact_counts_opening_hours_only(app, org, as_member, clock):
    """Opening hours Monday–Friday 09:00–17:00 in New York; first contact due one business day after opening.

    T1 opens Monday 3 March 09:00, first call 11:30: 150 minutes, within target.
    T2 opens Friday 7 March 16:00, first call Monday 10 March 10:00 (across a weekend and the change to
    daylight saving time): 60 + 60 = 120 minutes, within target (due Monday 16:00).
    T3 opens Monday 10 March 09:00, first call Tuesday 16:00: 480 + 420 = 900 minutes, after its due time.
    T4 is never contacted. Nearest-rank median of 120, 150, 900 is 150; the 90th percentile is 900.
    """
    clock.move_to(ny(2025, 3, 3, 9))
    t1 = open_ticket(app, org, "Tia One")
    clock.move_to(ny(2025, 3, 3, 11, 30))
    log_call(as_member, org, t1)
    clock.move_to(ny(2025, 3, 7, 16))
    t2 = open_ticket(app, org, "Tom Two")
    clock.move_to(ny(2025, 3, 10, 9))
    t3 = open_ticket(app, org, "Tess Three")
    clock.move_to(ny(2025, 3, 10, 10))
    log_call(as_member, org, t2)
    clock.move_to(ny(2025, 3, 11, 16))
    log_call(as_member, org, t3)
    open_ticket(app, org, "Tad Four")
    clock.move_to(ny(2025, 3, 12, 12))
    close(app, org["tenant_id"], t1, org["manager"])
    roll_up(app)  # the sweep: past days count closed tickets from the rollup
    client = as_member("manager")

    assert [minutes_of(app, org, t) for t in (t1, t2, t3)] == [150, 120, 900]
    html = client.get(f"/t/{org['slug']}/reports/follow-up{MARCH}").get_data(as_text=True)
    assert figure(html, "opened") == "4"
    assert figure(html, "closed") == "1"
    assert figure(html, "open-now") == "3"
    assert figure(html, "median-first-contact") == "2 h 30 min"
    assert figure(html, "p90-first-contact") == "15 h 00 min"
    assert figure(html, "first-contact-within") == "66.7% (2 of 3)"
    assert figure(html, "resolved-within") == "100% (1 of 1 closed)"
    # T4 (opened Tuesday 16:00, breach one business day and more later) has not breached yet on Wednesday noon.
    assert figure(html, "first-contact-breaches") == "0"
    assert table_rows(html, "outcome-table") == [["Resolved", "0", "0%"], ["Not resolved", "1", "100%"],
                                                 ["No response", "0", "0%"]]
    members = {row[0]: row[1:] for row in table_rows(html, "member-table")}
    # SQLite has no ordered-set aggregates: there the member's column is the average (390 minutes).
    with app.app_context():
        middle = "2 h 30 min" if db.engine.dialect.name == "postgresql" else "6 h 30 min"
    assert members["Alex Agent"] == ["3", "50", "6%", "1", "3", middle]

    # The API reads the same figures.
    api = Api(app.test_client(), make_token(app, org["tenant_id"], org["admin"], scope="read"))
    body = api.get("/reports/follow-up?from=2025-03-01&to=2025-03-31").get_json()
    assert (body["opened"], body["closed"], body["open_now"], body["first_contacts"]) == (4, 1, 3, 3)
    assert (body["first_contact_median_minutes"], body["first_contact_p90_minutes"]) == (150, 900)
    assert (body["first_contact_within_target"], body["first_contact_within_target_percent"]) == (2, 66.7)
    assert (body["resolved_within_target"], body["resolved_within_target_percent"]) == (1, 100.0)
    assert body["sla_breaches"]["first_contact"] == 0
    assert body["outcomes"] == {"resolved": 0, "not_resolved": 1, "no_response": 0}
    alex = next(member for member in body["members"] if member["name"] == "Alex Agent")
    assert (alex["open_now"], alex["capacity"], alex["load_percent"], alex["closed"], alex["first_contacts"]) == (
        3, 50, 6.0, 1, 3)
    assert alex["median_first_contact_minutes"] == (150 if middle == "2 h 30 min" else 390)

    # A period that holds only T3's first contact.
    html = client.get(f"/t/{org['slug']}/reports/follow-up?period=custom&from=2025-03-11&to=2025-03-11"
                      ).get_data(as_text=True)
    assert figure(html, "median-first-contact") == "15 h 00 min"
    assert figure(html, "first-contact-within") == "0% (0 of 1)"


def test_a_breach_counts_tickets_past_their_breach_time_without_contact(app, org, as_member, clock):
    clock.move_to(ny(2025, 3, 3, 9))
    open_ticket(app, org, "Una Late")
    clock.move_to(ny(2025, 3, 20, 9))
    html = as_member("viewer").get(f"/t/{org['slug']}/reports/follow-up{MARCH}").get_data(as_text=True)
    assert figure(html, "first-contact-breaches") == "1"
    assert figure(html, "median-first-contact") == "–"


def test_the_follow_up_page_counts_only_this_organisation(app, org, other_org, as_member, clock):
    clock.move_to(ny(2025, 3, 3, 9))
    open_ticket(app, other_org, "Otto Other")
    open_ticket(app, org, "Olga Own")
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(db.select(db.func.count(Ticket.id))).scalar_one() == 1
        db.session.remove()
    html = as_member("viewer").get(f"/t/{org['slug']}/reports/follow-up{MARCH}").get_data(as_text=True)
    assert figure(html, "opened") == "1"
    assert "Bo Agent" not in html
