"""How fast the ticket list is for an organisation with 100,000 tickets, first page and page 200, filtered.

    createdb -h 127.0.0.1 -U postgres bench_list
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_list .venv/bin/python bench/seed_pages.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_list REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/list.py [--runs 15]

The data set is ``bench/seed_pages.py``'s (200 organisations; "big" has 100,000 tickets, "small" 1,000). For
each list below the script prints, for both organisations, the median server time of ``--runs`` requests made
in-process through the Flask test client (logged in as an agent), and the SQL time and statement count of the
median request (bench/pages.py's ``SqlMeter``). A deep page is reached as a person reaches it: following the
"Next page" links from the first page, up to page 200 (the small organisation's lists end sooner; their last
page is measured). Targets: every page under 150 ms server time, and the same statement count for 1,000 and
100,000 tickets.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from app.accounts.models import Tenant  # noqa: E402
from app.extensions import db  # noqa: E402
from app.teams.models import Team  # noqa: E402
from app.tenancy import tenant_context  # noqa: E402
from app.timeutil import localize, utcnow  # noqa: E402
from bench.pages import ORGS, SECRET_KEY, Page, SqlMeter, login, make_app, measure  # noqa: E402

SERVER_MS = 150
DEEP_PAGE = 200
NEXT = re.compile(r'<a href="([^"]+)"[^>]*>Next page')


def _filters(app, slug: str) -> dict[str, str]:
    """The query strings measured: three filters combined (status, team, opened since), and the same
    with an SLA state and a search instead."""
    with app.app_context():
        tenant = db.session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one()
        with tenant_context(tenant.id):
            team_id = db.session.execute(select(Team.id).where(Team.name == "Customer Success")).scalar_one()
        since = localize(utcnow() - timedelta(days=200), tenant.timezone).date().isoformat()
        db.session.remove()
    return {
        "closed, team, opened since": f"status=closed&team={team_id}&opened_from={since}",
        "open, team, SLA due order": f"status=open&team={team_id}&opened_from={since}&sort=due",
        "account, contact search, score order": "account=practice%201&q=ada%20okafor&status=closed&sort=score",
    }


def _deep(client, url: str) -> tuple[str, int]:
    """The URL of page ``DEEP_PAGE`` of the list at ``url`` (or of its last page), following "Next page"."""
    page = 1
    while page < DEEP_PAGE:
        html = client.get(url).get_data(as_text=True)
        found = NEXT.search(html)
        if not found:
            break
        url, page = unescape(found.group(1)), page + 1
    return url, page


def pages_for(app, slug: str) -> tuple[list[Page], dict[str, int]]:
    """The pages to measure, and the page number of each."""
    client = login(app, slug, "agent")
    base = f"/t/{slug}/tickets/"
    pages, numbers = [], {}
    for label, query in _filters(app, slug).items():
        first = f"{base}?{query}"
        deep, number = _deep(client, first)
        pages += [Page(f"{label}: page 1", first), Page(f"{label}: deep", deep)]
        numbers[f"{label}: page 1"], numbers[f"{label}: deep"] = 1, number
    return pages, numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="in-process requests per page (median)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or "bench" not in urlsplit(url).path:
        sys.exit("DATABASE_URL must name the PostgreSQL database bench/seed_pages.py filled (its name contains 'bench')")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["SECRET_KEY"] = SECRET_KEY

    app = make_app()
    with app.app_context():
        meter = SqlMeter(db.engine)
    measured, listed, numbers = {}, {}, {}
    for size, slug in ORGS.items():
        listed[size], numbers[size] = pages_for(app, slug)
        measured[size] = measure(app, meter, slug, listed[size], args.runs)

    missed = []
    print(f"\nTicket list; median of {args.runs} requests; deep = page {DEEP_PAGE} by keyset (or the last page)")
    print(f"{'list':<46} {'tickets':>8} {'page':>5} {'server ms':>9} {'SQL ms':>7} {'stmts':>5}  target")
    for size, tickets in (("small", "1,000"), ("big", "100,000")):
        for page in listed[size]:
            row = measured[size][page.label]
            ok = row["server_ms"] < SERVER_MS
            if not ok:
                missed.append(f"{page.label} ({tickets})")
            number = numbers[size][page.label]
            print(f"{page.label:<46} {tickets:>8} {number:5d} {row['server_ms']:9.1f} {row['sql_ms']:7.1f} "
                  f"{row['statements']:5d}  {'met' if ok else 'MISSED'}")
    print("\nStatements per request at 1,000 and at 100,000 tickets")
    for small, big in zip(listed["small"], listed["big"]):
        counts = measured["small"][small.label]["statements"], measured["big"][big.label]["statements"]
        if counts[0] != counts[1]:
            missed.append(f"{small.label} (statements)")
        print(f"{small.label:<46} {counts[0]:6d} {counts[1]:8d}  {'equal' if counts[0] == counts[1] else 'DIFFERENT'}")
    print("\nAll targets met." if not missed else "\nMissed: " + ", ".join(missed))


if __name__ == "__main__":
    main()
