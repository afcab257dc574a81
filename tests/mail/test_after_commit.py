"""Issue 8.2: a job reaches Redis only when the OUTERMOST transaction that wrote its row commits. Releasing a
SAVEPOINT (``queue_email(dedupe_key=…)`` uses one) fires SQLAlchemy's ``after_commit`` too; it must not
hand anything to Redis."""
from __future__ import annotations

from app.extensions import db
from app.jobs import QUEUE_MAIL, get_queue
from app.mail import queue_email
from app.tenancy import tenant_context


def _queued_message_ids() -> list[int]:
    return sorted(i for job in get_queue(QUEUE_MAIL).get_jobs() for i in job.args[0])


def _queue(key: str | None = None, to: str = "pat@example.com"):
    return queue_email(kind="team_invitation", to_address=to, to_name="Pat", subject="Hello", text_body="Hi",
                       dedupe_key=key)


def test_a_message_queued_inside_a_savepoint_reaches_redis_only_at_the_outer_commit(app, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        message = _queue("welcome:pat")  # begin_nested() inside: the savepoint is released here
        assert db.session().in_transaction()
        assert _queued_message_ids() == []
        with db.session.begin_nested():  # and a savepoint of the caller's own
            inner = _queue("welcome:sam", "sam@example.com")
        assert _queued_message_ids() == []
        db.session.commit()
        assert _queued_message_ids() == [message.id, inner.id]
        db.session.remove()


def test_nothing_reaches_redis_when_the_outer_transaction_rolls_back_after_a_released_savepoint(app, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        _queue("welcome:pat")
        db.session.rollback()
        db.session.commit()
        assert _queued_message_ids() == []
        db.session.remove()


def test_a_rolled_back_savepoint_drops_its_jobs_and_keeps_the_others(app, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        kept = _queue()
        try:
            with db.session.begin_nested():
                _queue("welcome:sam", "sam@example.com")
                with db.session.begin_nested():
                    _queue("welcome:kim", "kim@example.com")
                raise RuntimeError("the caller gives up on this part")
        except RuntimeError:
            pass
        db.session.commit()
        assert _queued_message_ids() == [kept.id]
        db.session.remove()


def test_one_transaction_owes_one_delivery_job_for_all_its_messages(app, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        ids = [_queue(f"k{n}", f"p{n}@example.com").id for n in range(3)]
        db.session.commit()
        [job] = get_queue(QUEUE_MAIL).get_jobs()
        assert list(job.args[0]) == ids
        db.session.remove()
