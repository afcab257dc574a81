"""Seed the data set the reports benchmark (``bench/reports.py``) measures: 200 organisations, one holding
1,000,000 responses and 100,000 tickets over two years.

    createdb -h 127.0.0.1 -U postgres bench_reports
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_reports .venv/bin/python bench/seed_reports.py

PostgreSQL only; the database is emptied and rebuilt from the migrations (its name must contain "bench").
The organisations, contacts, tickets and their timelines come from ``bench/seed_pages.py``; on top of that the
big organisation gets 1,000,000 responses (and one invitation for each, plus 10 % never answered) spread evenly
over the last two years with every band and source, its tickets spread over the same two years with business
minutes to first contact, and a root cause on every closed ticket. The small organisation gets 1,000 responses.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.schema import rebuild_schema  # noqa: E402
from bench.seed_pages import (  # noqa: E402
    ORGANISATIONS, OTHER_SIZE, SIZES, _database_url, _max_id, _q, organisations, reset_sequences, tenant_rows,
)

RESPONSES = {"big": 1_000_000, "small": 1_000}
TWO_YEARS_MINUTES = 2 * 365 * 24 * 60
UNANSWERED_SHARE = 10  # one unanswered invitation per this many responses


def report_rows(tenant_id: int, responses: int) -> None:
    """Responses with their invitations over the last two years, and the tickets moved onto the same span."""
    p = {"t": tenant_id, "n": responses, "span": TWO_YEARS_MINUTES,
         "b_inv": _max_id("survey_invitation"), "b_resp": _max_id("response")}
    p["survey"] = db.session.execute(_q("SELECT id FROM survey WHERE tenant_id = :t"), p).scalar_one()
    p["contacts"] = db.session.execute(_q("SELECT array_agg(id ORDER BY id) FROM contact WHERE tenant_id = :t"),
                                       p).scalar_one()
    invitations = responses + responses // UNANSWERED_SHARE
    db.session.execute(_q("""
        INSERT INTO survey_invitation (id, tenant_id, survey_id, contact_id, token_hash, created_at, expires_at)
        SELECT :b_inv + i, :t, :survey,
               (CAST(:contacts AS integer[]))[1 + i % cardinality(CAST(:contacts AS integer[]))],
               md5('t' || :t || 'i' || i) || md5('i' || i || 't' || :t),
               now() - ((CAST(:span AS bigint) * i / :m) || ' minutes')::interval,
               now() - ((CAST(:span AS bigint) * i / :m) || ' minutes')::interval + interval '30 days'
        FROM generate_series(1, :m) AS i"""), {**p, "m": invitations})
    # Response i answers invitation i * 11 / 10 (every eleventh invitation stays unanswered).
    db.session.execute(_q("""
        INSERT INTO response (id, tenant_id, survey_id, invitation_id, contact_id, score, band, comment, source,
                              created_at, updated_at, amendable_until)
        SELECT :b_resp + i, :t, :survey, inv.id, inv.contact_id, s.score,
               CASE WHEN s.score <= 6 THEN 'detractor' WHEN s.score <= 8 THEN 'passive' ELSE 'promoter' END,
               CASE WHEN i % 3 = 0 THEN 'Thanks for the quick help.' END,
               (ARRAY['hosted','hosted','hosted','csv','webhook'])[1 + i % 5],
               inv.created_at + interval '2 hours', inv.created_at + interval '2 hours',
               inv.created_at + interval '7 days'
        FROM generate_series(1, :n) AS i
        JOIN survey_invitation inv ON inv.id = :b_inv + (i * 11 / 10)
        CROSS JOIN LATERAL (SELECT (i * 7 + i / 13) % 11 AS score) AS s"""), p)
    # The tickets (from seed_pages, five minutes apart) spread over two years, contacted within business hours.
    db.session.execute(_q("""
        UPDATE ticket SET
          opened_at = o.opened,
          first_contact_due_at = o.opened + interval '1 day',
          first_contact_breach_at = o.opened + interval '2 days',
          resolution_due_at = o.opened + interval '14 days',
          first_contact_at = CASE WHEN status <> 'new' THEN o.opened + ((30 + id % 900) || ' minutes')::interval END,
          first_contact_minutes = CASE WHEN status <> 'new' THEN 30 + id % 900 END,
          closed_at = CASE WHEN status = 'closed' THEN o.opened + ((1 + id % 20) || ' days')::interval END,
          outcome = CASE WHEN status = 'closed'
                         THEN (ARRAY['resolved','resolved','not_resolved','no_response'])[1 + id % 4] END
        FROM (SELECT id AS tid, now() - ((CAST(:span AS bigint) * (max(id) OVER () - id) / greatest(count(*) OVER (), 1))
                                         || ' minutes')::interval AS opened
              FROM ticket WHERE tenant_id = :t) AS o
        WHERE ticket.id = o.tid AND ticket.tenant_id = :t"""), p)


def main() -> None:
    url = _database_url()
    app = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    started = time.perf_counter()
    with app.app_context():
        owner = rebuild_schema(app)
        ids = organisations()
        print(f"{ORGANISATIONS} organisations in {time.perf_counter() - started:.0f} s", flush=True)
        for tenant_id in sorted(ids.values()):
            name = next(k for k, v in ids.items() if v == tenant_id)
            tickets, contacts = SIZES.get(name, OTHER_SIZE)
            tenant_rows(tenant_id, tickets, contacts)
            if name in RESPONSES:
                report_rows(tenant_id, RESPONSES[name])
                db.session.commit()
                print(f"{name}: {RESPONSES[name]:,} responses, {tickets:,} tickets at "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
        db.session.commit()
        reset_sequences(owner)
        with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        counts = {table: db.session.execute(_q(f"SELECT count(*) FROM {table}")).scalar_one()
                  for table in ("tenant", "survey_invitation", "response", "ticket")}
    print("rows: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    print(f"seeded in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
