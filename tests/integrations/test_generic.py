"""The generic source: a documented JSON body signed the Standard Webhooks way."""
from __future__ import annotations

import json
import time

from sqlalchemy import select

from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.integrations.sources.generic import sign
from app.tenancy import tenant_context
from tests.support.data import run_jobs

BODY = {"external_id": "ans-1", "email": "Pat.Patient@Example.com", "name": "Pat Patient", "score": 3,
        "comment": "Billing was late twice.", "answered_at": "2026-11-30T15:00:00Z",
        "account": {"name": "Riverside Practice", "external_id": "ACC-9"}}


def post(client, path, secret, body, *, msg_id="msg_1", timestamp=None, tamper=None):
    raw = json.dumps(body).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(secret, msg_id, timestamp, raw), "Content-Type": "application/json"}
    return client.post(path, data=tamper(raw) if tamper else raw, headers=headers)


def test_a_signed_detractor_answer_becomes_a_response_and_a_ticket(app, client, org, connect, recorded):
    _, path, secret = connect("generic")
    answer = post(client, path, secret, BODY)
    assert answer.status_code == 200 and answer.get_json() == {"status": "accepted"}
    assert recorded.outcomes() == ["queued"]
    run_jobs(app)
    [(source, external_id, score, comment, contact_id)] = recorded.responses()
    assert (source, external_id, score, comment) == ("generic", "ans-1", 3, "Billing was late twice.")
    assert recorded.tickets() == 1
    assert recorded.outcomes() == ["accepted"]
    with app.app_context(), tenant_context(org["tenant_id"]):
        contact = db.session.get(Contact, contact_id)
        account = db.session.execute(select(CustomerAccount)).scalar_one()
        assert (contact.email, contact.name, contact.account_id) == ("pat.patient@example.com", "Pat Patient", account.id)
        assert (account.name, account.external_id) == ("Riverside Practice", "ACC-9")


def test_an_altered_body_is_refused_with_401_and_logged(app, client, connect, recorded):
    _, path, secret = connect("generic")
    answer = post(client, path, secret, BODY, tamper=lambda raw: raw.replace(b'"score": 3', b'"score": 9'))
    assert answer.status_code == 401
    run_jobs(app)
    assert recorded.responses() == [] and recorded.tickets() == 0
    assert recorded.outcomes() == ["bad_signature"]


def test_a_wrong_secret_or_no_signature_is_refused(app, client, connect, recorded):
    _, path, _secret = connect("generic")
    assert post(client, path, "whsec_" + "QUJD" * 8, BODY).status_code == 401
    assert client.post(path, json=BODY).status_code == 401
    run_jobs(app)
    assert recorded.responses() == []
    assert recorded.outcomes() == ["bad_signature", "bad_signature"]


def test_a_timestamp_six_minutes_old_is_refused(app, client, connect, recorded):
    _, path, secret = connect("generic")
    answer = post(client, path, secret, BODY, timestamp=int(time.time()) - 6 * 60)
    assert answer.status_code == 401
    run_jobs(app)
    assert recorded.responses() == [] and recorded.outcomes() == ["bad_signature"]
    [(_, _, detail)] = recorded.log()
    assert "5 minutes" in detail


def test_the_same_delivery_twice_records_one_response(app, client, connect, recorded):
    _, path, secret = connect("generic")
    assert post(client, path, secret, BODY).status_code == 200
    second = post(client, path, secret, BODY)
    assert second.status_code == 200 and second.get_json() == {"status": "duplicate"}
    run_jobs(app)
    assert len(recorded.responses()) == 1 and recorded.tickets() == 1
    assert recorded.outcomes() == ["accepted", "duplicate"]


def test_the_same_answer_sent_again_with_more_amends_the_response(app, client, connect, recorded):
    _, path, secret = connect("generic")
    post(client, path, secret, {**BODY, "comment": None})
    run_jobs(app)
    post(client, path, secret, {**BODY, "comment": "Now with a comment."}, msg_id="msg_2")
    run_jobs(app)
    [(_, _, score, comment, _)] = recorded.responses()
    assert (score, comment) == (3, "Now with a comment.")
    assert recorded.tickets() == 1


def test_an_unknown_external_id_without_email_is_logged_as_unmatched(app, client, connect, recorded):
    _, path, secret = connect("generic")
    post(client, path, secret, {"external_id": "ans-2", "contact_external_id": "P-404", "score": 2})
    run_jobs(app)
    assert recorded.responses() == [] and recorded.tickets() == 0
    assert recorded.outcomes() == ["unmatched_contact"]


def test_a_contact_is_matched_by_external_id(app, client, org, connect, recorded):
    from tests.support.data import make_contact

    contact_id = make_contact(app, org["tenant_id"], "Known Patient", external_id="P-1")
    _, path, secret = connect("generic")
    post(client, path, secret, {"external_id": "ans-3", "contact_external_id": "P-1", "score": 10})
    run_jobs(app)
    [(_, _, score, _, matched)] = recorded.responses()
    assert (score, matched) == (10, contact_id)
    assert recorded.tickets() == 0


def test_an_unknown_receiving_url_is_404_and_shows_nothing(client, connect):
    connect("generic")
    answer = client.post("/hooks/not-a-real-token", json=BODY)
    assert answer.status_code == 404 and answer.get_json() == {"status": "not_found"}


def test_a_turned_off_integration_refuses_deliveries(app, client, org, connect):
    from app.integrations.models import Integration

    integration_id, path, secret = connect("generic")
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.get(Integration, integration_id).enabled = False
        db.session.commit()
    assert post(client, path, secret, BODY).status_code == 404


def test_the_receiving_url_needs_no_csrf_token_where_every_form_does(app, client, org, connect, recorded,
                                                                       monkeypatch, as_member):
    _, path, secret = connect("generic")
    as_member("admin")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert post(client, path, secret, BODY).status_code == 200
    refused = client.post(f"/t/{org['slug']}/settings/integrations/", data={"kind": "generic", "name": "X"})
    assert refused.status_code == 400


def test_the_ingestion_service_records_one_response_per_source_and_external_id(app, org):
    from datetime import datetime, timezone

    from app.ingestion.answers import ExternalAnswer, InvalidAnswer, record_external_answer
    from app.surveys.models import Response

    answer = ExternalAnswer(source="api", external_id="A-1", score=4, email="kim@example.com", name="Kim",
                            answered_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
    with app.app_context(), tenant_context(org["tenant_id"]):
        first = record_external_answer(answer)
        again = record_external_answer(answer)
        other_source = record_external_answer(ExternalAnswer(source="csv", external_id="A-1", score=9,
                                                             email="kim@example.com"))
        history = record_external_answer(ExternalAnswer(source="csv", external_id="A-2", score=1,
                                                        email="kim@example.com"), open_tickets=False)
        db.session.commit()
        assert (first.outcome, again.outcome, other_source.outcome) == ("created", "unchanged", "created")
        assert first.ticket_id is not None and again.ticket_id is None and history.ticket_id is None
        assert first.response_id == again.response_id != other_source.response_id
        stored = db.session.get(Response, first.response_id)
        assert stored.created_at == datetime(2026, 11, 1, tzinfo=timezone.utc)
        for bad in (ExternalAnswer(source="api", external_id="A-3", score=11, email="kim@example.com"),
                    ExternalAnswer(source="api", external_id="", score=5, email="kim@example.com"),
                    ExternalAnswer(source="api", external_id="A-4", score=5, email="not-an-email")):
            try:
                record_external_answer(bad)
            except InvalidAnswer:
                continue
            raise AssertionError(f"{bad} was recorded")
        assert db.session.execute(select(db.func.count(Response.id))).scalar_one() == 3


def test_the_sweep_hands_over_a_lost_delivery_once_per_pick_up_period(app, client, connect, recorded, clock):
    from app.integrations.services import sweep
    from app.jobs import clear_queues

    _, path, secret = connect("generic")
    assert post(client, path, secret, BODY).status_code == 200
    with app.app_context():
        clear_queues()  # Redis lost the job
        assert sweep()["deliveries"] == 0  # not overdue yet
    clock.shift(61)
    with app.app_context():
        assert sweep()["deliveries"] == 1
        assert sweep()["deliveries"] == 0  # its job is queued: not handed over again meanwhile
    run_jobs(app)
    assert recorded.outcomes() == ["accepted"] and len(recorded.responses()) == 1


def test_the_sweep_deletes_log_rows_after_30_days(app, client, connect, recorded, clock):
    from app.integrations.services import sweep

    _, path, secret = connect("generic")
    post(client, path, secret, BODY)
    run_jobs(app)
    clock.shift(29 * 24 * 3600)
    with app.app_context():
        assert sweep()["pruned"] == 0
    clock.shift(2 * 24 * 3600)
    with app.app_context():
        assert sweep()["pruned"] == 1
    assert recorded.outcomes() == [] and len(recorded.responses()) == 1


def test_a_burst_is_worked_through_together_and_one_bad_answer_sinks_no_other(app, client, connect, recorded):
    from app.integrations.services import process_delivery

    _, path, secret = connect("generic")
    for n in range(5):
        body = {**BODY, "external_id": f"burst-{n}", "email": f"p{n}@example.com"}
        if n == 2:
            body = {"external_id": "burst-2", "contact_external_id": "nobody", "score": 1}
        post(client, path, secret, body, msg_id=f"msg_burst_{n}")
    with app.app_context():
        assert process_delivery(1) == "accepted"  # the first job takes the four waiting behind it along
        assert process_delivery(2) is None
    assert recorded.outcomes() == ["accepted", "accepted", "unmatched_contact", "accepted", "accepted"]
    assert len(recorded.responses()) == 4 and recorded.tickets() == 4


def _burst(client, path, secret, first: int, count: int) -> None:
    for n in range(first, first + count):
        body = {**BODY, "external_id": f"wave-{n}", "email": f"wave{n}@example.com",
                "account": {"name": f"Practice {n}"}}
        assert post(client, path, secret, body, msg_id=f"msg_wave_{n}").status_code == 200


def test_a_burst_queues_one_job_whose_batch_opens_every_ticket_in_the_same_statements_whatever_its_size(
        app, client, connect, recorded):
    from app.integrations.services import process_delivery
    from app.jobs import QUEUE_DEFAULT, get_queue
    from app.mail import OutboxMessage
    from tests.support.tickets import count_queries

    _, path, secret = connect("generic")

    def work_through(first: int, count: int) -> int:
        _burst(client, path, secret, first, count)
        with app.app_context():
            queue = get_queue(QUEUE_DEFAULT)
            assert queue.count == 1  # one job for the whole burst
            [job] = queue.jobs
            queue.empty()
            with count_queries(app) as statements:
                process_delivery(*job.args)
            db.session.remove()
        return len(statements)

    small = work_through(0, 11)
    large = work_through(11, 30)
    assert small == large
    assert recorded.outcomes() == ["accepted"] * 41 and recorded.tickets() == 41
    with app.app_context(), tenant_context(recorded.tenant_id):
        alerts = db.session.execute(select(OutboxMessage.ticket_id).where(OutboxMessage.kind == "detractor_alert")
                                    .distinct()).scalars().all()
        assert len(alerts) == 41


def test_a_batch_lost_with_its_worker_is_handed_over_by_the_sweep_and_recorded_once(
        app, client, connect, recorded, clock):
    from app.integrations.services import process_delivery, sweep
    from app.jobs import clear_queues

    _, path, secret = connect("generic")
    _burst(client, path, secret, 0, 3)
    with app.app_context():
        clear_queues()

        def crash(*args, **kwargs):
            raise SystemExit("worker killed")

        # The worker dies in the middle of the batch: nothing of it was committed.
        import app.ingestion.answers as answers
        original, answers.apply_trigger_rules = answers.apply_trigger_rules, crash
        try:
            try:
                process_delivery(1)
            except SystemExit:
                db.session.rollback()
        finally:
            answers.apply_trigger_rules = original
        db.session.remove()
    assert recorded.outcomes() == ["queued"] * 3 and recorded.responses() == []
    clock.shift(61)
    with app.app_context():
        assert sweep()["deliveries"] == 3
    run_jobs(app)
    assert recorded.outcomes() == ["accepted"] * 3 and recorded.tickets() == 3
    assert len(recorded.responses()) == 3
