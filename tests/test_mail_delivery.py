"""Email leaves through the outbox and a real RQ worker into a real SMTP server: detractor alert and
introduction, recovery when Redis loses the jobs, exactly-once delivery, transient and permanent failures."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from email.utils import getaddresses, parseaddr

from sqlalchemy import select, update

from app.extensions import db
from app.jobs import clear_queues, enqueue_now
from app.mail import MAX_ATTEMPTS, OutboxMessage, deliver, sweep_outbox
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.timeutil import utcnow
from tests.smtp_sink import _free_port, body_text
from tests.support.data import login, make_contact, make_invitation, run_jobs, user_email

HTMX = {"HX-Request": "true"}
CASEY = "casey.client@client.example"


def _messages(app, tenant_id) -> list[OutboxMessage]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def _detractor_via_page(app, client, org, *, email=CASEY, score="3", comment="Billing errors every month"):
    contact_id = make_contact(app, org["tenant_id"], "Casey Client", email)
    token = make_invitation(app, org["tenant_id"], contact_id)
    assert client.post(f"/s/{token}", data={"score": score, "comment": comment}).status_code == 303
    return token


def _to(message) -> list[str]:
    return [address.lower() for _, address in getaddresses([str(message["To"])])]


def test_detractor_alert_reaches_managers_and_admins_and_intro_reaches_respondent(app, client, org, smtp_sink):
    _detractor_via_page(app, client, org)
    run_jobs(app)
    received = smtp_sink.wait_for(3)
    assert len(received) == 3
    alerts = [m for m in received if m["X-Turnaround-Kind"] == "detractor_alert"]
    intros = [m for m in received if m["X-Turnaround-Kind"] == "detractor_intro"]
    managers_and_admins = sorted([user_email(app, org["admin"]).lower(), "mia@acme.example"])
    assert sorted(address for m in alerts for address in _to(m)) == managers_and_admins
    assert all("Billing errors every month" in body_text(m) for m in alerts)
    [intro] = intros
    assert _to(intro) == [CASEY]
    display_name, _ = parseaddr(str(intro["From"]))
    assert display_name == "Alex Agent"
    assert str(intro["Reply-To"]) == "alex@acme.example"
    assert not any(word in str(intro["Reply-To"]).lower() for word in ("no-reply", "noreply", "donotreply"))
    assert "Alex Agent" in body_text(intro)
    assert {m.status for m in _messages(app, org["tenant_id"])} == {"sent"}


def test_with_the_worker_stopped_ticket_opens_and_a_sweep_delivers_every_lost_email_exactly_once(
    app, client, org, smtp_sink
):
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Casey Client", CASEY))
    assert client.post(f"/s/{token}/score", data={"score": "2"}, headers=HTMX).status_code == 200
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(Ticket)).scalar_one().status == "new"
        db.session.remove()
    rows = _messages(app, org["tenant_id"])
    assert len(rows) == 3 and {m.status for m in rows} == {"queued"}
    assert smtp_sink.messages == []

    with app.app_context():
        # The jobs are lost (Redis flushed); the database still knows what is owed.
        clear_queues()
        assert sweep_outbox(stale_after=0) == 3
        db.session.remove()
    run_jobs(app)
    counts = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
    assert len(counts) == 3 and set(counts.values()) == {1}
    assert {m.status for m in _messages(app, org["tenant_id"])} == {"sent"}

    with app.app_context():
        assert sweep_outbox(stale_after=0) == 0
        db.session.remove()
    run_jobs(app)
    assert len(smtp_sink.messages) == 3


def test_the_same_delivery_job_twice_sends_once(app, client, org, smtp_sink):
    _detractor_via_page(app, client, org)
    ids = [m.id for m in _messages(app, org["tenant_id"])]
    with app.app_context():
        for message_id in ids:  # a second copy of every job, as a sweep racing the first worker would add
            enqueue_now(deliver, message_id)
    run_jobs(app)
    counts = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
    assert len(counts) == 3 and set(counts.values()) == {1}
    assert {m.attempts for m in _messages(app, org["tenant_id"])} == {1}


def test_deliver_of_an_already_sent_message_does_nothing(app, client, org, smtp_sink):
    _detractor_via_page(app, client, org)
    run_jobs(app)
    assert len(smtp_sink.messages) == 3
    before = {m.id: (m.status, m.attempts, m.sent_at) for m in _messages(app, org["tenant_id"])}
    with app.app_context():
        for message_id in before:
            assert deliver(message_id) == "skipped"
    assert len(smtp_sink.messages) == 3
    assert {m.id: (m.status, m.attempts, m.sent_at) for m in _messages(app, org["tenant_id"])} == before


def test_transient_smtp_failure_leaves_the_message_queued_for_a_retry(app, client, org, smtp_sink):
    _detractor_via_page(app, client, org)
    real_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = _free_port()  # nothing listens there: connection refused
    try:
        run_jobs(app)
    finally:
        app.config["SMTP_PORT"] = real_port
    assert smtp_sink.messages == []
    rows = _messages(app, org["tenant_id"])
    now = utcnow()
    for message in rows:
        assert message.status == "queued" and message.attempts == 1
        assert message.last_error and "Connection" in message.last_error
        assert message.next_attempt_at is not None and message.next_attempt_at > now
        assert message.sent_at is None

    with app.app_context():
        assert sweep_outbox(stale_after=0) == 0  # not due yet
        with tenant_context(org["tenant_id"]):  # time passes
            db.session.execute(update(OutboxMessage).values(next_attempt_at=now - timedelta(seconds=1)))
            db.session.commit()
        assert sweep_outbox(stale_after=0) == 3
        db.session.remove()
    run_jobs(app)
    assert len(smtp_sink.messages) == 3
    assert {(m.status, m.attempts, m.last_error) for m in _messages(app, org["tenant_id"])} == {("sent", 2, None)}


def test_transient_failures_give_up_after_the_last_attempt(app, client, org, smtp_sink):
    _detractor_via_page(app, client, org)
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(update(OutboxMessage).values(attempts=MAX_ATTEMPTS - 1))
        db.session.commit()
        db.session.remove()
    real_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = _free_port()
    try:
        run_jobs(app)
    finally:
        app.config["SMTP_PORT"] = real_port
    assert {(m.status, m.attempts) for m in _messages(app, org["tenant_id"])} == {("failed", MAX_ATTEMPTS)}


def test_permanent_refusal_marks_the_message_failed_with_the_reason_in_the_email_log(app, client, org, smtp_sink):
    _detractor_via_page(app, client, org, email="casey.reject@client.example")
    run_jobs(app)
    rows = {m.kind: m for m in _messages(app, org["tenant_id"])}
    intro = rows["detractor_intro"]
    assert intro.status == "failed" and intro.attempts == 1 and intro.sent_at is None
    assert "550" in intro.last_error and "casey.reject@client.example" in intro.last_error
    assert rows["detractor_alert"].status == "sent"
    assert len(smtp_sink.messages) == 2  # the two alerts

    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/?state=failed").get_data(as_text=True)
    assert "Failed" in page and "550 5.1.1 Mailbox unavailable" in page
    assert "Detractor alert" not in page  # filtered to failed only
