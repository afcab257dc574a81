"""Issue 8.1: every 4xx (at connect, MAIL, RCPT or DATA), a refused or dropped connection and a timeout are
transient and retried with a growing delay; only a 5xx is permanent, and only for the recipient it names."""
from __future__ import annotations


import pytest

from app.mail import MAX_ATTEMPTS, deliver_messages
from app.timeutil import utcnow
from tests.support.data import run_jobs
from tests.mail.helpers import attempts, make_due, outbox, queue_plain
from tests.smtp_sink import FlakyListener, _free_port


@pytest.mark.parametrize("stage, reply", [
    ("MAIL", "451 4.3.0 Sender greylisted"),
    ("RCPT", "450 4.2.0 Mailbox busy"),
    ("RCPT", "452 4.5.3 Too many recipients"),
    ("DATA", "451 4.3.0 Temporary local problem"),
])
def test_a_4xx_at_any_stage_is_retried_and_the_retry_is_delivered(app, org, smtp_sink, stage, reply):
    smtp_sink.fail(stage, reply)
    [message_id] = queue_plain(app, org["tenant_id"])
    run_jobs(app)
    [row] = outbox(app, org["tenant_id"])
    assert row.status == "queued" and row.last_error == reply
    assert row.next_attempt_at > utcnow()

    make_due(app)
    with app.app_context():
        assert deliver_messages([message_id]) == {"sent": 1}
    assert [a.outcome for a in attempts(app, org["tenant_id"], message_id)] == ["transient", "sent"]
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize("mode", ["greet-421", "drop", "silent", "refused"])
def test_connection_failures_and_timeouts_are_transient(app, org, monkeypatch, mode):
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 0.5)
    [message_id] = queue_plain(app, org["tenant_id"])
    if mode == "refused":
        monkeypatch.setitem(app.config, "SMTP_PORT", _free_port())
        with app.app_context():
            deliver_messages([message_id])
    else:
        with FlakyListener(mode) as listener:
            monkeypatch.setitem(app.config, "SMTP_PORT", listener.port)
            with app.app_context():
                deliver_messages([message_id])
            assert listener.connections == 1
    [row] = outbox(app, org["tenant_id"])
    assert row.status == "queued" and row.attempts == 1 and row.sent_at is None
    [attempt] = attempts(app, org["tenant_id"], message_id)
    assert attempt.outcome == "transient"
    if mode == "greet-421":
        assert attempt.reply.startswith("421 4.3.2")


def test_the_delay_doubles_with_each_transient_failure(app, org, smtp_sink, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_RETRY_SECONDS", 30)
    smtp_sink.fail("RCPT", "451 greylisted", times=3)
    [message_id] = queue_plain(app, org["tenant_id"])
    delays = []
    for _ in range(3):
        with app.app_context():
            deliver_messages([message_id])
        [row] = outbox(app, org["tenant_id"])
        delays.append(round((row.next_attempt_at - attempts(app, org["tenant_id"], message_id)[-1].attempted_at)
                            .total_seconds()))
        make_due(app)
    assert delays == [30, 60, 120]


def test_transient_failures_fail_the_message_after_the_last_attempt(app, org, smtp_sink):
    smtp_sink.fail("RCPT", "451 greylisted", times=MAX_ATTEMPTS)
    [message_id] = queue_plain(app, org["tenant_id"])
    for _ in range(MAX_ATTEMPTS):
        with app.app_context():
            deliver_messages([message_id])
        make_due(app)
    [row] = outbox(app, org["tenant_id"])
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert smtp_sink.messages == []


def test_a_5xx_fails_only_the_message_whose_recipient_it_names(app, org, smtp_sink):
    smtp_sink.fail("RCPT", "550 5.1.1 No such user", address="person1@")
    ids = queue_plain(app, org["tenant_id"], 3)
    run_jobs(app)
    rows = outbox(app, org["tenant_id"])
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("failed", 1), ("sent", 1)]
    assert "550 5.1.1 No such user" in rows[1].last_error and "person1@example.com" in rows[1].last_error
    assert sorted(str(m["To"]) for m in smtp_sink.messages) == ["Person 0 <person0@example.com>",
                                                               "Person 2 <person2@example.com>"]
    assert [a.outcome for a in attempts(app, org["tenant_id"], ids[1])] == ["permanent"]


def test_a_4xx_does_not_hold_back_the_rest_of_the_batch(app, org, smtp_sink):
    smtp_sink.fail("DATA", "452 4.3.1 Insufficient system storage", address="person0@")
    queue_plain(app, org["tenant_id"], 3)
    run_jobs(app)
    assert [r.status for r in outbox(app, org["tenant_id"])] == ["queued", "sent", "sent"]
    assert len(smtp_sink.messages) == 2


def test_an_unreachable_server_defers_the_whole_batch_after_one_try(app, org, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 0.5)
    ids = queue_plain(app, org["tenant_id"], 5)
    with FlakyListener("silent") as listener:
        monkeypatch.setitem(app.config, "SMTP_PORT", listener.port)
        with app.app_context():
            assert deliver_messages(ids) == {"queued": 5}
        assert listener.connections == 1  # one timeout, not five
    [reply] = {a.reply for i in ids for a in attempts(app, org["tenant_id"], i)}
    assert "timed out" in reply
