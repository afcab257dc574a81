"""How fast the report pages are for an organisation with 1,000,000 responses and 100,000 tickets.

    createdb -h 127.0.0.1 -U postgres bench_reports
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_reports .venv/bin/python bench/seed_reports.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_reports .venv/bin/python bench/reports.py [--runs 5]

First it runs the sweep's rollup (the first run rolls up every day; it prints how long that took and how long
an incremental sweep with nothing new takes). Then for the overview (with its default breakdown, by source,
and with the on-demand breakdowns by account, team and role), the follow-up and the root-cause pages, for the last 90 days and
for two years, it prints the median server time of ``--runs`` in-process requests and the statement count,
for the big organisation and the small one (1,000 responses): the counts must be equal. Target: < 300 ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.reports.metrics import local_today  # noqa: E402
from app.reports.rollup import roll_up  # noqa: E402
from bench.pages import SqlMeter, login  # noqa: E402

TARGET_MS = 300
ROLLUP_TABLES = ("response_daily", "invitation_daily", "cause_daily", "response_account_daily",
                 "response_account_monthly", "response_role_daily", "ticket_daily",
                 "ticket_minutes_monthly")
ORGS = {"big": "big-billing", "small": "small-billing"}


def pages(today) -> list[tuple[str, str]]:
    two_years = f"period=custom&from={today - timedelta(days=729)}&to={today}"
    out = []
    for label, period in (("90 days", "period=90"), ("2 years", two_years)):
        out += [(f"overview, {label}", f"/reports/?{period}"),
                (f"overview by account, {label}", f"/reports/?{period}&by=account"),
                (f"overview by team, {label}", f"/reports/?{period}&by=team"),
                (f"overview by role, {label}", f"/reports/?{period}&by=role"),
                (f"follow-up, {label}", f"/reports/follow-up?{period}"),
                (f"root causes, {label}", f"/reports/root-causes?{period}")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    app = create_app({"APP_ENV": "development", "SECRET_KEY": "bench-reports", "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "JOBS_INLINE": False})
    with app.app_context():
        started = time.perf_counter()
        days = roll_up()
        print(f"rollup: {days:,} organisation-days in {time.perf_counter() - started:.1f} s")
        # What autovacuum does soon after a bulk write: statistics for the planner, and the visibility map that
        # lets the follow-up percentiles read their covering index alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ROLLUP_TABLES + ("ticket", "survey_invitation"):
                connection.execute(text(f"VACUUM ANALYZE {table}"))
        started = time.perf_counter()
        days = roll_up()
        print(f"incremental sweep: {days:,} organisation-days in {1000 * (time.perf_counter() - started):.0f} ms")
        meter = SqlMeter(db.engine)
        db.session.remove()
    today = local_today("America/New_York")
    results: dict[str, dict[str, tuple[float, int]]] = {}
    for name, slug in ORGS.items():
        client = login(app, slug, "admin")
        for label, path in pages(today):
            url = f"/t/{slug}{path}"
            assert client.get(url).status_code == 200, url
            times, counts = [], []
            for _ in range(args.runs):
                meter.reset()
                begun = time.perf_counter()
                response = client.get(url)
                times.append(1000 * (time.perf_counter() - begun))
                counts.append(meter.count)
                assert response.status_code == 200, url
            results.setdefault(label, {})[name] = (statistics.median(times), counts[-1])
    print(f"{'page':38} {'big ms':>8} {'stmts':>6} {'small ms':>9} {'stmts':>6}  verdict")
    for label, by_org in results.items():
        big_ms, big_n = by_org["big"]
        small_ms, small_n = by_org["small"]
        verdict = "ok" if big_ms < TARGET_MS and big_n == small_n else (
            f"over {TARGET_MS} ms" if big_ms >= TARGET_MS else "statement count grows")
        print(f"{label:38} {big_ms:8.0f} {big_n:6d} {small_ms:9.0f} {small_n:6d}  {verdict}")


if __name__ == "__main__":
    main()
