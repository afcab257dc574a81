"""How fast each page is for an organisation with 100,000 tickets, and whether its cost depends on the size.

    createdb -h 127.0.0.1 -U postgres bench_pages
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_pages .venv/bin/python bench/seed_pages.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_pages REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/pages.py [--runs 15] [--load-seconds 3] [--no-load] [--only board ...]

For every page the script prints, for the big organisation (100,000 tickets):

* server time: the median of ``--runs`` requests made in-process through the Flask test client, logged in;
* SQL time and statement count of the median request, from SQLAlchemy's before/after_cursor_execute events;
* req/s under load: gunicorn with 2 workers on a free loopback port, 16 client threads for ``--load-seconds``
  per page, next to a "floor" page measured in the same run (50 contacts in a plain table, a route this
  script registers), so the machine's speed cancels out.

Then the statement count of each page for the small organisation (1,000 tickets) and the big one: they must be
equal. Targets: every page under 100 ms server time and 25 ms SQL; the board at least 0.2× the floor's req/s.

The survey answer POST opens a ticket, so it writes (new invitations, responses, tickets, emails); run
``bench/seed_pages.py`` again for a clean data set. Its jobs go to Redis (REDIS_URL, default database 14), which
the script empties afterwards: use a database nothing else uses.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Blueprint, Flask, render_template_string  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import Membership, Tenant, User  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import redis_connection  # noqa: E402
from app.mail import OutboxMessage  # noqa: E402
from app.security import new_token  # noqa: E402
from app.settings.models import RootCause  # noqa: E402
from app.surveys import services as surveys  # noqa: E402
from app.surveys.models import SurveyInvitation  # noqa: E402
from app.tenancy import tenant_context, unscoped  # noqa: E402
from app.tickets.models import Ticket  # noqa: E402
from app.timeutil import utcnow  # noqa: E402
from app.views import encode_cursor  # noqa: E402

SECRET_KEY = "bench-pages-secret-key"
ORGS = {"small": "small-billing", "big": "big-billing"}
SERVER_MS, SQL_MS, FLOOR_SHARE = 100, 25, 0.2
CLIENT_THREADS = 16
FLOOR = "floor (50 rows)"

floor_bp = Blueprint("bench_floor", __name__, url_prefix="/t/<tenant_slug>")


@floor_bp.get("/bench-floor")
def floor():
    """The cheapest realistic page: 50 contacts in a table, through the same login and tenant resolution."""
    contacts = db.session.execute(select(Contact).order_by(Contact.id).limit(50)).scalars().all()
    return render_template_string(
        "<table>{% for c in contacts %}<tr><td>{{ c.name }}</td><td>{{ c.email }}</td></tr>{% endfor %}</table>",
        contacts=contacts,
    )


def make_app() -> Flask:
    """The app as gunicorn serves it in this benchmark, with the floor page added."""
    app = create_app({"APP_ENV": "development", "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "JOBS_INLINE": False})
    app.register_blueprint(floor_bp)
    logging_off()
    return app


def logging_off() -> None:
    import logging

    logging.getLogger().setLevel(logging.WARNING)


@dataclass
class Page:
    label: str
    url: str
    role: str = "agent"
    form: dict | None = None  # a POST; each request takes its url and form from ``posts``
    posts: list[tuple[str, dict]] = field(default_factory=list)


class SqlMeter:
    """Statement count and time spent in the database, per request."""

    def __init__(self, engine):
        self.count, self.seconds, self._start = 0, 0.0, 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args):
        self._start = time.perf_counter()

    def _after(self, *args):
        self.count += 1
        self.seconds += time.perf_counter() - self._start

    def reset(self):
        self.count, self.seconds = 0, 0.0


def _member(tenant_id: int, role: str) -> User:
    return db.session.execute(unscoped(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id, Membership.role == role).order_by(User.id).limit(1)
    )).scalar_one()


def _invitations(tenant_id: int, count: int) -> list[str]:
    """Fresh invitations to contacts without a ticket, for the survey answer POSTs; returns their tokens."""
    with tenant_context(tenant_id):
        survey = surveys.default_survey()
        contacts = db.session.execute(select(Contact.id).order_by(Contact.id.desc()).limit(count)).scalars().all()
        tokens = []
        for contact_id in contacts:
            token, token_hash = new_token()
            db.session.add(SurveyInvitation(survey_id=survey.id, contact_id=contact_id, token_hash=token_hash,
                                            expires_at=utcnow() + surveys.INVITATION_LIFETIME))
            tokens.append(token)
        db.session.commit()
    return tokens


def _deep_email_cursor(tenant_id: int, page: int, per_page: int) -> str:
    """The cursor of the email log's page ``page``: the position of the last row of the page before it."""
    with tenant_context(tenant_id):
        row = db.session.execute(
            select(OutboxMessage.created_at, OutboxMessage.id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .offset((page - 1) * per_page - 1).limit(1)
        ).one()
    return encode_cursor(tuple(row))


def pages_for(app: Flask, slug: str, runs: int) -> list[Page]:
    with app.app_context():
        tenant = db.session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one()
        with tenant_context(tenant.id):
            ticket_id = db.session.execute(
                select(Ticket.id).where(Ticket.status == "contacted").order_by(Ticket.id).limit(1)).scalar_one()
            cause_id = db.session.execute(select(RootCause.id).order_by(RootCause.id).limit(1)).scalar_one()
        deep = _deep_email_cursor(tenant.id, 1000 if slug == ORGS["big"] else 20, app.config["PAGE_SIZE"])
        tokens = _invitations(tenant.id, runs + 2)
        db.session.remove()
    base = f"/t/{slug}"
    return [
        Page(FLOOR, f"{base}/bench-floor"),
        Page("board (all)", f"{base}/"),
        Page("board, SLA due soonest", f"{base}/?sort=due"),
        Page("board, root cause filter", f"{base}/?cause={cause_id}"),
        Page("board, mine", f"{base}/?who=mine"),
        Page("board, more of a column", f"{base}/columns/closed"),
        Page("ticket page", f"{base}/tickets/{ticket_id}"),
        Page("contacts", f"{base}/contacts/"),
        Page("contacts search", f"{base}/contacts/?q=okafor"),
        Page("My tasks", f"{base}/tasks"),
        Page("email log, first page", f"{base}/emails/", role="admin"),
        Page("email log, deep page", f"{base}/emails/?after={deep}", role="admin"),
        Page("survey answer POST", "", role="respondent", form={}, posts=[
            (f"/s/{token}", {"score": "2", "comment": "Still waiting on the refund."}) for token in tokens]),
    ]


def login(app: Flask, slug: str, role: str):
    """A test client logged in as the organisation's first member with ``role``."""
    with app.app_context():
        tenant_id = db.session.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar_one()
        user = _member(tenant_id, role)
        user_key = user.get_id()
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_key, True
    return client


def measure(app: Flask, meter: SqlMeter, slug: str, pages: list[Page], runs: int) -> dict[str, dict]:
    """Median server time and the SQL time and statement count of the median request, per page."""
    # Survey respondents are not signed in.
    clients = {"agent": login(app, slug, "agent"), "admin": login(app, slug, "admin"), "respondent": app.test_client()}
    results = {}
    for page in pages:
        samples = []
        for i in range(runs + 2):
            client = clients[page.role]
            meter.reset()
            started = time.perf_counter()
            if page.form is not None:
                url, form = page.posts[i]
                response = client.post(url, data=form)
            else:
                response = client.get(page.url)
            elapsed = time.perf_counter() - started
            if response.status_code >= 400:
                raise SystemExit(f"{page.label}: {page.url or url} answered {response.status_code}")
            if i >= 2:  # the first two warm caches
                samples.append((elapsed, meter.seconds, meter.count))
        samples.sort()
        server, sql, count = samples[len(samples) // 2]
        results[page.label] = {"server_ms": server * 1000, "sql_ms": sql * 1000, "statements": count}
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, url: str, cookie: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", url, headers={"Cookie": f"session={cookie}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def load(app: Flask, slug: str, pages: list[Page], seconds: float) -> dict[str, float]:
    """Requests per second for each GET page: gunicorn, 2 workers, 16 client threads for ``seconds``."""
    cookies = {role: login(app, slug, role).get_cookie("session").value for role in ("agent", "admin")}
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "bench.pages:make_app()"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(port, "/login", "")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.2)
        rates = {}
        for page in pages:
            if page.form is not None:
                continue
            cookie = cookies[page.role]
            for _ in range(4):  # both workers warm
                _get(port, page.url, cookie)
            done, errors, stop = [0], [0], time.monotonic() + seconds
            lock = threading.Lock()

            def client():
                while time.monotonic() < stop:
                    try:
                        failed = _get(port, page.url, cookie) >= 400
                    except OSError:  # a timeout: the server is too slow for this page
                        failed = True
                    with lock:
                        done[0] += not failed
                        errors[0] += failed

            started = time.monotonic()
            threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors[0]:
                print(f"{page.label}: {errors[0]} requests failed or timed out under load", file=sys.stderr)
            rates[page.label] = done[0] / (time.monotonic() - started)
        return rates
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="in-process requests per page (median)")
    parser.add_argument("--load-seconds", type=float, default=3.0, help="seconds of load per page")
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn load test")
    parser.add_argument("--only", nargs="+", metavar="WORDS",
                        help="measure only the pages whose label contains one of these words (and the floor)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or "bench" not in urlsplit(url).path:
        sys.exit("DATABASE_URL must name the PostgreSQL database bench/seed_pages.py filled (its name contains 'bench')")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["SECRET_KEY"] = SECRET_KEY

    app = make_app()
    with app.app_context():
        meter = SqlMeter(db.engine)
    measured = {}
    for size, slug in ORGS.items():
        pages = [page for page in pages_for(app, slug, args.runs)
                 if not args.only or page.label == FLOOR or any(word in page.label for word in args.only)]
        measured[size] = measure(app, meter, slug, pages, args.runs)
    rates = {} if args.no_load else load(app, ORGS["big"], pages, args.load_seconds)
    with app.app_context():
        redis_connection().flushdb()

    floor_rate = rates.get(FLOOR)
    print(f"\nBig organisation (100,000 tickets); median of {args.runs} requests; load: gunicorn -w 2, "
          f"{CLIENT_THREADS} client threads, {args.load_seconds:g} s per page")
    print(f"{'page':<28} {'server ms':>9} {'SQL ms':>7} {'stmts':>5} {'req/s':>7} {'× floor':>7}  target")
    missed = []
    for page in pages:
        row = measured["big"][page.label]
        rate = rates.get(page.label)
        share = rate / floor_rate if rate and floor_rate else None
        ok = row["server_ms"] < SERVER_MS and row["sql_ms"] < SQL_MS
        if page.label.startswith("board") and share is not None:
            ok = ok and share >= FLOOR_SHARE
        if not ok:
            missed.append(page.label)
        print(f"{page.label:<28} {row['server_ms']:9.1f} {row['sql_ms']:7.1f} {row['statements']:5d} "
              f"{(f'{rate:.1f}' if rate else '-'):>7} {(f'{share:.2f}' if share else '-'):>7}  "
              f"{'met' if ok else 'MISSED'}")
    print("\nStatements per request at 1,000 and at 100,000 tickets")
    print(f"{'page':<28} {'1,000':>6} {'100,000':>8}")
    for page in pages:
        small, big = measured["small"][page.label]["statements"], measured["big"][page.label]["statements"]
        if small != big:
            missed.append(f"{page.label} (statements)")
        print(f"{page.label:<28} {small:6d} {big:8d}  {'equal' if small == big else 'DIFFERENT'}")
    print("\nAll targets met." if not missed else "\nMissed: " + ", ".join(missed))


if __name__ == "__main__":
    main()
