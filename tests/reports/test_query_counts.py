"""Each report page runs a fixed number of SQL statements, however many responses and tickets there are."""
from __future__ import annotations

from datetime import timedelta

from app.timeutil import utcnow
from tests.reports.support import respond, roll_up
from tests.support.data import make_contact
from tests.support.tickets import bulk_tickets, count_queries

PAGES = ("", "?by=account", "?by=role", "?by=owner", "follow-up", "root-causes")


def _counts(app, client, org) -> dict[str, int]:
    out = {}
    for page in PAGES:
        url = f"/t/{org['slug']}/reports/{page}"
        with count_queries(app) as statements:
            assert client.get(url + ("&" if "?" in url else "?") + "period=90").status_code == 200
        out[page] = len(statements)
    return out


def test_report_pages_run_a_fixed_number_of_statements(app, org, as_member):
    client = as_member("viewer")
    t = org["tenant_id"]
    respond(app, t, make_contact(app, t, "First One"), 9, utcnow() - timedelta(days=3))
    bulk_tickets(app, t, 4, status="closed", start=1000)
    roll_up(app)
    client.get(f"/t/{org['slug']}/reports/")
    few = _counts(app, client, org)

    for n in range(12):
        respond(app, t, make_contact(app, t, f"Many {n}", account=f"Account {n % 5}"), n % 11,
                utcnow() - timedelta(days=n * 6))
    bulk_tickets(app, t, 40, status="closed", start=2000)
    bulk_tickets(app, t, 20, status="new", start=3000)
    roll_up(app)
    many = _counts(app, client, org)
    assert few == many
    assert max(many.values()) <= 12, many
