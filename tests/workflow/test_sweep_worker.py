"""Notices with ``python worker.py`` in its own process (sweeping every second): a due notice arrives within
a sweep, and a flushed Redis or a restarted worker neither loses a notice nor sends one twice.

Redis is flushed with FLUSHDB on the tests' own database number only."""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.jobs import clear_queues, sweep
from app.tenancy import tenant_context
from app.timeutil import utcnow
from app.workflow.models import ScheduledNotice
from app.notifications import SLA_KINDS
from tests.processes import WorkerProcess, worker_env
from tests.support.tickets import open_ticket

PEOPLE = ("alex@acme.example", "mia@acme.example", "admin@acme-billing.example")


@pytest.fixture()
def worker(smtp_sink):
    process = WorkerProcess(worker_env(smtp_sink))
    yield process
    process.stop()


def _make_due(app, tenant_id: int, ticket_id: int, kinds=SLA_KINDS) -> None:
    """Bring the ticket's SLA notices forward to a minute ago."""
    with app.app_context(), tenant_context(tenant_id):
        db.session.execute(update(ScheduledNotice)
                           .where(ScheduledNotice.ticket_id == ticket_id, ScheduledNotice.kind.in_(kinds))
                           .values(due_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        db.session.remove()


def _sla_mail(smtp_sink, reference: str) -> Counter:
    """(recipient, kind) of every SLA notice about ``reference`` that reached the sink."""
    return Counter((str(m["To"]).split("<")[-1].rstrip(">"), m["X-Turnaround-Kind"]) for m in list(smtp_sink.messages)
                   if m["X-Turnaround-Kind"] in SLA_KINDS and reference in m["Subject"])


def _wait_for(smtp_sink, reference: str, expected: int, timeout: float = 20.0) -> float:
    """Seconds until ``expected`` SLA notices about ``reference`` arrived."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sum(_sla_mail(smtp_sink, reference).values()) >= expected:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"only {_sla_mail(smtp_sink, reference)} arrived")


def _unsent(app, tenant_id: int) -> list[str]:
    with app.app_context(), tenant_context(tenant_id):
        keys = list(db.session.execute(select(ScheduledNotice.key).where(
            ScheduledNotice.kind.in_(SLA_KINDS), ScheduledNotice.sent_at.is_(None),
            ScheduledNotice.due_at <= utcnow())).scalars())
        db.session.remove()
    return keys


def test_a_due_notice_arrives_within_a_sweep_of_the_worker_process(app, org, smtp_sink, worker):
    worker.start()
    time.sleep(1.5)  # the worker is up and sweeping
    ticket_id = open_ticket(app, org)
    _make_due(app, org["tenant_id"], ticket_id, ("first_contact_at_risk",))
    waited = _wait_for(smtp_sink, "D-0001", 3)
    assert waited < 5, waited  # one sweep every second, then delivery
    assert _sla_mail(smtp_sink, "D-0001") == Counter({(p, "first_contact_at_risk"): 1 for p in PEOPLE})
    assert _unsent(app, org["tenant_id"]) == []


def test_flushed_redis_and_restarted_worker_lose_no_notice_and_send_none_twice(app, org, smtp_sink, worker):
    # 1. Notices claimed and their mail queued, then Redis loses the delivery jobs before any worker ran.
    first = open_ticket(app, org, "Casey Client")
    _make_due(app, org["tenant_id"], first)
    with app.app_context():
        assert sweep()["notices"] == 4
        clear_queues()

    # 2. Notices that fall due while the worker is down and Redis is empty.
    worker.start()
    worker.kill()
    second = open_ticket(app, org, "Dana Doe")
    _make_due(app, org["tenant_id"], second)
    with app.app_context():
        clear_queues()

    worker.start()
    _wait_for(smtp_sink, "D-0001", 12)
    _wait_for(smtp_sink, "D-0002", 12)
    worker.kill()
    with app.app_context():
        clear_queues()
    worker.start()
    time.sleep(3)  # several more sweeps after yet another flush and restart: none may send again

    every_notice_once = Counter({(p, kind): 1 for p in PEOPLE for kind in SLA_KINDS})
    assert _sla_mail(smtp_sink, "D-0001") == every_notice_once
    assert _sla_mail(smtp_sink, "D-0002") == every_notice_once
    ids = Counter(m["Message-ID"] for m in smtp_sink.messages)
    assert set(ids.values()) == {1}
    assert _unsent(app, org["tenant_id"]) == []


def test_a_task_reminder_arrives_once_at_its_time_from_the_worker_process(app, org, smtp_sink, worker):
    from app.accounts.models import User
    from app.tickets.models import Ticket
    from app.workflow import todos as tasks

    ticket_id = open_ticket(app, org)
    remind_at = utcnow() + timedelta(seconds=3)
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.get(Ticket, ticket_id)
        tasks.add_task(ticket, db.session.get(User, org["agent"]), title="Call back after the AR review",
                       due_at=remind_at + timedelta(hours=1), remind_at=remind_at)
        db.session.commit()
        db.session.remove()
    worker.start()

    def reminders():
        return [m for m in list(smtp_sink.messages) if m["X-Turnaround-Kind"] == "task_reminder"]

    deadline = time.monotonic() + 20
    while not reminders() and time.monotonic() < deadline:
        time.sleep(0.1)
    arrived = utcnow()
    assert reminders(), "the reminder never arrived"
    assert arrived >= remind_at, "a reminder is not sent before its time"
    assert (arrived - remind_at).total_seconds() < 5, "it arrives within a sweep or two of its time"
    time.sleep(3)  # more sweeps: still one reminder
    (reminder,) = reminders()
    assert "Call back after the AR review" in reminder["Subject"]
    assert "alex@acme.example" in str(reminder["To"])
