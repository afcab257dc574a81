"""Fault drills with ``python worker.py`` in its own process, as the acceptance criteria state them: a mail
server that greylists everything for 30 seconds, and Redis stopped for 15 seconds. Each takes about as long
as its outage; both poll with short intervals and fail with what they saw."""
from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from app.extensions import db
from app.mail import DeliveryAttempt, OutboxMessage
from app.tenancy import tenant_context
from tests.mail.helpers import queue_plain
from tests.processes import PrivateRedis, WorkerProcess, worker_env
from tests.support.data import login

GREYLISTED = "451 4.7.1 Greylisted, try again later"


def _states(app, tenant_id: int) -> Counter:
    with app.app_context(), tenant_context(tenant_id):
        states = Counter(db.session.execute(select(OutboxMessage.status)).scalars())
        db.session.remove()
    return states


def _wait_until_sent(app, tenant_id: int, expected: int, timeout: float, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout
    while (states := _states(app, tenant_id)) != Counter({"sent": expected}):
        assert "failed" not in states, f"a message failed: {states}"
        assert worker.proc.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
        if time.monotonic() > deadline:
            raise AssertionError(f"not all {expected} sent after {timeout}s: {states}\n{worker.log()[-3000:]}")
        time.sleep(0.2)


def _delivered_once_each(smtp_sink, expected: int) -> None:
    """Every message arrived exactly once: one copy per (Message-ID, recipient)."""
    copies = Counter((m["Message-ID"], str(m["To"])) for m in smtp_sink.messages)
    assert len(copies) == expected, f"{len(copies)} distinct messages, expected {expected}"
    assert set(copies.values()) == {1}, [key for key, n in copies.items() if n > 1]


def _attempts_by_message(app, tenant_id: int) -> dict[int, list[tuple[str, str]]]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(DeliveryAttempt.message_id, DeliveryAttempt.outcome, DeliveryAttempt.reply)
                                  .order_by(DeliveryAttempt.id)).all()
        db.session.remove()
    attempts: dict[int, list[tuple[str, str]]] = {}
    for message_id, outcome, reply in rows:
        attempts.setdefault(message_id, []).append((outcome, reply))
    return attempts


def test_a_server_greylisting_everything_for_30_seconds_gets_each_message_once_and_none_fails(
        app, smtp_sink, client, org):
    """Retries come every few seconds (``MAIL_RETRY_SECONDS=2``: 2, 4, 8, 16 s), so the fifth attempt of each
    message comes at least 30 s after its first, when the greylisting (which started before the first message
    was queued) is over: four transient replies each, far from the last attempt that would fail a message."""
    worker = WorkerProcess(worker_env(smtp_sink, MAIL_RETRY_SECONDS="2"))
    tenant_id = org["tenant_id"]
    try:
        worker.start()
        worker.wait_for_log("Listening on")
        smtp_sink.fail_until("RCPT", GREYLISTED, time.time() + 30)
        ids = queue_plain(app, tenant_id, 100, subject="Greylisted {n}")
        _wait_until_sent(app, tenant_id, 100, timeout=45, worker=worker)
    finally:
        worker.stop()
    _delivered_once_each(smtp_sink, 100)

    attempts = _attempts_by_message(app, tenant_id)
    assert sorted(attempts) == sorted(ids)
    for message_id, tries in attempts.items():
        *refused, (last_outcome, _) = tries
        assert 1 <= len(refused) <= 4, tries  # four unless the machine is very slow: never near the last attempt
        assert all(outcome == "transient" and GREYLISTED in reply for outcome, reply in refused), tries
        assert last_outcome == "sent", tries

    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/{ids[0]}").get_data(as_text=True)
    assert page.count(GREYLISTED) == len(attempts[ids[0]]) - 1, "the email log shows each transient reply"


def test_redis_stopped_for_15_seconds_loses_no_mail_and_sends_none_twice(app, smtp_sink, org):
    """Redis (a private redis-server: the shared one is never stopped) is killed under a running worker and
    started again empty. Mail queued meanwhile waits in the outbox; once Redis is back the sweep hands it
    over and the job loop, which tries Redis again every ``RECONNECT_MAX_SECONDS``, sends it within seconds."""
    private = PrivateRedis()
    private.start()
    worker = WorkerProcess(worker_env(smtp_sink, REDIS_URL=private.url))
    tenant_id = org["tenant_id"]
    try:
        with private.used_by(app):
            worker.start()
            queue_plain(app, tenant_id, 10, to="before{n}@example.com", subject="Before {n}")
            _wait_until_sent(app, tenant_id, 10, timeout=15, worker=worker)

            private.kill()
            down_since = time.monotonic()
            worker.wait_for_log("Redis unavailable")
            # Queueing does not fail: the rows commit and stay owed in the outbox.
            queue_plain(app, tenant_id, 10, to="early{n}@example.com", subject="Early in the outage {n}")
            time.sleep(max(0.0, down_since + 7.5 - time.monotonic()))
            queue_plain(app, tenant_id, 10, to="late{n}@example.com", subject="Late in the outage {n}")
            time.sleep(max(0.0, down_since + 15 - time.monotonic()))
            assert worker.proc.poll() is None, worker.log()[-3000:]
            assert len(smtp_sink.messages) == 10, "nothing goes out while Redis is down"
            assert _states(app, tenant_id) == Counter({"sent": 10, "queued": 20})

            private.start()
            back_at = time.monotonic()
            worker.wait_for_log("Reconnected to Redis", timeout=5)
            queue_plain(app, tenant_id, 10, to="after{n}@example.com", subject="After {n}")
            _wait_until_sent(app, tenant_id, 40, timeout=20, worker=worker)
            recovered_in = time.monotonic() - back_at
            assert worker.proc.poll() is None, worker.log()[-3000:]
    finally:
        worker.stop()
        private.kill()
    _delivered_once_each(smtp_sink, 40)
    # The job loop tries Redis again every 2 s at most and the sweep runs every second: RQ's own backoff, left
    # alone, would have reached 16 s by the end of the outage.
    assert recovered_in < 5, f"mail waited {recovered_in:.1f}s after Redis came back"
