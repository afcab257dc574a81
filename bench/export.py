"""How fast the responses CSV streams 1,000,000 rows, and how much memory the web worker needs for it.

    createdb -h 127.0.0.1 -U postgres bench_export
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_export .venv/bin/python bench/export.py [--seed]

Seeds (when the database does not hold them yet, or with ``--seed``) one organisation with 1,000,000
responses from 50,000 contacts over two years, a tenth of them detractors with a ticket, a few comments that
start like a spreadsheet formula, themes on a quarter of them and two extra questions (one answered on every
second response, the other on every sixth); everything else is written by ``INSERT … SELECT generate_series(…)`` in
the database. The database is emptied and rebuilt from the migrations first, so its name must contain "bench".

Then it serves the app with gunicorn (one worker), downloads ``/t/<slug>/feedback/responses.csv`` logged in
as a manager, and prints the rows received, the time, rows/s, and the web worker's peak resident memory
(``VmHWM`` from ``/proc``). Target: the whole export with the worker under 200 MB.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import Membership, Tenant, User  # noqa: E402
from app.accounts.services import create_organisation  # noqa: E402
from app.extensions import db  # noqa: E402
from app.security import hash_password  # noqa: E402
from app.tenancy import tenant_context, unscoped  # noqa: E402
from bench.schema import rebuild_schema  # noqa: E402

SECRET_KEY = "bench-export-secret-key"
SLUG = "export-billing"
RESPONSES, CONTACTS = 1_000_000, 50_000
PEAK_MB = 200
PASSWORD = "bench-password"


def make_app() -> Flask:
    """The app as gunicorn serves it in this benchmark."""
    import logging

    app = create_app({"APP_ENV": "development", "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "JOBS_INLINE": False})
    logging.getLogger().setLevel(logging.WARNING)
    return app


def _q(sql: str):
    """Raw SQL of the loader, which writes the organisation's rows by hand."""
    return unscoped(text(sql))


def seeded(app: Flask) -> bool:
    with app.app_context():
        try:
            tenant_id = db.session.execute(unscoped(select(Tenant.id).where(Tenant.slug == SLUG))).scalar_one_or_none()
            count = db.session.execute(_q("SELECT count(*) FROM response WHERE tenant_id = :t"),
                                       {"t": tenant_id}).scalar_one() if tenant_id else 0
        except Exception:  # noqa: BLE001  (an empty database has no tables yet)
            db.session.rollback()
            count = 0
        db.session.remove()
    return count >= RESPONSES


def seed(app: Flask) -> None:
    started = time.perf_counter()
    with app.app_context():
        owner = rebuild_schema(app)
        tenant, _ = create_organisation(name="Export Billing", kind="billing", timezone="America/New_York",
                                        admin_name="Admin", email="admin@export.example", password=PASSWORD)
        with tenant_context(tenant.id):
            user = User(name="Mia Manager", email="manager@export.example", password_hash=hash_password(PASSWORD))
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(user_id=user.id, role="manager"))
            db.session.flush()
        db.session.commit()
        p = {"t": tenant.id, "n": RESPONSES, "c": CONTACTS,
             "survey": db.session.execute(_q("SELECT id FROM survey WHERE tenant_id = :t"), {"t": tenant.id}).scalar_one()}
        for sql in (
            "INSERT INTO customer_account (tenant_id, name, status, created_at, updated_at) "
            "SELECT :t, 'Practice ' || i, 'active', now(), now() FROM generate_series(0, 499) AS i",
            "INSERT INTO contact (tenant_id, name, email, account_id, created_at, updated_at) "
            "SELECT :t, 'Contact ' || i, 'contact' || i || '@client.example', a.id, now(), now() "
            "FROM generate_series(1, :c) AS i JOIN customer_account a ON a.tenant_id = :t AND a.name = 'Practice ' || (i % 500)",
            "INSERT INTO response (tenant_id, survey_id, contact_id, score, band, comment, source, created_at, "
            "updated_at, amendable_until) "
            "SELECT :t, :survey, c.first + i % :c, i % 11, "
            "CASE WHEN i % 11 <= 6 THEN 'detractor' WHEN i % 11 <= 8 THEN 'passive' ELSE 'promoter' END, "
            "CASE WHEN i % 1000 = 0 THEN '=HYPERLINK(\"http://example.com\")' WHEN i % 3 = 0 THEN NULL "
            "ELSE 'The portal was slow, but the team, as always, answered quickly. Thanks ' || i END, "
            "CASE WHEN i % 5 = 0 THEN 'csv' ELSE 'hosted' END, "
            "now() - (i * 63 || ' seconds')::interval, now(), now() "
            "FROM generate_series(1, :n) AS i, (SELECT min(id) AS first FROM contact WHERE tenant_id = :t) AS c",
            "INSERT INTO theme (tenant_id, label) VALUES (:t, 'Billing errors'), (:t, 'Portal'), (:t, 'Response time')",
            # A theme or two on every fourth response.
            "INSERT INTO response_theme (tenant_id, response_id, theme_id) "
            "SELECT :t, r.id, th.id FROM response r JOIN theme th ON th.tenant_id = :t "
            "AND (th.label = 'Portal' OR (th.label = 'Billing errors' AND r.id % 8 = 0)) "
            "WHERE r.tenant_id = :t AND r.id % 4 = 0",
            "INSERT INTO survey_question (tenant_id, survey_id, kind, prompt, bands, opens_ticket_on_no, position) "
            "VALUES (:t, :survey, 'yes_no', 'Would you renew your contract?', "
            "'[\"detractor\", \"passive\", \"promoter\"]', false, 1), "
            "(:t, :survey, 'text', 'What should we do better?', '[\"detractor\"]', false, 2)",
            # The yes / no question answered on every second response, the text question on every sixth.
            "INSERT INTO response_answer (tenant_id, response_id, question_id, value) "
            "SELECT :t, r.id, q.id, CASE WHEN q.position = 1 THEN CASE WHEN r.score <= 6 THEN 'no' ELSE 'yes' END "
            "ELSE 'Send invoices that are right the first time' END "
            "FROM response r JOIN survey_question q ON q.tenant_id = :t "
            "AND ((q.position = 1 AND r.id % 2 = 0) OR (q.position = 2 AND r.id % 6 = 0)) WHERE r.tenant_id = :t",
            "INSERT INTO ticket (tenant_id, number, response_id, contact_id, status, trigger, opened_at, updated_at) "
            "SELECT :t, row_number() OVER (ORDER BY id), id, contact_id, 'closed', 'score', created_at, now() "
            "FROM response WHERE tenant_id = :t AND score <= 6 AND id % 7 = 0",
        ):
            db.session.execute(_q(sql), p)
            db.session.commit()
            print(f"  … {time.perf_counter() - started:.0f} s", flush=True)
        with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(f"seeded {RESPONSES:,} responses in {time.perf_counter() - started:.0f} s", flush=True)


def session_cookie(app: Flask) -> str:
    """A manager's session cookie, signed with the key gunicorn's app uses too."""
    with app.app_context():
        tenant_id = db.session.execute(unscoped(select(Tenant.id).where(Tenant.slug == SLUG))).scalar_one()
        user = db.session.execute(unscoped(
            select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, Membership.role == "manager"))).scalar_one()
        key = user.get_id()
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = key, True
    return client.get_cookie("session").value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def export(cookie: str) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--timeout", "600",
         "--log-level", "warning", "bench.export:make_app()"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/login")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.3)
        [worker] = _children(server.pid)
        before_kb = int(next(line for line in Path(f"/proc/{worker}/status").read_text().splitlines()
                             if line.startswith("VmRSS:")).split()[1])
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        connection.request("GET", f"/t/{SLUG}/feedback/responses.csv", headers={"Cookie": f"session={cookie}"})
        response = connection.getresponse()
        if response.status != 200:
            raise SystemExit(f"export answered {response.status}")
        lines, size, first_byte, tail = 0, 0, None, b""
        while chunk := response.read(1 << 16):
            first_byte = first_byte or time.perf_counter() - started
            lines += chunk.count(b"\n")
            size += len(chunk)
            tail = chunk
        seconds = time.perf_counter() - started
        peak_mb = _peak_kb(worker) / 1024
        rows = lines - 1  # the header
        print(f"rows exported: {rows:,} ({size / 1e6:.0f} MB of CSV); first byte after {first_byte:.2f} s")
        print(f"time: {seconds:.1f} s, {rows / seconds:,.0f} rows/s")
        print(f"web worker memory: {before_kb / 1024:.0f} MB before, peak {peak_mb:.0f} MB "
              f"(target < {PEAK_MB} MB: {'met' if peak_mb < PEAK_MB else 'MISSED'})")
        if rows < RESPONSES:
            print(f"expected {RESPONSES:,} rows; the last bytes were {tail[-200:]!r}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", action="store_true", help="empty the database and seed it again")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or "bench" not in urlsplit(url).path.rsplit("/", 1)[-1]:
        sys.exit("DATABASE_URL must name a PostgreSQL database whose name contains 'bench' (e.g. bench_export)")
    os.environ["SECRET_KEY"] = SECRET_KEY
    app = make_app()
    if args.seed or not seeded(app):
        seed(app)
    export(session_cookie(app))


if __name__ == "__main__":
    main()
