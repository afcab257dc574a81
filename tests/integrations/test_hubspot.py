"""The HubSpot poller against the fake HubSpot API: each NPS submission recorded exactly once, its contact and
company matched to contacts and accounts, the cursor kept between polls."""
from __future__ import annotations

from sqlalchemy import select

from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.integrations.models import Integration
from app.integrations.services import poll_hubspot, sweep
from app.jobs import enqueue_now
from app.tenancy import tenant_context
from tests.support.data import make_contact, run_jobs

BASE_MS = 1_764_500_000_000


def add_submission(vendor, number: int, *, score: int, comment: str | None, contact: str, survey_type="NPS",
                   at_ms: int | None = None):
    at_ms = at_ms if at_ms is not None else BASE_MS + number * 1000
    submission_id = str(9000 + number)
    vendor.hubspot_submissions.append({"id": submission_id, "createdAt": "2026-11-30T10:00:00Z", "properties": {
        "hs_value": str(score), "hs_content": comment, "hs_survey_type": survey_type,
        "hs_createdate": str(at_ms), "hs_submission_timestamp": str(at_ms), "hs_object_id": submission_id}})
    vendor.hubspot_links[submission_id] = contact


def setup_crm(vendor):
    vendor.hubspot_companies["501"] = {"name": "Harbour Medical Group"}
    vendor.hubspot_companies["502"] = {"name": "Summit Physio"}
    vendor.hubspot_contacts["101"] = {"email": "dana@harbour.example", "firstname": "Dana", "lastname": "Doe",
                                      "associatedcompanyid": "501"}
    vendor.hubspot_contacts["102"] = {"email": "eli@summit.example", "firstname": "Eli", "lastname": "Eng",
                                      "associatedcompanyid": "502"}
    vendor.hubspot_contacts["103"] = {"email": "known@client.example", "firstname": "Known", "lastname": "Person"}


def poll(app, integration_id):
    with app.app_context():
        enqueue_now(poll_hubspot, integration_id)
    run_jobs(app)


def test_polling_twice_records_each_submission_once_with_contacts_and_accounts(app, org, connect, recorded, vendor):
    setup_crm(vendor)
    known_id = make_contact(app, org["tenant_id"], "Known Person", "known@client.example")
    integration_id, _, _ = connect("hubspot", credentials={"access_token": "vendor-token"},
                                   settings={"api_base_url": vendor.base_url})
    add_submission(vendor, 1, score=2, comment="Slow claims.", contact="101")
    add_submission(vendor, 2, score=9, comment=None, contact="102")
    add_submission(vendor, 3, score=8, comment="CSAT, not NPS", contact="101", survey_type="CSAT")
    poll(app, integration_id)
    first = recorded.responses()
    assert [(r.source, r.external_id, r.score, r.comment) for r in first] == [
        ("hubspot", "9001", 2, "Slow claims."), ("hubspot", "9002", 9, None)]
    assert recorded.tickets() == 1

    # New submissions between polls, one created in the same millisecond as the last one read.
    add_submission(vendor, 4, score=0, comment="Cancelling.", contact="103")
    add_submission(vendor, 5, score=10, comment="Great!", contact="102", at_ms=BASE_MS + 2 * 1000)
    poll(app, integration_id)
    second = recorded.responses()
    assert [r.external_id for r in second] == ["9001", "9002", "9005", "9004"]
    assert recorded.tickets() == 2
    assert recorded.outcomes() == ["accepted"] * 4

    # A third poll with nothing new records nothing.
    poll(app, integration_id)
    assert len(recorded.responses()) == 4 and len(recorded.outcomes()) == 4

    with app.app_context(), tenant_context(org["tenant_id"]):
        contacts = {c.email: c for c in db.session.execute(select(Contact)).scalars()}
        accounts = {a.id: a.name for a in db.session.execute(select(CustomerAccount)).scalars()}
        assert accounts[contacts["dana@harbour.example"].account_id] == "Harbour Medical Group"
        assert accounts[contacts["eli@summit.example"].account_id] == "Summit Physio"
        assert contacts["dana@harbour.example"].name == "Dana Doe"
        by_external = {r.external_id: r.contact_id for r in second}
        assert by_external["9004"] == known_id
        cursor = db.session.get(Integration, integration_id).cursor
        assert cursor == {"since_ms": BASE_MS + 4 * 1000}
    searches = [body for method, path, _h, body in vendor.requests if path.endswith("/search")]
    assert [s["filterGroups"][0]["filters"][1]["value"] for s in searches] == [
        "0", str(BASE_MS + 2000), str(BASE_MS + 4000)]


def test_the_sweep_starts_polls_that_are_due_and_not_twice(app, connect, vendor):
    setup_crm(vendor)
    integration_id, _, _ = connect("hubspot", credentials={"access_token": "vendor-token"},
                                   settings={"api_base_url": vendor.base_url})
    add_submission(vendor, 1, score=3, comment=None, contact="101")
    with app.app_context():
        assert sweep()["polls"] == 1
    run_jobs(app)
    with app.app_context():
        assert sweep()["polls"] == 0  # polled just now


def test_a_wrong_token_leaves_the_cursor_where_it_was(app, org, connect, recorded, vendor):
    integration_id, _, _ = connect("hubspot", credentials={"access_token": "wrong"},
                                   settings={"api_base_url": vendor.base_url})
    add_submission(vendor, 1, score=3, comment=None, contact="101")
    poll(app, integration_id)
    assert recorded.responses() == []
    with app.app_context(), tenant_context(org["tenant_id"]):
        integration = db.session.get(Integration, integration_id)
        assert integration.cursor is None and integration.last_polled_at is not None
