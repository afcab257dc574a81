"""``python worker.py`` in its own process: it sends what is owed, and the database makes it survive
a killed worker, a flushed or vanished Redis and an unreadable job without losing or repeating mail."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs import QUEUE_DEFAULT, QUEUE_MAIL, clear_queues, get_queue, key_name, redis_connection
from app.mail import OutboxMessage, deliver_messages
from app.tenancy import tenant_context
from tests.mail.helpers import queue_plain
from tests.processes import PrivateRedis, WorkerProcess, worker_env
from tests.smtp_sink import SinkProcess
from tests.support.data import add_member, answer, make_contact, make_org


@pytest.fixture()
def worker(smtp_sink):
    process = WorkerProcess(worker_env(smtp_sink))
    yield process
    process.stop()


def _detractor(app, name="Dee Tractor"):
    tenant_id, _ = make_org(app, "Acme Billing")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@acme.example")
    answer(app, tenant_id, make_contact(app, tenant_id, name), 2, "Nobody calls back.")
    return tenant_id


def _states(app, tenant_id):
    with app.app_context(), tenant_context(tenant_id):
        return Counter(db.session.execute(select(OutboxMessage.status)).scalars())


def _wait_until_sent(app, tenant_id, expected, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _states(app, tenant_id) == Counter({"sent": expected}):
            return
        time.sleep(0.2)
    raise AssertionError(f"not all sent: {_states(app, tenant_id)}")


def test_worker_process_delivers_queued_mail(app, smtp_sink, worker):
    tenant_id = _detractor(app)
    assert _states(app, tenant_id) == Counter({"queued": 2})
    worker.start()
    _wait_until_sent(app, tenant_id, 2)
    subjects = sorted(m["Subject"] for m in smtp_sink.wait_for(2))
    assert subjects[0].startswith("Detractor ticket D-0001") and "can we talk" in subjects[1]


def test_an_idle_worker_stops_within_seconds_of_being_asked(worker):
    worker.start()
    worker.wait_for_log("Listening on turnaround-test-mail...")
    asked = time.monotonic()
    worker.proc.terminate()
    assert worker.proc.wait(8) == 0
    assert time.monotonic() - asked < 5


def test_an_alert_goes_out_while_the_main_loop_is_busy_with_a_long_job(app, smtp_sink, worker):
    worker.start()
    worker.wait_for_log("Listening on turnaround-test-mail...")
    with app.app_context():
        get_queue(QUEUE_DEFAULT).enqueue("time.sleep", 20)  # an import or a poll that takes a while
    worker.wait_for_log("time.sleep(20)")
    started = time.monotonic()
    tenant_id = _detractor(app)
    alert = smtp_sink.wait_for(1, timeout=10)[0]
    assert alert["Subject"].startswith("Detractor ticket D-0001")
    assert time.monotonic() - started < 10
    # The introduction to the contact is bulk mail: it waits for the main loop.
    deadline = time.monotonic() + 5  # the alert's outcome is written just after the server's reply
    while _states(app, tenant_id) != Counter({"sent": 1, "queued": 1}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _states(app, tenant_id) == Counter({"sent": 1, "queued": 1})
    worker.kill()  # rather than wait out the long job


def test_flushed_redis_and_killed_worker_lose_nothing_and_send_nothing_twice(app, smtp_sink, worker):
    worker.start()
    worker.kill()
    tenant_id = _detractor(app)
    assert _states(app, tenant_id) == Counter({"queued": 2})
    with app.app_context():
        clear_queues()  # Redis loses every job
    worker.start()
    _wait_until_sent(app, tenant_id, 2)
    time.sleep(3)  # several more sweeps run; none may send again
    ids = Counter(m["Message-ID"] for m in smtp_sink.messages)
    assert len(ids) == 2 and set(ids.values()) == {1}



def test_fifty_detractors_in_a_row_each_alert_arrives_within_seconds_and_none_through_the_sweep(app):
    """Alerts are queued inside savepoints (their dedupe key); each must reach Redis at the commit of
    its answer and go out from there, not wait for the sweep to find it. The SMTP server runs in its own
    process so that its timing is the worker's, not the test's."""
    sink = SinkProcess()
    sink.start()
    worker = WorkerProcess(worker_env(sink))
    try:
        tenant_id, _ = make_org(app, "Acme Billing")
        add_member(app, tenant_id, "agent", "Alex Agent", "alex@acme.example")
        contacts = [make_contact(app, tenant_id, f"Dee Tractor{n}", f"dee{n}@client.example") for n in range(50)]
        worker.start()
        worker.wait_for_log("Listening on")  # timed from a running worker, not from its start-up
        answered_at: dict[int, float] = {}
        handed_over: dict[int, object] = {}
        for contact_id in contacts:
            answer(app, tenant_id, contact_id, 2, "Nobody calls back.")
            now = time.time()
            for message_id, enqueued_at in _alerts(app, tenant_id):
                if message_id not in answered_at:
                    answered_at[message_id], handed_over[message_id] = now, enqueued_at
        assert len(answered_at) == 50
        _wait_until_sent(app, tenant_id, 100, timeout=60)
        arrived = {int(message_id.split("@")[0].rsplit("-", 1)[1]): at for at, message_id in sink.received()}
        latencies = sorted(arrived[message_id] - at for message_id, at in answered_at.items())
        assert latencies[int(0.95 * len(latencies)) - 1] < 5, latencies
        assert dict(_alerts(app, tenant_id)) == handed_over, "an alert was re-enqueued by the sweep"
    finally:
        worker.stop()
        sink.stop()


def _alerts(app, tenant_id):
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(OutboxMessage.id, OutboxMessage.enqueued_at)
                                  .where(OutboxMessage.kind == "detractor_alert")).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_the_worker_waits_for_redis_to_come_back_and_then_delivers(app, smtp_sink):
    """Redis is killed under a running worker (a private redis-server: the shared one is never stopped)."""
    private = PrivateRedis()
    private.start()
    worker = WorkerProcess(worker_env(smtp_sink, REDIS_URL=private.url))
    try:
        worker.start()
        tenant_id, _ = make_org(app, "Acme Billing")
        [first] = queue_plain(app, tenant_id, subject="Before the outage")
        _wait_until_sent(app, tenant_id, 1)

        private.kill()
        worker.wait_for_log("Redis unavailable")
        [second] = queue_plain(app, tenant_id, to="later@example.com", subject="During the outage")
        time.sleep(3)  # the worker keeps going without Redis
        assert worker.proc.poll() is None, worker.log()[-3000:]
        assert [m["Subject"] for m in smtp_sink.messages] == ["Before the outage"]

        private.start()
        worker.wait_for_log("Reconnected to Redis")
        _wait_until_sent(app, tenant_id, 2)
        assert sorted(m["Subject"] for m in smtp_sink.messages) == ["Before the outage", "During the outage"]
        assert worker.proc.poll() is None
    finally:
        worker.stop()
        private.kill()


def test_a_job_with_a_corrupt_hash_is_set_aside_and_the_worker_carries_on(app, smtp_sink, worker):
    tenant_id, _ = make_org(app, "Acme Billing")
    with app.app_context():
        conn = redis_connection()
        broken = get_queue(QUEUE_MAIL).enqueue_call(deliver_messages, args=([999_999],))
        conn.hset(f"rq:job:{broken.id}", "created_at", "not a date")
    [message_id] = queue_plain(app, tenant_id, subject="After the broken job")
    worker.start()
    _wait_until_sent(app, tenant_id, 1)
    worker.wait_for_log(f"Job {broken.id} cannot be loaded")
    assert worker.proc.poll() is None, "the worker must not exit on a job it cannot read"
    with app.app_context():
        assert redis_connection().exists(key_name(f"unreadable-job:{broken.id}"))
        assert not redis_connection().exists(f"rq:job:{broken.id}")
