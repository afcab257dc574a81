"""The follow-up report reads closed tickets of past days from ``ticket_daily``: on a known data set (tickets
closed either side of New York's midnight, one reopened, reassigned and closed again, one closed before its
breach time without contact, business-hours minutes, another organisation's tickets) the page's figures are
exactly those of the live query, after each sweep, for periods of a month, single days and ending today; the
root causes of the day a reopened ticket leaves are re-counted too."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.reports import metrics
from app.reports.models import AccountMonthly, ResponseDaily, TicketDaily, TicketMinutesMonthly
from app.tenancy import tenant_context
from app.tickets import services as ticket_services
from app.tickets.models import Status, Ticket
from app.timeutil import utcnow
from tests.api.conftest import Api, make_token
from tests.reports.support import roll_up
from tests.reports.test_follow_up import log_call, ny
from tests.reports.test_nps_overview import figure
from tests.support.html import table_rows
from tests.support.tickets import close, open_ticket

LONG_AGO = datetime(2001, 1, 1, tzinfo=timezone.utc)  # "today" before every period: root causes read live
PERIODS = [("2025-03-01", "2025-03-31"), ("2025-02-20", "2025-04-02"), ("2025-03-01", "2025-04-01"), ("2025-03-12", "2025-03-12"), ("2025-03-13", "2025-03-13"),
           ("2025-03-03", "2025-03-17"), ("2025-03-14", "2025-03-17")]


def _figures(app, tenant_id, rollups):
    """The follow-up figures, the members' figures and the root causes of every period."""
    out = {}
    with app.app_context(), tenant_context(tenant_id):
        now = utcnow()
        for first, last in PERIODS:
            period = metrics.period_for("custom", first, last, "America/New_York")
            out[first, last] = (metrics.follow_up(period, now, rollups=rollups),
                                metrics.member_load(period, now, rollups=rollups),
                                metrics.root_cause_pareto(period, now if rollups else LONG_AGO))
        db.session.remove()
    return out


def _assert_rolled_equals_live(app, tenant_id):
    rolled = _figures(app, tenant_id, True)
    assert rolled == _figures(app, tenant_id, False)
    return rolled


def _with_ticket(app, tenant_id, ticket_id, change):
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.get(Ticket, ticket_id)
        change(ticket)
        db.session.commit()
        db.session.remove()


def test_the_rolled_up_follow_up_figures_equal_the_live_ones(app, org, other_org, as_member, clock):
    t = org["tenant_id"]
    clock.move_to(ny(2025, 3, 3, 9))
    t1 = open_ticket(app, org, "Tia One")
    open_ticket(app, other_org, "Otto Other")
    clock.move_to(ny(2025, 3, 3, 11, 30))
    log_call(as_member, org, t1)  # 150 business minutes
    clock.move_to(ny(2025, 3, 7, 16))
    t2 = open_ticket(app, org, "Tom Two")
    clock.move_to(ny(2025, 3, 10, 9))
    t3 = open_ticket(app, org, "Tess Three")
    clock.move_to(ny(2025, 3, 10, 10))
    log_call(as_member, org, t2)  # across the weekend and the change to daylight saving time: 120 minutes
    clock.move_to(ny(2025, 3, 11, 16))
    log_call(as_member, org, t3)  # 900 minutes, after its due time
    t4 = open_ticket(app, org, "Tad Four")  # never contacted; its breach time, set here, is Friday noon
    _with_ticket(app, t, t4, lambda ticket: setattr(ticket, "first_contact_breach_at", ny(2025, 3, 14, 12)))
    clock.move_to(ny(2025, 3, 12, 10))
    close(app, t, t4, org["manager"])  # closed before its breach time, without contact
    clock.move_to(ny(2025, 3, 12, 23, 30))
    close(app, t, t2, org["manager"])  # 12 March in New York, 13 March in UTC
    clock.move_to(ny(2025, 3, 13, 0, 15))
    close(app, t, t3, org["manager"])  # just after New York's midnight
    close(app, other_org["tenant_id"], open_ticket(app, other_org, "Olga Other"), other_org["admin"])
    clock.move_to(ny(2025, 3, 13, 23, 50))
    close(app, t, t1, org["manager"])
    roll_up(app)

    clock.move_to(ny(2025, 3, 14, 9))
    figures = _assert_rolled_equals_live(app, t)
    march, _, _ = figures["2025-03-01", "2025-03-31"]
    assert (march.opened, march.closed, march.open_now, march.contacted) == (4, 4, 0, 3)
    assert (march.median_first_contact_minutes, march.p90_first_contact_minutes) == (150, 900)
    # T4's breach time is still ahead: not a breach yet; at that very moment neither; a minute later it is.
    assert march.first_contact_breaches == 0
    clock.move_to(ny(2025, 3, 14, 12))
    assert _assert_rolled_equals_live(app, t)["2025-03-01", "2025-03-31"][0].first_contact_breaches == 0
    clock.move_to(ny(2025, 3, 14, 12, 1))
    assert _assert_rolled_equals_live(app, t)["2025-03-01", "2025-03-31"][0].first_contact_breaches == 1
    assert figures["2025-03-12", "2025-03-12"][0].closed == 2
    assert figures["2025-03-13", "2025-03-13"][0].closed == 2

    # T1 is reopened and handed to Mia, then closed again on Monday; the sweep re-counts the day it left.
    clock.move_to(ny(2025, 3, 14, 13))
    with app.app_context(), tenant_context(t):
        manager = db.session.get(User, org["manager"])
        ticket = db.session.get(Ticket, t1)
        ticket_services.move_status(ticket, manager, Status.ACTION_PLAN)
        ticket_services.reassign(ticket, manager, manager)
        db.session.commit()
        db.session.remove()
    roll_up(app)
    figures = _assert_rolled_equals_live(app, t)
    assert figures["2025-03-13", "2025-03-13"][0].closed == 1
    assert figures["2025-03-13", "2025-03-13"][2][0][0].tickets == 1  # the root cause of T3 alone
    assert figures["2025-03-01", "2025-03-31"][0].open_now == 1

    clock.move_to(ny(2025, 3, 17, 9, 30))
    close(app, t, t1, org["manager"])
    roll_up(app)
    clock.move_to(ny(2025, 3, 17, 12))  # today, so the 17th is read live
    figures = _assert_rolled_equals_live(app, t)
    march, members, _ = figures["2025-03-01", "2025-03-31"]
    # By now T4 is past its breach time, never contacted.
    assert (march.closed, march.open_now, march.first_contact_breaches) == (4, 0, 1)
    assert {m.name: (m.closed, m.contacted) for m in members if m.closed} == {"Alex Agent": (3, 2),
                                                                               "Mia Manager": (1, 1)}

    # Tomorrow the 17th comes from the rollup too; the page shows the same.
    clock.move_to(ny(2025, 3, 18, 9))
    _assert_rolled_equals_live(app, t)
    with app.app_context(), tenant_context(t):
        assert db.session.execute(select(db.func.sum(TicketDaily.closed))).scalar_one() == 4
        db.session.remove()
    html = as_member("manager").get(
        f"/t/{org['slug']}/reports/follow-up?period=custom&from=2025-03-01&to=2025-03-31").get_data(as_text=True)
    assert figure(html, "opened") == "4" and figure(html, "closed") == "4"
    assert figure(html, "first-contact-breaches") == "1"
    assert figure(html, "median-first-contact") == "2 h 30 min"
    assert table_rows(html, "outcome-table")[1] == ["Not resolved", "4", "100%"]
    members = {row[0]: row[1:] for row in table_rows(html, "member-table")}
    assert members["Mia Manager"][3] == "1" and members["Alex Agent"][3] == "3"

    # In April, March is a whole month: its closed tickets' minutes come from the monthly histogram, while T5,
    # contacted in March and still open, is read live.
    clock.move_to(ny(2025, 3, 18, 10))
    t5 = open_ticket(app, org, "Tina Five")
    clock.move_to(ny(2025, 3, 18, 11))
    log_call(as_member, org, t5)  # 60 minutes
    roll_up(app)
    clock.move_to(ny(2025, 4, 2, 9))
    figures = _assert_rolled_equals_live(app, t)
    march, members, _ = figures["2025-03-01", "2025-03-31"]
    assert (march.contacted, march.median_first_contact_minutes, march.p90_first_contact_minutes) == (4, 120, 900)
    assert {m.name: m.median_first_contact_minutes for m in members if m.contacted} == {
        "Alex Agent": 120, "Mia Manager": 150}
    with app.app_context(), tenant_context(t):
        histogram = db.session.execute(select(TicketMinutesMonthly.minutes, TicketMinutesMonthly.tickets)
                                       .order_by(TicketMinutesMonthly.minutes)).all()
        db.session.remove()
    assert histogram == [(120, 1), (150, 1), (900, 1)]


def test_a_contact_deleted_through_the_api_leaves_every_rollup_after_the_next_sweep(app, client, org, clock):
    t = org["tenant_id"]
    clock.move_to(ny(2025, 3, 3, 9))
    gone, kept = open_ticket(app, org, "Gail Gone"), open_ticket(app, org, "Kit Kept")
    clock.move_to(ny(2025, 3, 4, 10))
    close(app, t, gone, org["manager"])
    close(app, t, kept, org["manager"])
    roll_up(app)

    def counted():
        with app.app_context(), tenant_context(t):
            sums = tuple(db.session.execute(select(db.func.sum(column))).scalar_one()
                         for column in (ResponseDaily.responses, AccountMonthly.detractors, TicketDaily.closed))
            db.session.remove()
        return sums

    clock.move_to(ny(2025, 3, 18, 9))
    assert _assert_rolled_equals_live(app, t)["2025-03-01", "2025-03-31"][0].closed == 2
    assert counted() == (2, 2, 2)

    with app.app_context(), tenant_context(t):
        contact_id = db.session.get(Ticket, gone).contact_id
        db.session.remove()
    api = Api(client, make_token(app, t, org["admin"]))
    assert api.delete(f"/contacts/{contact_id}").status_code == 204
    roll_up(app)
    assert _assert_rolled_equals_live(app, t)["2025-03-01", "2025-03-31"][0].closed == 1
    assert counted() == (1, 1, 1)
