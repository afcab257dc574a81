"""Signed webhooks under load: how fast the receiving URL acknowledges, and how soon each detractor's alert
reaches the mailbox after its webhook was acknowledged.

    createdb -h 127.0.0.1 -U postgres bench_webhooks
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_webhooks REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/webhooks.py [COUNT] [CLIENTS] [WORKERS]

The script rebuilds the schema (the database name must contain "bench" or "test"), signs up an organisation
with a generic integration, and starts gunicorn (2 worker processes of 4 threads each), WORKERS (default 1)
``python worker.py`` processes and an aiosmtpd sink, each in its own process. COUNT (default 1,000) Standard-Webhooks-signed answers, every one a detractor, are then
posted by CLIENTS (default 16) concurrent clients. It prints acknowledgements per second (first request to
last acknowledgement), the acknowledgement latency, and for each webhook the time from its acknowledgement to
the ticket's alert ("ticket opened", to the organisation's notification list) arriving in the sink: median,
p95 and worst. Queues use the prefix ``turnaround-bench``, so nothing else on the Redis database is touched.

Target: p95 from acknowledgement to alert under 5 s, every webhook acknowledged in under 1 s.
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app.accounts import services as accounts  # noqa: E402
from app.extensions import db  # noqa: E402
from app.integrations.services import create_integration, keys_of  # noqa: E402
from app.integrations.sources.generic import sign  # noqa: E402
from app.jobs import clear_queues  # noqa: E402
from app.mail import OutboxMessage  # noqa: E402
from app.surveys.models import Response  # noqa: E402
from app.tenancy import all_tenants, tenant_context  # noqa: E402
from app.tickets.models import Ticket  # noqa: E402
from app.timeutil import utcnow  # noqa: E402
from bench.delivery import PREFIX, _database_url, _free_port, bench_app  # noqa: E402

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 16
WORKERS = int(sys.argv[3]) if len(sys.argv) > 3 else 1
TARGET_P95 = 5.0
SECRET_KEY = "bench-webhooks-" + uuid.uuid4().hex


def _sink(port: int, ready, out_path: str, stop) -> None:
    """An SMTP server that accepts everything and appends "<time> <Message-ID>" per message to ``out_path``."""
    import re

    from aiosmtpd.controller import Controller

    message_id = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
    out = open(out_path, "a", buffering=1)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            found = message_id.search(envelope.original_content or envelope.content)
            out.write(f"{time.time():.6f} {found.group(1).decode() if found else '?'}\n")
            return "250 2.0.0 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait(900)
    controller.stop()
    out.close()


def _seed(app) -> tuple[int, str, str]:
    with app.app_context():
        tenant, admin = accounts.create_organisation(name="Bench Clinic", kind="clinic", timezone="UTC",
                                                     admin_name="Ada Admin", email="ada@bench.example",
                                                     password="correct-horse-battery")
        admin.email_verified_at = utcnow()
        db.session.commit()
        with tenant_context(tenant.id):
            integration = create_integration(kind="generic", name="Bench webhooks")
            db.session.commit()
            found = tenant.id, integration.token, keys_of(integration).signing_secret
        db.session.remove()
    return found


def _wait_for(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/login")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)


def _post_all(port: int, path: str, secret: str) -> tuple[dict[str, float], list[float], int, float]:
    """Post COUNT signed webhooks from CLIENTS threads; (ack time by external id, latencies, failures, start)."""
    acks: dict[str, float] = {}
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client(numbers: range) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in numbers:
            external_id = f"bench-{n}"
            body = json.dumps({"external_id": external_id, "email": f"patient{n}@client.example",
                               "name": f"Patient {n}", "score": n % 7, "comment": "Waited too long on the phone.",
                               "answered_at": "2026-12-01T09:00:00Z", "account": f"Practice {n % 50}"}).encode()
            msg_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
            headers = {"Content-Type": "application/json", "webhook-id": msg_id,
                       "webhook-timestamp": str(timestamp), "webhook-signature": sign(secret, msg_id, timestamp, body)}
            sent = time.time()
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == 200
                if not ok and not failures[0]:
                    print(f"webhook refused: {answer.status}", file=sys.stderr)
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            done = time.time()
            with lock:
                if ok:
                    acks[external_id] = done
                    latencies.append(done - sent)
                else:
                    failures[0] += 1
        connection.close()

    started = time.time()
    threads = [threading.Thread(target=client, args=(range(i, COUNT, CLIENTS),)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acks, latencies, failures[0], started


def _alerts(app, tenant_id: int) -> dict[str, str]:
    """Message-ID of each ticket's first "ticket opened" alert, by the webhook's external id."""
    with app.app_context(), all_tenants():
        rows = db.session.execute(
            select(Response.external_id, OutboxMessage)
            .join(Ticket, Ticket.response_id == Response.id)
            .join(OutboxMessage, OutboxMessage.ticket_id == Ticket.id)
            .where(OutboxMessage.kind == "detractor_alert", Response.tenant_id == tenant_id)
            .order_by(OutboxMessage.id)
        ).all()
        found: dict[str, str] = {}
        for external_id, message in rows:
            found.setdefault(external_id, message.message_id)
        db.session.remove()
    return found


def _alerts_sent(app, tenant_id: int) -> int:
    """How many "ticket opened" alerts the worker has handed to the sink so far."""
    with app.app_context(), all_tenants():
        count = db.session.execute(
            select(func.count(OutboxMessage.id))
            .where(OutboxMessage.tenant_id == tenant_id, OutboxMessage.kind == "detractor_alert",
                   OutboxMessage.status == "sent")
        ).scalar_one()
        db.session.remove()
    return count


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> None:
    smtp_port, web_port = _free_port(), _free_port()
    os.environ["SECRET_KEY"] = SECRET_KEY  # the web and worker processes must read the secrets this one stores
    app = bench_app(smtp_port)
    tenant_id, token, secret = _seed(app)
    out_path = tempfile.mktemp(prefix="bench-webhook-sink-")
    Path(out_path).touch()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(smtp_port, ready, out_path, stop), daemon=True)
    sink.start()
    ready.wait(10)
    env = dict(os.environ, APP_ENV="development", SECRET_KEY=SECRET_KEY, DATABASE_URL=_database_url(),
               REDIS_URL=app.config["REDIS_URL"], QUEUE_PREFIX=PREFIX, SMTP_HOST="127.0.0.1",
               SMTP_PORT=str(smtp_port), SWEEP_INTERVAL_SECONDS="5", PYTHONPATH=str(ROOT))
    env.pop("JOBS_INLINE", None)
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b",
                            f"127.0.0.1:{web_port}", "--log-level", "warning", "app:create_app()"], cwd=ROOT, env=env)
    profile = os.environ.get("BENCH_PROFILE")  # a path prefix: each worker's cProfile output goes to PREFIX.N
    workers = [subprocess.Popen([sys.executable, *(["-m", "cProfile", "-o", f"{profile}.{n}"] if profile else []),
                                 "worker.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for n in range(WORKERS)]
    try:
        _wait_for(web_port)
        acks, latencies, failures, started = _post_all(web_port, f"/hooks/{token}", secret)
        acked = time.time()
        if not acks:
            raise SystemExit("no webhook was acknowledged")
        print(f"{WORKERS} worker process(es); {len(acks)} of {COUNT} webhooks acknowledged by {CLIENTS} clients in {acked - started:.1f} s "
              f"({len(acks) / (max(acks.values()) - started):.0f} acknowledgements/s); {failures} failed")
        print(f"acknowledgement latency: median {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {_percentile(latencies, .95) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms")
        deadline = time.time() + 600
        arrived: dict[str, float] = {}
        alerts: dict[str, str] = {}
        while time.time() < deadline:
            # Cheap until every alert is out: the full mapping below joins three growing tables, and polling
            # it every second would compete with the worker being measured (arrival times come from the sink).
            if _alerts_sent(app, tenant_id) < len(acks):
                time.sleep(1)
                continue
            alerts = _alerts(app, tenant_id)
            received = {}
            for line in Path(out_path).read_text().splitlines():
                moment, message_id = line.split(" ", 1)
                received.setdefault(message_id, float(moment))
            arrived = {eid: received[mid] for eid, mid in alerts.items() if mid in received}
            if len(arrived) >= len(acks):
                break
            time.sleep(1)
    finally:
        for process in (web, *workers):
            process.terminate()
        for process in (web, *workers):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # a worker finishing a sweep on a loaded machine
                process.kill()
                process.wait(10)
        stop.set()
        sink.join(10)
    with app.app_context(), tenant_context(tenant_id):
        responses = db.session.execute(select(func.count(Response.id))).scalar_one()
        tickets = db.session.execute(select(func.count(Ticket.id))).scalar_one()
        clear_queues()
    os.unlink(out_path)
    delays = [arrived[eid] - acks[eid] for eid in arrived if eid in acks]
    print(f"responses recorded: {responses}; tickets opened: {tickets}; alerts in the sink: {len(arrived)}")
    if delays:
        print(f"acknowledgement to alert in the sink: median {statistics.median(delays):.2f} s, "
              f"p95 {_percentile(delays, .95):.2f} s, worst {max(delays):.2f} s")
    p95 = _percentile(delays, .95) if delays else float("inf")
    ok = (len(arrived) == COUNT and responses == COUNT and p95 < TARGET_P95 and failures == 0
          and max(latencies) < 1.0)
    print(f"target p95 < {TARGET_P95:.0f} s, every acknowledgement < 1 s: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
