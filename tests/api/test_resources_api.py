"""Accounts, responses and survey sends through the API; Idempotency-Key; the per-token rate limit; the
audit log naming the token of every change."""
from __future__ import annotations

import pytest

from app import create_app
from app.extensions import limiter
from tests.api.conftest import Api, make_token
from tests.support.data import answer, audit_entries, make_contact, make_org, run_jobs
from tests.support.env import database_url, redis_url


def test_accounts_are_added_changed_with_history_and_listed(app, api, org):
    created = api.post("/accounts", json={"name": "Northside Practice", "external_id": "HS-1",
                                          "owner_id": org["manager"]})
    assert created.status_code == 201, created.get_json()
    account = created.get_json()
    assert account["status"] == "active" and account["owner_id"] == org["manager"]
    assert api.post("/accounts", json={"name": "Northside Practice"}).status_code == 409
    assert api.post("/accounts", json={"name": "X", "owner_id": 99999}).get_json()["error"]["field"] == "owner_id"
    changed = api.patch(f"/accounts/{account['id']}", json={"status": "at_risk", "status_reason": "Late invoices"})
    assert changed.get_json()["status"] == "at_risk"
    assert api.patch(f"/accounts/{account['id']}", json={"name": None}).status_code == 422
    assert [a["id"] for a in api.get("/accounts?status=at_risk").get_json()["data"]] == [account["id"]]
    assert [a["id"] for a in api.get("/accounts?external_id=HS-1").get_json()["data"]] == [account["id"]]
    assert api.get(f"/accounts/{account['id']}").get_json()["status_reason"] == "Late invoices"
    from app.customers.models import AccountStatusChange
    from app.extensions import db
    from app.tenancy import tenant_context
    with app.app_context(), tenant_context(org["tenant_id"]):
        history = db.session.execute(db.select(AccountStatusChange.from_status, AccountStatusChange.status)).all()
    assert history == [("active", "at_risk")]


def test_responses_are_listed_and_read_with_their_ticket(app, api, org):
    contact_id = make_contact(app, org["tenant_id"], "Ann Client")
    detractor = answer(app, org["tenant_id"], contact_id, 2, "Too slow")
    promoter = answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Bob"), 10)
    listed = api.get("/responses").get_json()["data"]
    assert [r["id"] for r in listed] == [detractor, promoter]
    assert listed[0]["ticket_id"] is not None and listed[1]["ticket_id"] is None
    assert [r["id"] for r in api.get("/responses?band=promoter").get_json()["data"]] == [promoter]
    assert [r["id"] for r in api.get(f"/responses?contact_id={contact_id}").get_json()["data"]] == [detractor]
    one = api.get(f"/responses/{detractor}").get_json()
    assert one["score"] == 2 and one["comment"] == "Too slow" and one["band"] == "detractor"


def test_a_survey_send_to_contacts_says_what_it_sends_and_what_it_skips(app, api, org, other_org):
    fresh = make_contact(app, org["tenant_id"], "Fresh Face")
    recent = make_contact(app, org["tenant_id"], "Recent Respondent")
    answer(app, org["tenant_id"], recent, 9)
    foreign = make_contact(app, other_org["tenant_id"], "Someone Else")
    sent = api.post("/survey-sends", json={"contact_ids": [fresh, recent, foreign]})
    assert sent.status_code == 201, sent.get_json()
    body = sent.get_json()
    assert body["to_send"] == 1
    assert {s["reason"]: s["contact_ids"] for s in body["skipped"]} == {"not_found": [foreign], "throttled": [recent]}
    run_jobs(app)
    send = api.get(f"/survey-sends/{body['send']['id']}").get_json()
    assert send["status"] == "done" and send["queued"] == 1 and send["skipped_throttled"] == 1


def test_a_survey_send_to_a_role(app, api, org):
    make_contact(app, org["tenant_id"], "Role Holder", roles=("Signer",))
    sent = api.post("/survey-sends", json={"role": "Signer"})
    assert sent.status_code == 201 and sent.get_json()["to_send"] == 1 and sent.get_json()["skipped"] == []
    assert api.post("/survey-sends", json={"role": "Nobody"}).get_json()["error"]["field"] == "role"
    assert api.post("/survey-sends", json={}).status_code == 422


def test_an_unverified_organisation_cannot_send(app, client):
    tenant_id, admin_id = make_org(app, "Fresh Signup", verified=False)
    api = Api(client, make_token(app, tenant_id, admin_id))
    contact_id = make_contact(app, tenant_id, "Some One")
    refused = api.post("/survey-sends", json={"contact_ids": [contact_id]})
    assert refused.status_code == 422 and "confirms their email address" in refused.get_json()["error"]["message"]


def test_a_post_with_an_idempotency_key_is_done_once(app, api, org):
    key = {"Idempotency-Key": "create-ann-1"}
    first = api.post("/contacts", json={"name": "Ann", "email": "ann@x.example"}, headers=key)
    again = api.post("/contacts", json={"name": "Ann", "email": "ann@x.example"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(api.get("/contacts").get_json()["data"]) == 1
    other_body = api.post("/contacts", json={"name": "Bob", "email": "bob@x.example"}, headers=key)
    assert other_body.status_code == 422 and other_body.get_json()["error"]["code"] == "idempotency_key_reused"
    assert api.post("/contacts", json={"name": "Ann", "email": "ann@x.example"}).status_code == 409, \
        "without the key the same post is a new request"


def test_changes_are_attributed_to_the_token_in_the_audit_log(app, api, org, as_member):
    api.post("/contacts", json={"name": "Ann", "email": "ann@x.example"})
    entries = [entry for entry in audit_entries(app, org["tenant_id"]) if entry.area == "api"]
    assert len(entries) == 1 and entries[0].summary.startswith("Contact ") and entries[0].summary.endswith(" added")
    assert entries[0].actor_id == org["admin"] and entries[0].api_token_id is not None
    assert entries[0].changes["email"] == [None, "ann@x.example"]
    page = as_member("admin").get(f"/t/{org['slug']}/settings/audit_log").get_data(as_text=True)
    assert "via API token “Sync”" in page


@pytest.fixture()
def limited(smtp_sink):
    limited = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(), "REDIS_URL": redis_url(),
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"})
    yield limited
    limiter.enabled = False  # the limiter is one object shared by every app in this process


def test_each_token_is_rate_limited_with_retry_after(app, limited, org):
    api = Api(limited.test_client(), make_token(app, org["tenant_id"], org["admin"]))
    other = Api(limited.test_client(), make_token(app, org["tenant_id"], org["admin"], name="Other"))
    assert [api.get("/contacts").status_code for _ in range(3)] == [200, 200, 200]
    limited_answer = api.get("/contacts")
    assert limited_answer.status_code == 429
    assert limited_answer.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited_answer.headers["Retry-After"]) <= 61
    assert other.get("/contacts").status_code == 200, "another token has its own count"


def test_an_answer_collected_elsewhere_is_recorded_once_and_a_detractor_opens_a_ticket(app, api, org):
    body = {"source": "typeform", "external_id": "resp-881", "score": 3, "email": "new.person@client.example",
            "name": "New Person", "account": "Lakeside Orthopedics", "answered_at": "2026-11-30T14:05:00Z"}
    created = api.post("/responses", json=body)
    assert created.status_code == 201, created.get_json()
    first = created.get_json()
    assert first["source"] == "typeform" and first["band"] == "detractor" and first["ticket_id"] is not None
    assert first["created_at"] == "2026-11-30T14:05:00Z"
    again = api.post("/responses", json={**body, "comment": "The refund never came."})
    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"] and again.get_json()["comment"] == "The refund never came."
    assert len(api.get("/responses?source=typeform").get_json()["data"]) == 1
    contact = api.get(f"/contacts/{first['contact_id']}").get_json()
    assert contact["email"] == "new.person@client.example"
    unknown = api.post("/responses", json={"source": "typeform", "external_id": "resp-882", "score": 9,
                                           "contact_external_id": "NOBODY"})
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unmatched_contact"
    hosted = api.post("/responses", json={**body, "source": "hosted", "external_id": "x"})
    assert hosted.status_code == 422 and hosted.get_json()["error"]["field"] == "source"
    assert any("typeform" in entry.summary and entry.api_token_id for entry in audit_entries(app, org["tenant_id"]))
