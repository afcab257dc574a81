"""Sending to a large recipient role: the request only records the send, the worker writes it in batches of a
fixed number of statements, a send whose job is lost resumes without inviting anyone twice, and the send
page shows its progress."""
from __future__ import annotations

import re
from datetime import timedelta

from rq import SimpleWorker
from sqlalchemy import func, insert, select, update

from app.contacts.models import Contact, RecipientRole, contact_role
from app.extensions import db
from app.jobs import QUEUE_DEFAULT, clear_queues, get_queue, redis_connection, sweep
from app.mail import OutboxMessage
from app.surveys import sending
from app.surveys.models import SurveyInvitation, SurveySend
from app.tenancy import scoped_by_hand, tenant_context
from app.timeutil import utcnow
from tests.support.data import login
from tests.support.leased import kill_after_one_batch
from tests.support.tickets import count_queries

ROLE = "NPS Recipient"


def _seed(app, tenant_id: int, count: int) -> int:
    """``count`` contacts holding the role, in two statements; returns the role's id."""
    with app.app_context(), tenant_context(tenant_id):
        role_id = db.session.execute(select(RecipientRole.id).where(RecipientRole.name == ROLE)).scalar_one()
        now = utcnow()
        ids = db.session.execute(scoped_by_hand(insert(Contact.__table__).returning(Contact.__table__.c.id)), [
            {"tenant_id": tenant_id, "name": f"Person {i:05d}", "email": f"person{i}@client.example",
             "created_at": now, "updated_at": now} for i in range(count)
        ]).scalars().all()
        db.session.execute(scoped_by_hand(insert(contact_role)),
                           [{"tenant_id": tenant_id, "contact_id": i, "role_id": role_id} for i in ids])
        db.session.commit()
        db.session.remove()
    return role_id


def _send_to_role(client, org, role_id: int, count: int) -> int:
    """Post the confirmed send; returns the send's id."""
    response = client.post(f"/t/{org['slug']}/surveys/send", headers={"HX-Request": "true"},
                           data={"recipients": "role", "role_id": role_id, "confirm_count": count})
    assert response.status_code == 200
    return int(re.findall(r'id="survey-send-(\d+)"', response.get_data(as_text=True))[0])  # newest first


def _run_send_jobs(app) -> None:
    """Run the queued send jobs (not the mail they queue) with a real RQ worker on the real Redis."""
    with app.app_context():
        SimpleWorker([get_queue(QUEUE_DEFAULT)], connection=redis_connection()).work(burst=True, with_scheduler=False)
        db.session.remove()


def _state(app, tenant_id: int, send_id: int) -> dict:
    with app.app_context(), tenant_context(tenant_id):
        send = db.session.get(SurveySend, send_id)
        invited = db.session.execute(select(func.count(SurveyInvitation.id), func.count(
            SurveyInvitation.contact_id.distinct())).where(SurveyInvitation.send_id == send_id)).one()
        outbox = db.session.execute(select(func.count(OutboxMessage.id), func.count(
            OutboxMessage.to_address.distinct())).where(OutboxMessage.kind == "survey_invitation")).one()
        state = {"status": send.status, "queued": send.queued, "total": send.total,
                 "invitations": tuple(invited), "outbox": tuple(outbox)}
        db.session.remove()
    return state


def _progress(client, org, send_id: int) -> str:
    return client.get(f"/t/{org['slug']}/surveys/sends/{send_id}", headers={"HX-Request": "true"}).get_data(
        as_text=True)


def test_a_send_to_2000_contacts_runs_in_the_worker_with_a_fixed_number_of_statements_per_batch(client, app, org):
    role_id = _seed(app, org["tenant_id"], 2000)
    login(client, app, org["manager"])
    with count_queries(app) as request_statements:
        send_id = _send_to_role(client, org, role_id, 2000)
    assert _state(app, org["tenant_id"], send_id)["invitations"] == (0, 0), "the request only records the send"

    with count_queries(app) as statements:
        _run_send_jobs(app)
    assert _state(app, org["tenant_id"], send_id) == {
        "status": "done", "queued": 2000, "total": 2000, "invitations": (2000, 2000), "outbox": (2000, 2000)}
    batch_inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO SURVEY_INVITATION")]
    assert len(batch_inserts) == 2, "one INSERT per batch of 1,000"
    # Three batches (the last finds nobody left): the count stays far below one statement per recipient.
    assert len(statements) <= 40, len(statements)
    assert len(request_statements) < 40, len(request_statements)

    summary = _progress(client, org, send_id)
    assert "Survey sent to 2,000 contacts." in summary and "hx-trigger" not in summary


def test_statements_per_batch_do_not_grow_with_the_batch(client, app, org):
    role_id = _seed(app, org["tenant_id"], 400)
    login(client, app, org["admin"])
    client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "0"})  # send twice
    counts = []
    for size in (100, 200):  # 4 and 2 full batches, then one that finds nobody left
        send_id = _send_to_role(client, org, role_id, 400)
        with app.app_context():
            clear_queues()
        with count_queries(app) as statements:
            with app.app_context():
                assert sending.run_send(send_id, size) == "done"
        counts.append(len(statements))
        assert _state(app, org["tenant_id"], send_id)["queued"] == 400
    per_batch = (counts[0] - counts[1]) / 2  # counts = setup + per batch × 5 batches, and × 3
    setup = counts[1] - 3 * per_batch
    assert per_batch <= 12 and setup <= 12, (counts, per_batch, setup)


def test_a_send_whose_worker_died_after_one_batch_resumes_and_invites_everyone_once(client, app, org, monkeypatch):
    role_id = _seed(app, org["tenant_id"], 2500)
    login(client, app, org["manager"])
    send_id = _send_to_role(client, org, role_id, 2500)

    kill_after_one_batch(app, monkeypatch, sending, sending.run_send, send_id)
    assert _state(app, org["tenant_id"], send_id) == {
        "status": "running", "queued": 1000, "total": 2500, "invitations": (1000, 1000), "outbox": (1000, 1000)}

    progress = _progress(client, org, send_id)
    assert "Queued 1,000 of 2,500" in progress
    assert re.search(r'<progress[^>]*value="1000" max="2500"', progress)
    assert 'hx-trigger="every 1s"' in progress and ">Refresh</a>" in progress

    with app.app_context():
        assert sweep()["sends"] == 0, "the dead worker's lease has not run out yet"
        db.session.execute(update(SurveySend).where(SurveySend.id == send_id)
                           .values(lease_until=utcnow() - timedelta(seconds=1)).execution_options(all_tenants=True))
        db.session.commit()
        assert sweep()["sends"] == 1
        db.session.remove()
    _run_send_jobs(app)
    assert _state(app, org["tenant_id"], send_id) == {
        "status": "done", "queued": 2500, "total": 2500, "invitations": (2500, 2500), "outbox": (2500, 2500)}


def test_a_queued_send_whose_job_redis_lost_is_handed_over_again_by_the_sweep(client, app, org):
    role_id = _seed(app, org["tenant_id"], 30)
    login(client, app, org["manager"])
    send_id = _send_to_role(client, org, role_id, 30)
    with app.app_context():
        assert sweep()["sends"] == 0, "its job is still waiting in Redis"
        clear_queues()
        assert sweep()["sends"] == 0, "not yet stale"
        db.session.execute(update(SurveySend).where(SurveySend.id == send_id)
                           .values(enqueued_at=utcnow() - timedelta(minutes=5)).execution_options(all_tenants=True))
        db.session.commit()
        assert sweep()["sends"] == 1
        assert sweep()["sends"] == 0, "handed over once"
        db.session.remove()
    _run_send_jobs(app)
    _run_send_jobs(app)
    assert _state(app, org["tenant_id"], send_id)["invitations"] == (30, 30)
