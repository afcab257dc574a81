"""How fast one worker delivers a 10,000-recipient send to a local SMTP server, and that no message's job
is ever queued twice while sweeps run alongside.

    createdb -h 127.0.0.1 -U postgres bench_delivery
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_delivery REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/delivery.py [COUNT]

The script rebuilds the schema (the database name must contain "bench" or "test"), writes COUNT outbox
messages (default 10,000) in one transaction and hands them to the mail queue as the app does after a
commit, then starts ``python worker.py`` (sweeping every second, with a 2-second staleness so the sweeps
would re-enqueue anything they wrongly thought lost) against an aiosmtpd sink in its own process. It prints
emails per second (first to last message accepted by the sink, and wall time from the worker's start),
how many message ids were queued more than once, and how many the sink received more than once.
Its queues use the prefix ``turnaround-bench``, so nothing else on the Redis database is touched.

Target: at least 200 emails/s on the 2-core development machine, no job queued twice, nothing sent twice.
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts import services as accounts  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import QUEUE_MAIL, clear_queues, get_queue, redis_available  # noqa: E402
from app.mail import OutboxMessage, enqueue_deliveries  # noqa: E402
from app.tenancy import unscoped  # noqa: E402
from app.timeutil import utcnow  # noqa: E402
from bench.schema import rebuild_schema  # noqa: E402

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
PREFIX = "turnaround-bench"
TARGET = 200.0


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if not url.startswith("postgres") or ("bench" not in name and "test" not in name):
        sys.exit("DATABASE_URL must name a PostgreSQL database whose name contains 'bench' or 'test'")
    return url


def _sink(port: int, ready, out_path: str, expected: int) -> None:
    """An SMTP server that accepts everything and writes "<time> <Message-ID>" per message."""
    import re

    from aiosmtpd.controller import Controller

    received: list[str] = []
    done = multiprocessing.Event()
    message_id = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            found = message_id.search(envelope.original_content or envelope.content)
            received.append(f"{time.time():.6f} {found.group(1).decode() if found else '?'}")
            if len(received) >= expected:
                done.set()
            return "250 2.0.0 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    done.wait(600)
    controller.stop()
    Path(out_path).write_text("\n".join(received))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_app(port: int):
    """The app on the benchmark's database, rebuilt empty at the newest revision, with empty queues; mail goes
    to ``port``."""
    database_url = _database_url()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    if not redis_available(redis_url):
        sys.exit(f"Redis is not reachable at {redis_url}")
    app = create_app({"APP_ENV": "development", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url,
                      "QUEUE_PREFIX": PREFIX, "JOBS_INLINE": False, "SMTP_PORT": port})
    with app.app_context():
        rebuild_schema(app)
        clear_queues()
    return app


def main() -> None:
    port = _free_port()
    app = bench_app(port)
    with app.app_context():
        tenant, _ = accounts.create_organisation(name="Bench Billing", kind="billing", timezone="UTC",
                                                 admin_name="Ada Admin", email="ada@bench.example",
                                                 password="correct-horse-battery")
        db.session.commit()
        now = utcnow()
        rows = [{"tenant_id": tenant.id, "kind": "survey_invitation", "to_address": f"person{n}@client.example",
                 "to_name": f"Person {n}", "from_name": "Bench Billing", "from_address": "outreach@bench.example",
                 "subject": "How likely are you to recommend Bench Billing?", "status": "queued", "attempts": 0,
                 "text_body": "Hello,\n\nHow likely are you to recommend us to a colleague?\n" * 5,
                 "html_body": "<p>How likely are you to recommend us to a colleague?</p>" * 5,
                 "created_at": now, "enqueued_at": now} for n in range(COUNT)]
        ids = list(db.session.execute(unscoped(insert(OutboxMessage.__table__).returning(OutboxMessage.id)),
                                      rows).scalars())
        db.session.commit()
        enqueue_deliveries(ids)
        jobs = get_queue(QUEUE_MAIL).count
        print(f"{COUNT} messages written and queued in {jobs} jobs of up to {app.config['MAIL_BATCH_SIZE']}")

    out_path = tempfile.mktemp(prefix="bench-sink-")
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, ready, out_path, COUNT), daemon=True)
    sink.start()
    ready.wait(10)
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=_database_url(), REDIS_URL=app.config["REDIS_URL"],
               QUEUE_PREFIX=PREFIX, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SWEEP_INTERVAL_SECONDS="1",
               OUTBOX_STALE_SECONDS="2")
    env.pop("JOBS_INLINE", None)
    started = time.time()
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        sink.join(600)
        wall = time.time() - started
        time.sleep(3)  # a few more sweeps: none may queue or send anything again
    finally:
        worker.terminate()
        worker.wait(10)

    lines = [line.split(" ", 1) for line in Path(out_path).read_text().splitlines()]
    os.unlink(out_path)
    times = [float(t) for t, _ in lines]
    sent_twice = sum(1 for n in Counter(mid for _, mid in lines).values() if n > 1)
    with app.app_context():
        queue = get_queue(QUEUE_MAIL)
        job_ids = queue.finished_job_registry.get_job_ids() + queue.get_job_ids()
        queued = Counter()
        for job in queue.job_class.fetch_many(job_ids, connection=queue.connection):
            if job is not None:
                queued.update(job.args[0])
        statuses = dict(db.session.execute(unscoped(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
        clear_queues()
    rate = (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 else 0.0
    print(f"received {len(times)} of {COUNT}; outbox: {statuses}")
    print(f"emails/s: {rate:.0f} (first to last accepted), {len(times) / wall:.0f} including worker start-up "
          f"({wall:.1f} s wall)")
    twice = sum(1 for n in queued.values() if n > 1)
    print(f"message ids queued more than once: {twice}; received more than once: {sent_twice}")
    ok = rate >= TARGET and twice == 0 and sent_twice == 0 and len(times) == COUNT
    print(f"target >= {TARGET:.0f} emails/s, nothing queued or sent twice: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
