"""The root-cause Pareto: tickets closed in the period per cause, the cumulative share, and links to the tickets."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.settings.models import RootCause
from app.tenancy import tenant_context
from app.tickets import services as ticket_services
from app.tickets.models import Ticket
from tests.reports.support import roll_up
from tests.support.html import table_rows
from tests.support.tickets import open_ticket

NY = ZoneInfo("America/New_York")


def close_with(app, tenant_id, ticket_id, actor_id, *labels):
    with app.app_context(), tenant_context(tenant_id):
        causes = db.session.execute(select(RootCause.id).where(RootCause.label.in_(labels))).scalars().all()
        ticket_services.close_ticket(db.session.get(Ticket, ticket_id), db.session.get(User, actor_id),
                                     outcome="not_resolved", note="Talked it through.", root_cause_ids=causes)
        db.session.commit()
        db.session.remove()


def test_pareto_counts_closed_tickets_per_cause_with_the_cumulative_share(app, org, other_org, as_member, clock):
    """Closed in March: Billing errors ×3 (one also Communication), Communication ×2, Staff ×1 → 6 tags:
    50 %, 83.3 %, 100 %. A January closure and the other organisation's closures do not count."""
    t = org["tenant_id"]
    clock.move_to(datetime(2025, 1, 10, 10, tzinfo=NY))
    old = open_ticket(app, org, "Old Olive")
    close_with(app, t, old, org["manager"], "Billing errors")
    foreign = open_ticket(app, other_org, "Far Fred")
    close_with(app, other_org["tenant_id"], foreign, other_org["admin"], "Staff")
    clock.move_to(datetime(2025, 3, 3, 10, tzinfo=NY))
    tickets = [open_ticket(app, org, f"March {n}") for n in range(5)]
    foreign = open_ticket(app, other_org, "Far Fay")
    open_ticket(app, org, "Open Otis")  # still open: no cause counted
    clock.move_to(datetime(2025, 3, 5, 10, tzinfo=NY))
    for ticket_id, labels in zip(tickets, (("Billing errors",), ("Billing errors",),
                                           ("Billing errors", "Communication"), ("Communication",), ("Staff",))):
        close_with(app, t, ticket_id, org["manager"], *labels)
    close_with(app, other_org["tenant_id"], foreign, other_org["admin"], "Staff")

    roll_up(app)  # January is read from the rollup, today's closures live
    client = as_member("viewer")
    html = client.get(f"/t/{org['slug']}/reports/root-causes?period=custom&from=2025-03-01&to=2025-03-31"
                      ).get_data(as_text=True)
    assert table_rows(html, "pareto-table") == [["Billing errors", "3", "50%"], ["Communication", "2", "83.3%"],
                                                ["Staff", "1", "100%"]]
    assert table_rows(html, "cause-trend-table") == [["Billing errors", "3"], ["Communication", "2"], ["Staff", "1"]]
    bar = re.search(r'<a href="([^"]+)" aria-label="Billing errors: 3 tickets" class="chart-bar-link">', html)
    assert bar, html
    board = client.get(bar.group(1).replace("&amp;", "&")).get_data(as_text=True)
    with app.app_context(), tenant_context(t):
        numbers = dict(db.session.execute(select(Ticket.id, Ticket.number)).all())
        db.session.remove()
    for ticket_id in tickets[:3]:
        assert f"D-{numbers[ticket_id]:04d}" in board
    assert f"D-{numbers[tickets[4]]:04d}" not in board.split("Closed")[-1]

    html = client.get(f"/t/{org['slug']}/reports/root-causes?period=custom&from=2025-01-01&to=2025-03-31"
                      ).get_data(as_text=True)
    assert table_rows(html, "pareto-table")[0] == ["Billing errors", "4", "57.1%"]
    assert table_rows(html, "cause-trend-table")[0] == ["Billing errors", "1", "0", "3"]
    # The trend is drawn too: one line per cause, each with its own style and a title on every point, a legend,
    # and the table of the same numbers beside it.
    chart = re.search(r'<svg[^>]*aria-labelledby="cause-trend-title">(.*?)</svg>', html, re.S).group(1)
    assert "Tickets closed each month with each of the top 3 root causes" in chart
    assert [style for style in re.findall(r'class="chart-series chart-series-(\d)"', chart)] == ["0", "1", "2"]
    assert "<title>Billing errors, Mar 2025: 3 tickets</title>" in chart
    assert "<title>Staff, Feb 2025: 0 tickets</title>" in chart
    assert [label for label in re.findall(r'class="chart-axis" text-anchor="middle">([^<]+)<', chart)] == [
        "Jan 2025", "Feb 2025", "Mar 2025"]
    legend = re.search(r'<figcaption class="chart-legend">(.*?)</figcaption>', html.split("cause-trend-heading")[-1],
                       re.S).group(1)
    assert [item.strip() for item in re.findall(r'chart-legend-item"><span[^>]*></span>([^<]+)</span>', legend)] == [
        "Billing errors", "Communication", "Staff"]


def test_a_count_scale_names_each_tick_once_however_small():
    from app.reports import charts

    def labels(top):
        return [label for _, label in charts.pareto(["Billing errors"], [top], [100.0], ["#"]).ticks]

    assert labels(1) == ["1", "0"]  # one ticket: no "0" twice
    assert labels(2) == ["2", "1", "0"] and labels(7) == ["7", "4", "0"]
    ticks = charts.counts_by_step(["Jan", "Feb"], [("Billing errors", [1, 0])]).ticks
    assert [label for _, label in ticks] == ["1", "0"]
