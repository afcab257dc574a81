"""Seed the data set the page benchmark (``bench/pages.py``) measures: 200 organisations, one of them large.

    createdb -h 127.0.0.1 -U postgres bench_pages
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_pages .venv/bin/python bench/seed_pages.py

PostgreSQL only. The database is emptied and rebuilt from the migrations first, so its name must contain
"bench". Organisations are created through the sign-up service (so each has its default survey, roles, root
causes, plans and settings); everything else is written by ``INSERT … SELECT generate_series(…)`` in the
database, a few statements per table, which takes a minute or two rather than hours.

* ``big``: 100,000 tickets (90% closed, the rest spread over the four working columns), 600,000 timeline
  entries, 50,000 contacts, 100,000 responses, 30,000 open tasks, 200,000 outbox messages.
* ``small``: 1,000 tickets in the same proportions (the statement counts are compared against it).
* 198 more organisations with 20 tickets each.

Each organisation's contacts belong to accounts ("Practice 0" … "Practice 899", their tickets too), and its first
two agents form a "Customer Success" team (the ticket list's filters, ``bench/list.py``).

Every organisation has an admin, a manager and three agents; each member's password is ``bench-password``.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import Membership, User  # noqa: E402
from app.accounts.services import create_organisation  # noqa: E402
from app.extensions import db  # noqa: E402
from app.security import hash_password  # noqa: E402
from app.tenancy import tenant_context, unscoped  # noqa: E402
from bench.schema import rebuild_schema  # noqa: E402

PASSWORD = "bench-password"
ORGANISATIONS = 200
BIG, SMALL = "big", "small"
SIZES = {BIG: (100_000, 50_000), SMALL: (1_000, 500)}  # tickets, contacts
OTHER_SIZE = (20, 20)
ACTIVITIES_PER_TICKET = 6
OUTBOX_PER_TICKET = 2
TASKS_PER_OPEN_TICKET = 3
# Ticket status by ``i % 100``: 90% closed; the working columns share the rest.
STATUS_CASE = ("CASE WHEN i % 100 < 2 THEN 'new' WHEN i % 100 < 5 THEN 'contacted' "
               "WHEN i % 100 < 8 THEN 'action_plan' WHEN i % 100 < 10 THEN 'waiting' ELSE 'closed' END")
FIRST = "ARRAY['Ada','Ben','Cleo','Dev','Eli','Fay','Gus','Hana','Ivo','Jun','Kai','Lea','Mo','Nia','Oto','Pia']"
LAST = ("ARRAY['Okafor','Smith','Nguyen','Garcia','Kowalski','Haddad','Larsen','Moreau','Tanaka','Silva',"
        "'Fischer','Rossi','Dubois','Novak','Murphy','Schmidt','Costa','Jensen','Ali','Park']")



def _q(sql: str):
    """Raw SQL of the loader: it writes every organisation's rows, so it says it crosses tenants."""
    return unscoped(text(sql))

def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database, e.g. postgresql://postgres@127.0.0.1:5432/bench_pages")
    if "bench" not in urlsplit(url).path.rsplit("/", 1)[-1]:
        sys.exit("refusing to empty a database whose name does not contain 'bench'")
    return url


def _sql(statement: str, **params) -> None:
    db.session.execute(_q(statement), params)


def _max_id(table: str) -> int:
    return db.session.execute(_q(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()


def organisations() -> dict[str, int]:
    """200 organisations through the sign-up service, each with a manager and three agents."""
    password_hash = hash_password(PASSWORD)
    slugs = {}
    for n in range(1, ORGANISATIONS + 1):
        name = {1: "Big", 2: "Small"}.get(n, f"Org {n:03d}")
        tenant, _ = create_organisation(name=f"{name} Billing", kind="billing", timezone="America/New_York",
                                        admin_name=f"Admin {n}", email=f"admin{n}@bench.example", password=PASSWORD)
        with tenant_context(tenant.id):
            for role, count in (("manager", 1), ("agent", 3)):
                for k in range(count):
                    user = User(name=f"{role.title()} {n}-{k}", email=f"{role}{k}.{n}@bench.example",
                                password_hash=password_hash)
                    db.session.add(user)
                    db.session.flush()
                    db.session.add(Membership(user_id=user.id, role=role))
            db.session.flush()
        slugs[name.lower()] = tenant.id
    db.session.commit()
    return slugs


def tenant_rows(tenant_id: int, tickets: int, contacts: int) -> None:
    """Contacts, responses, tickets, timeline, root causes, tasks, plan items and outbox rows for one tenant,
    a few ``INSERT … SELECT`` statements per table, with ids following the table's current maximum."""
    base = {table: _max_id(table) for table in ("contact", "response", "ticket", "activity", "outbox_message")}
    agents = db.session.execute(_q(
        "SELECT array_agg(user_id ORDER BY user_id) FROM membership WHERE tenant_id = :t AND role = 'agent'"
    ), {"t": tenant_id}).scalar_one()
    survey_id = db.session.execute(_q("SELECT id FROM survey WHERE tenant_id = :t"), {"t": tenant_id}).scalar_one()
    causes = db.session.execute(_q(
        "SELECT array_agg(id ORDER BY id) FROM root_cause WHERE tenant_id = :t"), {"t": tenant_id}).scalar_one()
    p = {"t": tenant_id, "n": tickets, "c": contacts, "agents": agents, "survey": survey_id, "causes": causes,
         **{f"b_{k}": v for k, v in base.items()}}
    _sql("""
        INSERT INTO customer_account (tenant_id, name, status, created_at, updated_at)
        SELECT :t, 'Practice ' || i, 'active', now(), now() FROM generate_series(0, 899) AS i
        ON CONFLICT (tenant_id, name) DO NOTHING""", **p)
    _sql(f"""
        INSERT INTO contact (id, tenant_id, name, email, phone, account_id, external_id, created_at, updated_at)
        SELECT :b_contact + i, :t,
               ({FIRST})[1 + i % 16] || ' ' || ({LAST})[1 + (i / 16) % 20] || ' ' || i,
               'contact' || i || '.t' || :t || '@client.example', '+1 555 01' || lpad((i % 100)::text, 2, '0'),
               a.id, 'P' || lpad(i::text, 7, '0'),
               now() - (i || ' minutes')::interval, now()
        FROM generate_series(1, :c) AS i
        JOIN customer_account a ON a.tenant_id = :t AND a.name = 'Practice ' || (i % 900)""", **p)
    # A "Customer Success" team of the first two agents.
    _sql("""
        WITH team AS (INSERT INTO team (tenant_id, name, created_at) VALUES (:t, 'Customer Success', now()) RETURNING id)
        INSERT INTO team_member (tenant_id, team_id, user_id)
        SELECT :t, team.id, agent FROM team, unnest((CAST(:agents AS integer[]))[1:2]) AS agent""", **p)
    _sql("""
        INSERT INTO contact_role (tenant_id, contact_id, role_id)
        SELECT :t, :b_contact + i, (SELECT id FROM recipient_role WHERE tenant_id = :t ORDER BY id LIMIT 1)
        FROM generate_series(1, :c) AS i""", **p)
    # Ticket i is opened (n - i) * 5 minutes ago: ticket 1 is the oldest.
    _sql("""
        INSERT INTO response (id, tenant_id, survey_id, contact_id, score, band, comment, source,
                              created_at, updated_at, amendable_until)
        SELECT :b_response + i, :t, :survey, :b_contact + 1 + i % :c, i % 7, 'detractor',
               'Claims sat for weeks without an answer.', 'hosted',
               now() - ((:n - i) * 5 || ' minutes')::interval, now() - ((:n - i) * 5 || ' minutes')::interval,
               now() - ((:n - i) * 5 || ' minutes')::interval + interval '7 days'
        FROM generate_series(1, :n) AS i""", **p)
    _sql(f"""
        INSERT INTO ticket (id, tenant_id, number, response_id, contact_id, assignee_id, status, trigger,
                            first_contact_due_at, first_contact_breach_at, resolution_due_at, opened_at,
                            first_contact_at, closed_at, outcome, closing_note, updated_at)
        SELECT :b_ticket + i, :t, i, :b_response + i, :b_contact + 1 + i % :c,
               (CAST(:agents AS integer[]))[1 + i % cardinality(CAST(:agents AS integer[]))], s.status, 'score',
               o.opened + interval '1 day', o.opened + interval '2 days', o.opened + interval '14 days', o.opened,
               CASE WHEN s.status NOT IN ('new') THEN o.opened + interval '3 hours' END,
               CASE WHEN s.status = 'closed' THEN o.opened + interval '5 days' END,
               CASE WHEN s.status = 'closed' THEN 'resolved' END,
               CASE WHEN s.status = 'closed' THEN 'Called back, fixed the claim.' END, now()
        FROM generate_series(1, :n) AS i,
             LATERAL (SELECT now() - ((:n - i) * 5 || ' minutes')::interval AS opened) AS o,
             LATERAL (SELECT {STATUS_CASE} AS status) AS s""", **p)
    _sql("""
        UPDATE ticket SET account_id = contact.account_id FROM contact
        WHERE ticket.tenant_id = :t AND contact.tenant_id = :t AND contact.id = ticket.contact_id""", **p)
    _sql("""
        INSERT INTO ticket_root_cause (tenant_id, ticket_id, root_cause_id)
        SELECT :t, id, (CAST(:causes AS integer[]))[1 + id % cardinality(CAST(:causes AS integer[]))]
        FROM ticket WHERE tenant_id = :t AND status = 'closed'""", **p)
    _sql(f"""
        INSERT INTO activity (id, tenant_id, ticket_id, actor_id, kind, body, details, created_at)
        SELECT :b_activity + (i - 1) * {ACTIVITIES_PER_TICKET} + k, :t, :b_ticket + i,
               CASE WHEN k = 1 THEN NULL ELSE (CAST(:agents AS integer[]))[1 + i % cardinality(CAST(:agents AS integer[]))] END,
               (ARRAY['opened','email','call','note','call','status'])[k],
               CASE WHEN k IN (3, 4, 5) THEN 'Spoke about the denied claims.' END,
               CAST('{{}}' AS json), now() - ((:n - i) * 5 - k || ' minutes')::interval
        FROM generate_series(1, :n) AS i, generate_series(1, {ACTIVITIES_PER_TICKET}) AS k""", **p)
    _sql(f"""
        INSERT INTO task (tenant_id, ticket_id, owner_id, title, kind, cadence_step, due_at, created_at)
        SELECT :t, ticket.id, ticket.assignee_id, 'Call ' || k, 'call', k,
               ticket.opened_at + (k * 20 || ' hours')::interval, ticket.opened_at
        FROM ticket, generate_series(1, {TASKS_PER_OPEN_TICKET}) AS k
        WHERE ticket.tenant_id = :t AND ticket.status <> 'closed'""", **p)
    _sql("""
        INSERT INTO action_plan_item (tenant_id, ticket_id, title, position, done_at, created_at)
        SELECT :t, ticket.id, 'Review ' || k, k, CASE WHEN k = 1 THEN now() END, ticket.opened_at
        FROM ticket, generate_series(1, 3) AS k
        WHERE ticket.tenant_id = :t AND ticket.status IN ('action_plan', 'waiting', 'closed')
          AND ticket.id % 10 = 0""", **p)
    _sql(f"""
        INSERT INTO outbox_message (id, tenant_id, kind, to_address, to_name, from_name, from_address, subject,
                                    text_body, status, attempts, ticket_id, created_at, sent_at)
        SELECT :b_outbox_message + (i - 1) * {OUTBOX_PER_TICKET} + k, :t,
               (ARRAY['detractor_alert','detractor_intro'])[k], 'someone' || i || '@client.example',
               'Someone ' || i, 'Turnaround', 'outreach@turnaround.localhost', 'Ticket D-' || i,
               'A detractor answered.', 'sent', 1, :b_ticket + i,
               now() - ((:n - i) * 5 - k || ' minutes')::interval, now() - ((:n - i) * 5 - k || ' minutes')::interval
        FROM generate_series(1, :n) AS i, generate_series(1, {OUTBOX_PER_TICKET}) AS k""", **p)
    _sql("UPDATE tenant SET next_ticket_number = :n + 1 WHERE id = :t", **p)


def reset_sequences(owner) -> None:
    """Explicit ids were written: move every id sequence past its table's maximum (as the schema owner: the
    app role may use the sequences but not set them)."""
    with owner.begin() as conn:
        tables = conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'id' AND table_schema = 'public' "
            "AND column_default LIKE 'nextval%'"
        )).scalars().all()
        for table in tables:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT coalesce(max(id), 1) FROM {table}))"))


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
            if name in SIZES:
                db.session.commit()
                print(f"{name}: {tickets:,} tickets at {time.perf_counter() - started:.0f} s", flush=True)
        db.session.commit()
        reset_sequences(owner)
        with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        counts = {table: db.session.execute(_q(f"SELECT count(*) FROM {table}")).scalar_one()
                  for table in ("tenant", "contact", "ticket", "activity", "task", "outbox_message")}
    print("rows: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    print(f"seeded in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
