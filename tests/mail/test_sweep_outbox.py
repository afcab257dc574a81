"""Issue 8.4: ``enqueued_at`` is set whenever a message's job is queued, and the sweep re-enqueues only what
is really lost, so however often it runs the queue holds each message's job at most once."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from rq import SimpleWorker
from sqlalchemy import update

from app.extensions import db
from app.jobs import QUEUE_MAIL, clear_queues, get_queue, redis_connection
from app.mail import OutboxMessage, sweep_outbox
from app.tenancy import unscoped
from app.timeutil import utcnow
from tests.mail.helpers import outbox, queue_plain


def _queued_ids() -> Counter:
    return Counter(i for job in get_queue(QUEUE_MAIL).get_jobs() for i in job.args[0])


def _sweeps(app, times: int = 3) -> int:
    with app.app_context():
        swept = sum(sweep_outbox(stale_after=0) for _ in range(times))
        db.session.remove()
    return swept


def _age_everything(app, seconds: int = 3600) -> None:
    """As if the jobs had been waiting in Redis for an hour (a long queue)."""
    with app.app_context():
        db.session.execute(unscoped(update(OutboxMessage).values(
            enqueued_at=utcnow() - timedelta(seconds=seconds), created_at=utcnow() - timedelta(seconds=seconds))))
        db.session.commit()
        db.session.remove()


def test_a_thousand_message_send_swept_again_and_again_queues_each_message_once(app, org, smtp_sink):
    ids = queue_plain(app, org["tenant_id"], 1000)
    assert all(row.enqueued_at is not None for row in outbox(app, org["tenant_id"]))
    _age_everything(app)
    with app.app_context():
        assert _queued_ids() == Counter({i: 1 for i in ids})
        assert _sweeps(app) == 0
        assert _queued_ids() == Counter({i: 1 for i in ids})

        # Part of the send goes out; the sweeps keep running alongside.
        SimpleWorker([get_queue(QUEUE_MAIL)], connection=redis_connection()).work(burst=True, max_jobs=5)
        assert _sweeps(app) == 0
        waiting = _queued_ids()
        assert set(waiting.values()) == {1} and len(waiting) == 750

        SimpleWorker([get_queue(QUEUE_MAIL)], connection=redis_connection()).work(burst=True)
        db.session.remove()
    assert _sweeps(app) == 0
    assert Counter(row.status for row in outbox(app, org["tenant_id"])) == Counter({"sent": 1000})
    assert len(smtp_sink.messages) == 1000
    assert len({str(m["Message-ID"]) for m in smtp_sink.messages}) == 1000


def test_messages_whose_jobs_redis_lost_are_queued_again_once_and_stamped(app, org):
    ids = queue_plain(app, org["tenant_id"], 60)
    _age_everything(app)
    with app.app_context():
        clear_queues()  # Redis loses every job
        before = utcnow()
        assert _sweeps(app) == 60
        assert _queued_ids() == Counter({i: 1 for i in ids})
        db.session.remove()
    assert all(row.enqueued_at >= before for row in outbox(app, org["tenant_id"]))


def test_a_fresh_message_is_left_to_its_own_job_even_without_one_in_redis(app, org):
    queue_plain(app, org["tenant_id"], 3)
    with app.app_context():
        clear_queues()
        assert sweep_outbox() == 0  # not stale yet: its after-commit job may be on its way
        db.session.remove()
