"""How long a survey send to 10,000 contacts holding a recipient role takes to be fully queued, and in how
many SQL statements; optionally, how fast the worker then delivers it to a local SMTP server.

    createdb -h 127.0.0.1 -U postgres bench_send
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_send REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/send.py [COUNT] [deliver]

The script rebuilds the schema (the database name must contain "bench" or "test"), seeds an organisation
with COUNT contacts (default 10,000) holding the role "NPS Recipient", starts a send to that role as the
send page does (the time the request's service and commit take), then runs the send's job with a real RQ
worker on the real Redis and prints the seconds until every invitation and outbox row is written, and the
statements the job ran. With ``deliver`` it then starts ``python worker.py`` against an aiosmtpd sink (as
``bench/delivery.py`` does) and prints emails per second. Queues use the prefix ``turnaround-bench``.

Target: fully queued in under 10 s on the 2-core development machine; statements per batch of 1,000 fixed.
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ARGS = sys.argv[1:]
COUNT = int(ARGS[0]) if ARGS and ARGS[0].isdigit() else 10_000
DELIVER = "deliver" in ARGS
sys.argv[1:] = [str(COUNT)]  # bench/delivery.py reads its count from the command line when imported

from rq import SimpleWorker  # noqa: E402
from sqlalchemy import event, func, insert, select  # noqa: E402

from app.accounts import services as accounts  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.contacts.models import Contact, RecipientRole, contact_role  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import QUEUE_DEFAULT, clear_queues, get_queue, redis_connection  # noqa: E402
from app.mail import OutboxMessage  # noqa: E402
from app.surveys import services as surveys  # noqa: E402
from app.surveys.models import SurveySend  # noqa: E402
from app.surveys.sending import BATCH_SIZE  # noqa: E402
from app.tenancy import scoped_by_hand, tenant_context, unscoped  # noqa: E402
from app.timeutil import utcnow  # noqa: E402
from delivery import _database_url, _free_port, _sink, bench_app  # noqa: E402

PREFIX = "turnaround-bench"
TARGET_SECONDS = 10.0


def _seed(app) -> tuple[int, int, int]:
    """A verified organisation with COUNT contacts holding the role; returns (tenant, admin, role) ids."""
    tenant, admin = accounts.create_organisation(name="Bench Billing", kind="billing", timezone="UTC",
                                                 admin_name="Ada Admin", email="ada@bench.example",
                                                 password="correct-horse-battery")
    db.session.get(User, admin.id).email_verified_at = utcnow()
    db.session.commit()
    with tenant_context(tenant.id):
        role_id = db.session.execute(select(RecipientRole.id).where(RecipientRole.name == "NPS Recipient")).scalar_one()
        now = utcnow()
        ids = db.session.execute(scoped_by_hand(insert(Contact.__table__).returning(Contact.__table__.c.id)), [
            {"tenant_id": tenant.id, "name": f"Person {n:05d}", "email": f"person{n}@client.example",
             "created_at": now, "updated_at": now} for n in range(COUNT)
        ]).scalars().all()
        db.session.execute(scoped_by_hand(insert(contact_role)),
                           [{"tenant_id": tenant.id, "contact_id": i, "role_id": role_id} for i in ids])
        db.session.commit()
    return tenant.id, admin.id, role_id


def _deliver(database_url: str, redis_url: str, port: int) -> float:
    """Start the worker against a sink; returns emails per second (first to last accepted)."""
    out_path = tempfile.mktemp(prefix="bench-sink-")
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, ready, out_path, COUNT), daemon=True)
    sink.start()
    ready.wait(10)
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=database_url, REDIS_URL=redis_url,
               QUEUE_PREFIX=PREFIX, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))
    env.pop("JOBS_INLINE", None)
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        sink.join(900)
    finally:
        worker.terminate()
        worker.wait(10)
    times = [float(line.split(" ", 1)[0]) for line in Path(out_path).read_text().splitlines()]
    os.unlink(out_path)
    print(f"received {len(times)} of {COUNT}")
    return (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 else 0.0


def main() -> None:
    port = _free_port()
    app = bench_app(port)
    with app.app_context():
        tenant_id, admin_id, role_id = _seed(app)

    with app.test_request_context(), tenant_context(tenant_id):
        started = time.perf_counter()
        from app.accounts.models import Tenant

        send = surveys.send_survey(tenant=db.session.get(Tenant, tenant_id), survey=surveys.default_survey(),
                                   sent_by=db.session.get(User, admin_id), role=db.session.get(RecipientRole, role_id),
                                   total=COUNT)
        send_id = send.id
        db.session.commit()
        request_seconds = time.perf_counter() - started
        db.session.remove()

    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        started = time.perf_counter()
        SimpleWorker([get_queue(QUEUE_DEFAULT)], connection=redis_connection()).work(burst=True, with_scheduler=False)
        seconds = time.perf_counter() - started
        send = db.session.execute(unscoped(select(SurveySend).where(SurveySend.id == send_id))).scalar_one()
        outbox = db.session.execute(unscoped(select(func.count(OutboxMessage.id)))).scalar_one()
        status, queued = send.status, send.queued
        db.session.remove()
    batches = COUNT // BATCH_SIZE + 1
    print(f"send recorded and handed to the worker in {request_seconds * 1000:.0f} ms")
    print(f"{queued} of {COUNT} invited and queued ({outbox} outbox rows, send {status}) in {seconds:.2f} s, "
          f"{len(statements)} SQL statements for {batches} batches of up to {BATCH_SIZE} (plus one COPY each)")
    ok = status == "done" and queued == COUNT == outbox and seconds < TARGET_SECONDS
    if DELIVER:
        print(f"emails/s: {_deliver(_database_url(), app.config['REDIS_URL'], port):.0f}")
    with app.app_context():
        clear_queues()
    print(f"target: fully queued in under {TARGET_SECONDS:.0f} s: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
