"""Mail sent in bulk (survey invitations, introductions to contacts, digests) waits in a queue of its own that
the worker takes last, so a detractor alert queued after a large send still leaves first."""
from __future__ import annotations

from rq import SimpleWorker
from sqlalchemy import select

from app.extensions import db
from app.jobs import QUEUE_MAIL, QUEUE_MAIL_BULK, QUEUES, get_queue, redis_connection
from app.mail import OutboxMessage, queue_email
from app.tenancy import tenant_context


def _ids_in(queue: str) -> list[int]:
    return sorted(i for job in get_queue(queue).get_jobs() for i in job.args[0])


def test_an_alert_queued_after_a_survey_send_is_delivered_before_the_invitations(app, org, smtp_sink):
    with app.app_context(), tenant_context(org["tenant_id"]):
        invitations = [queue_email(kind="survey_invitation", to_address=f"patient{n}@example.com", to_name=None,
                                   subject="How did we do?", text_body="Score us") for n in range(3)]
        db.session.commit()
        alert = queue_email(kind="detractor_alert", to_address="lead@example.com", to_name="Lead",
                            subject="Detractor ticket D-0001", text_body="Call them")
        db.session.commit()
        assert _ids_in(QUEUE_MAIL_BULK) == sorted(m.id for m in invitations)
        assert _ids_in(QUEUE_MAIL) == [alert.id]

        SimpleWorker([get_queue(name) for name in QUEUES], connection=redis_connection()).work(
            burst=True, max_jobs=1, with_scheduler=False)
        assert [m["Subject"] for m in smtp_sink.wait_for(1)] == ["Detractor ticket D-0001"]
        states = dict(db.session.execute(select(OutboxMessage.kind, OutboxMessage.status)).all())
        assert states == {"detractor_alert": "sent", "survey_invitation": "queued"}

        SimpleWorker([get_queue(name) for name in QUEUES], connection=redis_connection()).work(
            burst=True, with_scheduler=False)
        assert len(smtp_sink.wait_for(4)) == 4
        db.session.remove()
