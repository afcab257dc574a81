"""How fast the worker imports 100,000 contacts with 5,000 accounts from a CSV file, and its peak memory; with
``responses``, how fast it records a file of past responses.

    createdb -h 127.0.0.1 -U postgres bench_imports
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_imports REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/imports.py [COUNT] [ACCOUNTS] [again] [responses]

The script rebuilds the schema (the database name must contain "bench" or "test"), signs up an organisation,
writes a CSV of COUNT contacts (default 100,000: name, email, phone, account name and external ID out of
ACCOUNTS accounts, default 5,000, a recipient role, an external ID), uploads, maps and starts it through the
same services the import pages use, then runs ``python worker.py`` (the real job, in its own process) until
the import is done. It prints rows per second (from the job's start to its end, as recorded on the import)
and the worker process's peak resident memory. With ``again`` it then imports the same file a second time
(update mode) and prints that run's rows per second and counts, which must show nothing created or updated.
Queues use the prefix ``turnaround-bench``.

Targets: at least 2,000 rows/s on the 2-core development machine; the worker's peak memory under 300 MB.

With ``responses`` the file is COUNT past responses instead (answered date over the last year, email, name,
account name out of ACCOUNTS, score, comment; each contact answers twice, so half the rows add a contact),
imported without tickets; the counts checked are responses, and there is no rows/s target (it is printed).
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

AGAIN = "again" in sys.argv[1:]
RESPONSES = "responses" in sys.argv[1:]
ARGS = [a for a in sys.argv[1:] if a.isdigit()]
COUNT = int(ARGS[0]) if ARGS else 100_000
ACCOUNTS = int(ARGS[1]) if len(ARGS) > 1 else 5_000
sys.argv[1:] = []  # bench/delivery.py reads its count from the command line when imported

from sqlalchemy import func, select  # noqa: E402

from app.accounts import services as accounts  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.customers.models import CustomerAccount  # noqa: E402
from app.extensions import db  # noqa: E402
from app.imports import services as imports  # noqa: E402
from app.imports.models import ContactImport  # noqa: E402
from app.jobs import clear_queues  # noqa: E402
from app.surveys.models import Response  # noqa: E402
from app.tenancy import tenant_context, unscoped  # noqa: E402
from delivery import PREFIX, _database_url, _free_port, bench_app  # noqa: E402

TARGET_ROWS_PER_SECOND = 2_000
TARGET_PEAK_MB = 300
TIMEOUT_SECONDS = 900


def _responses_csv() -> bytes:
    lines = ["Answered date,Email,Name,Company,Score,Comment"]
    people = max(1, COUNT // 2)
    lines += [f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d},person{n % people}@client.example,"
              f"Person {n % people},Practice {n % ACCOUNTS},{n % 11},Comment {n}" for n in range(COUNT)]
    return ("\n".join(lines) + "\n").encode()


def _csv() -> bytes:
    if RESPONSES:
        return _responses_csv()
    lines = ["Name,Email,Phone,Company,Company ID,Roles,Patient ID"]
    lines += [f"Person {n},person{n}@client.example,555-{n % 10_000:04d},Practice {n % ACCOUNTS},"
              f"PR-{n % ACCOUNTS},NPS Recipient,EXT-{n}" for n in range(COUNT)]
    return ("\n".join(lines) + "\n").encode()


def _organisation(app) -> tuple[int, int]:
    with app.app_context():
        tenant, admin = accounts.create_organisation(name="Bench Billing", kind="billing", timezone="UTC",
                                                     admin_name="Ada Admin", email="ada@bench.example",
                                                     password="correct-horse-battery")
        db.session.commit()
        ids = tenant.id, admin.id
        db.session.remove()
    return ids


def _start(app, tenant_id: int, admin_id: int, data: bytes) -> int:
    """Upload, map and start the import as its pages do; returns the import's id."""
    from app.accounts.models import User

    with app.test_request_context():
        with tenant_context(tenant_id):
            imported = imports.upload(filename="bench.csv", data=data, by=db.session.get(User, admin_id),
                                      kind="responses" if RESPONSES else "contacts")
            imports.set_mapping(imported, dict(imported.mapping), "update")
            imports.start(imported)
            db.session.commit()
            import_id = imported.id
        db.session.remove()
    print(f"uploaded {len(data) / 1024 / 1024:.1f} MB: {COUNT:,} rows naming {ACCOUNTS:,} accounts")
    return import_id


def _wait(app, import_id: int) -> ContactImport:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with app.app_context():
            imported = db.session.execute(
                unscoped(select(ContactImport).where(ContactImport.id == import_id))).scalar_one()
            db.session.expunge(imported)
            db.session.remove()
        if not imported.active:
            return imported
        time.sleep(0.5)
    sys.exit(f"the import did not finish within {TIMEOUT_SECONDS} s")


def _rate(imported: ContactImport) -> tuple[float, float]:
    seconds = (imported.finished_at - imported.started_at).total_seconds()
    return (imported.total_rows / seconds if seconds > 0 else 0.0), seconds


def main() -> None:
    app = bench_app(_free_port())
    tenant_id, admin_id = _organisation(app)
    data = _csv()
    import_id = _start(app, tenant_id, admin_id, data)
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=_database_url(), REDIS_URL=app.config["REDIS_URL"],
               QUEUE_PREFIX=PREFIX, SWEEP_INTERVAL_SECONDS="30")
    env.pop("JOBS_INLINE", None)
    profile = os.environ.get("BENCH_PROFILE")  # a path: the worker's cProfile output goes there
    worker = subprocess.Popen([sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []), "worker.py"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    again = None
    try:
        imported = _wait(app, import_id)
        if AGAIN:
            again = _wait(app, _start(app, tenant_id, admin_id, data))
    finally:
        worker.terminate()
        worker.wait(30)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux
    rate, seconds = _rate(imported)
    with app.app_context(), tenant_context(tenant_id):
        responses = db.session.execute(select(func.count(Response.id))).scalar_one()
        contacts = db.session.execute(select(func.count(Contact.id))).scalar_one()
        account_count = db.session.execute(select(func.count(CustomerAccount.id))).scalar_one()
        clear_queues()
        db.session.remove()
    print(f"import {imported.status}: {imported.created:,} created, {imported.updated:,} updated, "
          f"{imported.skipped:,} skipped, {imported.rejected:,} rejected; {imported.accounts_created:,} accounts "
          f"created ({contacts:,} contacts and {account_count:,} accounts in the database)")
    if RESPONSES:
        print(f"{responses:,} responses in the database")
    print(f"rows/s: {rate:,.0f} ({imported.total_rows:,} rows in {seconds:.1f} s)")
    if again is not None:
        again_rate, again_seconds = _rate(again)
        print(f"the same file again: {again.created:,} created, {again.updated:,} updated, {again.skipped:,} "
              f"skipped, {again.rejected:,} rejected; rows/s: {again_rate:,.0f} ({again_seconds:.1f} s)")
    print(f"worker peak memory: {peak_mb:.0f} MB")
    if RESPONSES:
        ok = imported.status == "done" and responses == COUNT and peak_mb < TARGET_PEAK_MB and (
            again is None or (again.status == "done" and again.created == again.updated == 0))
        print(f"target: every row recorded once, peak memory under {TARGET_PEAK_MB} MB: {'met' if ok else 'NOT met'}")
        sys.exit(0 if ok else 1)
    ok = (imported.status == "done" and contacts == COUNT and account_count == ACCOUNTS
          and rate >= TARGET_ROWS_PER_SECOND and peak_mb < TARGET_PEAK_MB
          and (again is None or (again.status == "done" and again.created == again.updated == 0)))
    print(f"targets: at least {TARGET_ROWS_PER_SECOND:,} rows/s and peak memory under {TARGET_PEAK_MB} MB: "
          f"{'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
