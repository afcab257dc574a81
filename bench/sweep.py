"""How long one notice sweep takes with 100,000 open tickets across 200 organisations, 1% of them due.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_sweep REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/sweep.py

Target: one sweep (find and claim the due notices, load what they need, write their outbox rows and hand
the messages to the mail queue on Redis) in under 2 seconds, in a statement count that does not grow
with the number of tickets. The script measures at two sizes: first 10,000 tickets, then 100,000, each
time with one notice due on 1% of the tickets (each ticket owes four), and prints both figures. A sweep
handles at most ``SWEEP_LIMIT`` notices (oldest due first) and the rest go in the next sweeps,
so the script also prints how many sweeps the whole backlog took.

DATABASE_URL defaults to a temporary SQLite file; PostgreSQL is where the figure counts. The database
is emptied first, so its name must contain "bench" or "test". The data is written with Core
``INSERT``s (executemany), not the ORM. Jobs are enqueued on Redis (REDIS_URL, default database 14),
which must be an empty database: the bench empties it afterwards, so nothing is ever sent.
"""
from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, event, func, insert, select, text, update  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import Membership, Tenant, User  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import redis_available  # noqa: E402
from app.mail import OutboxMessage  # noqa: E402
from app.settings.models import NOTIFICATION_EVENTS, NotificationList, WorkflowSettings  # noqa: E402
from app.surveys.models import Response, Survey  # noqa: E402
from app.tenancy import all_tenants  # noqa: E402
from app.tickets.models import Ticket  # noqa: E402
from app.timeutil import utcnow  # noqa: E402
from app.notifications import SWEEP_LIMIT, sweep_due  # noqa: E402
from app.workflow.models import ScheduledNotice  # noqa: E402
from app.workflow.ticket_sla import at_risk_moment  # noqa: E402

ORGANISATIONS = 200
SIZES = (10_000, 100_000)
DUE_SHARE = 0.01
TARGET_SECONDS = 2.0
TIMEZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "UTC")
KINDS = ("first_contact_at_risk", "first_contact_breached", "resolution_at_risk", "resolution_breached")
CHUNK = 5_000


def _database_url(scratch: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{scratch}/bench.db"
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if "bench" not in name and "test" not in name:
        sys.exit(f"refusing to empty database {name!r}: its name must contain 'bench' or 'test'")
    return url


def _schema_owner():
    """The database as the login user: the app's own connections act as a role that owns nothing."""
    return create_engine(db.engine.url, poolclass=NullPool)


def _insert(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model.__table__), rows[start:start + CHUNK])


class Builder:
    """Writes organisations, people, tickets and their notices with bulk inserts and explicit ids."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = utcnow()
        self.tickets = 0
        self.orgs: list[dict] = []

    def organisations(self) -> None:
        tenants, users, memberships, surveys, settings, lists = [], [], [], [], [], []
        user_id = 0
        for n in range(1, ORGANISATIONS + 1):
            tenants.append({"id": n, "slug": f"org-{n}", "name": f"Organisation {n}", "kind": "billing",
                            "timezone": TIMEZONES[n % len(TIMEZONES)], "next_ticket_number": 1, "created_at": self.now})
            surveys.append({"id": n, "tenant_id": n, "created_at": self.now})
            settings.append({"tenant_id": n, "business_hours": {}, "updated_at": self.now})
            lists.append({"tenant_id": n, "name": "Managers", "events": list(NOTIFICATION_EVENTS),
                          "roles": ["manager", "admin"], "member_ids": [], "addresses": [], "created_at": self.now})
            agents = []
            for role in ("admin", "manager", "agent", "agent", "agent"):
                user_id += 1
                users.append({"id": user_id, "email": f"{role}{user_id}@org{n}.example",
                              "name": f"{role.title()} {user_id}",
                              "password_hash": "-", "session_version": 1, "created_at": self.now})
                memberships.append({"tenant_id": n, "user_id": user_id, "role": role, "is_active": True,
                                    "created_at": self.now})
                if role == "agent":
                    agents.append(user_id)
            self.orgs.append({"id": n, "agents": agents})
        for model, rows in ((Tenant, tenants), (User, users), (Survey, surveys), (WorkflowSettings, settings),
                            (NotificationList, lists), (Membership, memberships)):
            _insert(model, rows)
        db.session.commit()

    def tickets_up_to(self, total: int) -> None:
        """Open tickets (with contact and response) until there are ``total``, spread over the organisations,
        each owing its four SLA notices in the future."""
        contacts, responses, tickets, owed = [], [], [], []
        for ticket_id in range(self.tickets + 1, total + 1):
            org = self.orgs[ticket_id % ORGANISATIONS]
            opened = self.now - timedelta(hours=self.rng.randint(1, 20))
            first_due, resolution_due = opened + timedelta(days=30), opened + timedelta(days=60)
            contacts.append({"id": ticket_id, "tenant_id": org["id"], "name": f"Contact {ticket_id}",
                             "email": f"contact{ticket_id}@client.example",
                             "created_at": opened, "updated_at": opened})
            responses.append({"id": ticket_id, "tenant_id": org["id"], "survey_id": org["id"], "contact_id": ticket_id,
                              "score": ticket_id % 7, "band": "detractor", "comment": "Claims sat for weeks.",
                              "source": "hosted", "created_at": opened, "updated_at": opened,
                              "amendable_until": opened + timedelta(days=7)})
            tickets.append({"id": ticket_id, "tenant_id": org["id"], "number": ticket_id, "response_id": ticket_id,
                            "contact_id": ticket_id, "assignee_id": self.rng.choice(org["agents"]), "status": "new",
                            "trigger": "score", "opened_at": opened, "first_contact_due_at": first_due,
                            "first_contact_breach_at": first_due + timedelta(days=1),
                            "resolution_due_at": resolution_due, "updated_at": opened})
            dues = (at_risk_moment(opened, first_due), first_due + timedelta(days=1),
                    at_risk_moment(opened, resolution_due), resolution_due)
            for kind, due in zip(KINDS, dues):
                owed.append({"tenant_id": org["id"], "key": f"ticket:{ticket_id}:{kind}", "kind": kind,
                             "ticket_id": ticket_id, "due_at": due})
        for model, rows in ((Contact, contacts), (Response, responses), (Ticket, tickets), (ScheduledNotice, owed)):
            _insert(model, rows)
        self.tickets = total
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with _schema_owner().begin() as conn:  # sequences and statistics are the owner's to change
                for table in ("tenant", "user_account", "survey", "contact", "response", "ticket"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
                conn.execute(text("ANALYZE"))

    def make_due(self) -> int:
        """Bring one owed notice of 1% of the tickets (chosen at random) to a past due time."""
        owed = db.session.execute(select(ScheduledNotice.id, ScheduledNotice.ticket_id).where(
            ScheduledNotice.sent_at.is_(None)).execution_options(all_tenants=True)).all()
        by_ticket: dict[int, list[int]] = {}
        for notice_id, ticket_id in owed:
            by_ticket.setdefault(ticket_id, []).append(notice_id)
        tickets = self.rng.sample(sorted(by_ticket), int(self.tickets * DUE_SHARE))
        chosen = [self.rng.choice(by_ticket[ticket_id]) for ticket_id in tickets]
        for start in range(0, len(chosen), CHUNK):
            db.session.execute(
                update(ScheduledNotice.__table__)
                .where(ScheduledNotice.__table__.c.id.in_(chosen[start:start + CHUNK]))
                .values(due_at=utcnow() - timedelta(minutes=self.rng.randint(1, 30)))
            )
        db.session.commit()
        return len(chosen)


def measure() -> dict:
    """Sweeps until nothing is due: the first one timed with the SQL it sent counted (statements, and round
    trips to the server; on PostgreSQL add the one COPY of outbox rows, which bypasses SQLAlchemy), and the
    time the whole backlog took."""
    statements, round_trips = [], []
    listen = [(db.engine, "before_execute", lambda *a, **k: statements.append(1)),
              (db.engine, "before_cursor_execute", lambda *a, **k: round_trips.append(1))]
    outbox_before = _outbox_count()
    db.session.remove()
    for target, name, fn in listen:
        event.listen(target, name, fn)
    try:
        started = time.perf_counter()
        handled = sweep_due()
        seconds = time.perf_counter() - started
    finally:
        for target, name, fn in listen:
            event.remove(target, name, fn)
    outbox = _outbox_count() - outbox_before
    sweeps, drained, drain_started = 1, handled, time.perf_counter()
    while count := sweep_due():
        sweeps, drained = sweeps + 1, drained + count
    return {"seconds": seconds, "handled": handled, "outbox": outbox, "statements": len(statements),
            "round_trips": len(round_trips), "sweeps": sweeps, "drained": drained,
            "drain_seconds": seconds + time.perf_counter() - drain_started}


def _outbox_count() -> int:
    return db.session.execute(select(func.count(OutboxMessage.id)).execution_options(all_tenants=True)).scalar_one()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="turnaround-bench-") as scratch:
        return run(_database_url(scratch))


def run(url: str) -> int:
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    if not redis_available(redis_url):
        sys.exit(f"Redis is needed at {redis_url} (the sweep hands messages to the mail queue there)")
    scratch_redis = redis.Redis.from_url(redis_url)
    if scratch_redis.dbsize():
        sys.exit(f"{redis_url} is not empty: give the bench an empty Redis database (it empties it afterwards)")
    os.environ["DATABASE_URL"] = url
    app = create_app({"APP_ENV": "test", "REDIS_URL": redis_url, "JOBS_INLINE": False, "SERVER_NAME": None,
                      "BASE_URL": "https://turnaround.example"})
    rng = random.Random(42)
    results = []
    with app.app_context(), all_tenants():  # the bench writes and reads every organisation's rows
        print(f"database: {db.engine.dialect.name} ({db.engine.url.render_as_string(hide_password=True)})")
        if db.engine.dialect.name == "postgresql":
            with _schema_owner().begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(directory=str(app.extensions["migrate"].directory))
        db.engine.dispose()  # a connection opened before the migrations made the app's role would bypass it
        builder = Builder(rng)
        builder.organisations()
        copy = " and one COPY" if db.engine.dialect.name == "postgresql" else ""
        for size in SIZES:
            started = time.perf_counter()
            builder.tickets_up_to(size)
            due = builder.make_due()
            built = time.perf_counter() - started
            result = measure()
            results.append((size, due, result))
            print(f"{size:>7,} open tickets, {size * 4:,} notices, {due:,} due (built in {built:.1f} s): "
                  f"one sweep handled {result['handled']:,} notices and queued {result['outbox']:,} emails "
                  f"in {result['seconds']:.2f} s, {result['statements']} SQL statements{copy} "
                  f"({result['round_trips']} round trips); all {result['drained']:,} due went in "
                  f"{result['sweeps']} sweep{'s' if result['sweeps'] != 1 else ''} ({result['drain_seconds']:.2f} s)")
        db.session.remove()
    scratch_redis.flushdb()
    (_, _, small), (size, _, large) = results
    same = small["statements"] == large["statements"]
    print(f"statements per sweep: {small['statements']} at {SIZES[0]:,} tickets, {large['statements']} at "
          f"{SIZES[1]:,} ({'the same' if same else 'DIFFERENT'})")
    fast = large["seconds"] < TARGET_SECONDS
    print(f"target: one sweep over {size:,} tickets under {TARGET_SECONDS:.0f} s: "
          f"{'met' if fast else 'MISSED'} ({large['seconds']:.2f} s for {large['handled']:,} notices, "
          f"{large['outbox']:,} emails; a sweep handles at most {SWEEP_LIMIT:,})")
    return 0 if fast and same else 1


if __name__ == "__main__":
    sys.exit(main())
