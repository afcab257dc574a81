"""Delighted, Typeform, SurveyMonkey and Qualtrics deliveries, signed as each vendor documents it; the
vendor APIs behind SurveyMonkey's and Qualtrics' id-only callbacks are the fake server on loopback."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from app.integrations.sources import delighted, surveymonkey, typeform
from tests.support.data import run_jobs

DELIGHTED_KEY = "dlt-private-api-key"


def delighted_event(event_type, event_id, comment=None, score=2):
    return {"event_type": event_type, "event_id": event_id, "event_data": {
        "id": "5435", "person": {"id": "5975", "email": "charlie@example.com", "name": "Charlie Gravis",
                                 "created_at": 1732186784},
        "survey_type": "nps", "score": score, "comment": comment, "created_at": 1732186844,
        "updated_at": 1732187444, "person_properties": {"Company": "Gravis Dental"}, "notes": [], "tags": [],
        "additional_answers": []}}


def post_delighted(client, path, event, key=DELIGHTED_KEY, tamper=None):
    raw = json.dumps(event).encode()
    return client.post(path, data=tamper(raw) if tamper else raw, content_type="application/json",
                       headers={"X-Delighted-Webhook-Signature": delighted.sign(key, raw)})


def test_delighted_created_then_updated_is_one_response_with_the_comment(app, client, connect, recorded):
    _, path, _ = connect("delighted", credentials={"api_key": DELIGHTED_KEY})
    assert post_delighted(client, path, delighted_event("survey_response.created", "ev-1")).status_code == 200
    run_jobs(app)
    assert recorded.tickets() == 1
    updated = delighted_event("survey_response.updated", "ev-2", comment="Nobody called me back.")
    assert post_delighted(client, path, updated).status_code == 200
    run_jobs(app)
    [(source, external_id, score, comment, _)] = recorded.responses()
    assert (source, external_id, score, comment) == ("delighted", "5435", 2, "Nobody called me back.")
    assert recorded.tickets() == 1
    assert recorded.outcomes() == ["accepted", "accepted"]


def test_delighted_repeated_event_is_a_duplicate(app, client, connect, recorded):
    _, path, _ = connect("delighted", credentials={"api_key": DELIGHTED_KEY})
    event = delighted_event("survey_response.created", "ev-1")
    post_delighted(client, path, event)
    assert post_delighted(client, path, event).get_json() == {"status": "duplicate"}
    run_jobs(app)
    assert len(recorded.responses()) == 1 and recorded.outcomes() == ["accepted", "duplicate"]


def test_delighted_altered_body_or_wrong_key_is_refused(app, client, connect, recorded):
    _, path, _ = connect("delighted", credentials={"api_key": DELIGHTED_KEY})
    event = delighted_event("survey_response.created", "ev-1")
    assert post_delighted(client, path, event, tamper=lambda raw: raw.replace(b'"score": 2', b'"score": 10')).status_code == 401
    assert post_delighted(client, path, event, key="someone-elses-key").status_code == 401
    run_jobs(app)
    assert recorded.responses() == [] and recorded.outcomes() == ["bad_signature", "bad_signature"]


def test_delighted_unsubscribe_is_logged_and_ignored(app, client, connect, recorded):
    _, path, _ = connect("delighted", credentials={"api_key": DELIGHTED_KEY})
    event = {"event_type": "unsubscribe.created", "event_id": "ev-9", "event_data": {"person": {"id": "1"}}}
    assert post_delighted(client, path, event).status_code == 200
    run_jobs(app)
    assert recorded.responses() == [] and recorded.outcomes() == ["ignored"]


TYPEFORM_SETTINGS = {"score_ref": "nps_score", "comment_ref": "why"}


def typeform_event(event_id="01TF", score=4):
    return {"event_id": event_id, "event_type": "form_response", "form_response": {
        "form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15", "landed_at": "2026-11-30T10:00:00Z",
        "submitted_at": "2026-11-30T10:02:00Z", "hidden": {"name": "Robin Reyes", "account": "Northside Clinic"},
        "definition": {"id": "lT4Z3j", "title": "NPS", "fields": [
            {"id": "f1", "ref": "nps_score", "type": "opinion_scale", "title": "How likely…"},
            {"id": "f2", "ref": "why", "type": "long_text", "title": "Why?"},
            {"id": "f3", "ref": "mail", "type": "email", "title": "Your email"}]},
        "answers": [
            {"type": "number", "number": score, "field": {"id": "f1", "type": "opinion_scale", "ref": "nps_score"}},
            {"type": "text", "text": "Too many surprise bills.", "field": {"id": "f2", "type": "long_text", "ref": "why"}},
            {"type": "email", "email": "robin@example.com", "field": {"id": "f3", "type": "email", "ref": "mail"}}]}}


def post_typeform(client, path, secret, event, tamper=None):
    raw = json.dumps(event).encode()
    return client.post(path, data=tamper(raw) if tamper else raw, content_type="application/json",
                       headers={"Typeform-Signature": typeform.sign(secret, raw)})


def test_typeform_response_with_the_chosen_fields_becomes_a_response_and_ticket(app, client, connect, recorded):
    _, path, secret = connect("typeform", settings=TYPEFORM_SETTINGS)
    assert post_typeform(client, path, secret, typeform_event()).status_code == 200
    run_jobs(app)
    [(source, external_id, score, comment, _)] = recorded.responses()
    assert (source, external_id, score, comment) == ("typeform", "a3a12ec67a1365927098a606107fac15", 4,
                                                      "Too many surprise bills.")
    assert recorded.tickets() == 1


def test_typeform_altered_body_wrong_secret_and_repeat(app, client, connect, recorded):
    _, path, secret = connect("typeform", settings=TYPEFORM_SETTINGS)
    event = typeform_event()
    assert post_typeform(client, path, secret, event, tamper=lambda raw: raw.replace(b"Too many", b"Not many")).status_code == 401
    assert post_typeform(client, path, "not-the-secret", event).status_code == 401
    assert post_typeform(client, path, secret, event).status_code == 200
    assert post_typeform(client, path, secret, event).get_json() == {"status": "duplicate"}
    run_jobs(app)
    assert len(recorded.responses()) == 1
    assert recorded.outcomes() == ["bad_signature", "bad_signature", "accepted", "duplicate"]


SM = {"client_id": "sm-client", "client_secret": "sm-secret", "access_token": "vendor-token"}


def sm_setup(vendor):
    vendor.sm_surveys["118"] = {"id": "118", "pages": [{"id": "p1", "questions": [
        {"id": "q-nps", "family": "matrix", "subtype": "rating", "answers": {"choices": [
            {"id": f"c{n}", "text": str(n), "position": n + 1} for n in range(11)]}},
        {"id": "q-why", "family": "open_ended", "subtype": "essay"}]}]}
    vendor.sm_responses["2001"] = {
        "id": "2001", "survey_id": "118", "collector_id": "77", "recipient_id": "9",
        "date_created": "2026-11-30T09:00:00+00:00", "date_modified": "2026-11-30T09:03:00+00:00",
        "response_status": "completed", "custom_variables": {"account": "Lakeside Billing"},
        "metadata": {"contact": {"email": {"type": "string", "value": "sam@example.com"},
                                 "first_name": {"type": "string", "value": "Sam"},
                                 "last_name": {"type": "string", "value": "Sands"}}},
        "pages": [{"id": "p1", "questions": [
            {"id": "q-nps", "answers": [{"choice_id": "c5", "row_id": "r1"}]},
            {"id": "q-why", "answers": [{"text": "Claims took months."}]}]}]}


def sm_callback(event_id="ev-sm-1"):
    return {"name": "My Webhook", "filter_type": "survey", "filter_id": "118", "event_type": "response_completed",
            "event_id": event_id, "object_type": "response", "object_id": "2001",
            "event_datetime": "2026-11-30T09:03:01+00:00",
            "resources": {"respondent_id": "2001", "recipient_id": "9", "collector_id": "77", "survey_id": "118",
                          "user_id": "5"}}


def post_sm(client, path, body, secret=SM["client_secret"], tamper=None):
    raw = json.dumps(body).encode()
    return client.post(path, data=tamper(raw) if tamper else raw,
                       content_type="application/vnd.surveymonkey.response.v1+json",
                       headers={"Sm-Apikey": SM["client_id"], "Sm-Signature": surveymonkey.sign(SM["client_id"], secret, raw)})


def connect_sm(connect, vendor):
    return connect("surveymonkey", credentials=SM, settings={
        "api_base_url": vendor.base_url, "score_question_id": "q-nps", "comment_question_id": "q-why"})


def test_surveymonkey_callback_fetches_the_response_from_the_api(app, client, connect, recorded, vendor):
    sm_setup(vendor)
    _, path, _ = connect_sm(connect, vendor)
    assert post_sm(client, path, sm_callback()).status_code == 200
    assert vendor.requests == []  # the request only stores; the job fetches
    run_jobs(app)
    [(source, external_id, score, comment, _)] = recorded.responses()
    assert (source, external_id, score, comment) == ("surveymonkey", "2001", 5, "Claims took months.")
    assert recorded.tickets() == 1
    assert vendor.paths("GET") == ["/v3/surveys/118/responses/2001/details", "/v3/surveys/118/details"]


def test_surveymonkey_altered_body_wrong_secret_and_repeat(app, client, connect, recorded, vendor):
    sm_setup(vendor)
    _, path, _ = connect_sm(connect, vendor)
    body = sm_callback()
    assert post_sm(client, path, body, tamper=lambda raw: raw.replace(b"2001", b"2002")).status_code == 401
    assert post_sm(client, path, body, secret="wrong").status_code == 401
    assert post_sm(client, path, body).status_code == 200
    assert post_sm(client, path, body).get_json() == {"status": "duplicate"}
    run_jobs(app)
    assert len(recorded.responses()) == 1
    assert recorded.outcomes() == ["bad_signature", "bad_signature", "accepted", "duplicate"]


def test_surveymonkey_fetch_is_retried_when_the_api_fails(app, client, connect, recorded, vendor, clock):
    from app.integrations.services import sweep

    sm_setup(vendor)
    _, path, _ = connect_sm(connect, vendor)
    vendor.fail_next = 1
    post_sm(client, path, sm_callback())
    run_jobs(app)
    assert recorded.responses() == [] and recorded.outcomes() == ["queued"]
    [(_, _, detail)] = recorded.log()
    assert "503" in detail and "attempt 1 of 6" in detail
    clock.shift(60)
    with app.app_context():
        assert sweep()["deliveries"] == 1
    run_jobs(app)
    assert len(recorded.responses()) == 1 and recorded.outcomes() == ["accepted"]


QUALTRICS_RESULT = {"responseId": "R_1", "values": {
    "recipientEmail": "quinn@example.com", "recipientFirstName": "Quinn", "recipientLastName": "Quill",
    "externalDataReference": "P-77", "endDate": "2026-11-30T11:00:00Z", "QID1": 1, "QID1_NPS_GROUP": 1,
    "QID2_TEXT": "The portal is always down."}, "labels": {}, "displayedFields": [], "displayedValues": {}}


def qualtrics_event(response_id="R_1"):
    return urlencode({"Topic": "brand.surveyengine.completedResponse.SV_1", "Status": "Complete",
                      "SurveyID": "SV_1", "ResponseID": response_id, "CompletedDate": "2026-11-30 11:00:00",
                      "BrandID": "brand"})


def test_qualtrics_event_fetches_the_response_from_the_api(app, client, connect, recorded, vendor):
    vendor.qualtrics_responses["R_1"] = QUALTRICS_RESULT
    _, path, secret = connect("qualtrics", credentials={"api_token": "vendor-token"},
                              settings={"api_base_url": vendor.base_url})
    answer = client.post(f"{path}?{urlencode({'key': secret})}", data=qualtrics_event(),
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    run_jobs(app)
    [(source, external_id, score, comment, _)] = recorded.responses()
    assert (source, external_id, score, comment) == ("qualtrics", "R_1", 1, "The portal is always down.")
    assert recorded.tickets() == 1
    assert vendor.paths("GET") == ["/API/v3/surveys/SV_1/responses/R_1"]


def test_qualtrics_wrong_or_missing_key_and_repeat(app, client, connect, recorded, vendor):
    vendor.qualtrics_responses["R_1"] = QUALTRICS_RESULT
    _, path, secret = connect("qualtrics", credentials={"api_token": "vendor-token"},
                              settings={"api_base_url": vendor.base_url})
    form = "application/x-www-form-urlencoded"
    assert client.post(f"{path}?key=wrong", data=qualtrics_event(), content_type=form).status_code == 401
    assert client.post(path, data=qualtrics_event(), content_type=form).status_code == 401
    assert client.post(f"{path}?{urlencode({'key': secret})}", data=qualtrics_event(), content_type=form).status_code == 200
    assert client.post(f"{path}?{urlencode({'key': secret})}", data=qualtrics_event(), content_type=form).status_code == 200
    run_jobs(app)
    assert len(recorded.responses()) == 1
    assert recorded.outcomes() == ["bad_signature", "bad_signature", "accepted", "duplicate"]


def test_a_forged_qualtrics_id_records_nothing_the_api_does_not_have(app, client, connect, recorded, vendor):
    _, path, secret = connect("qualtrics", credentials={"api_token": "vendor-token"},
                              settings={"api_base_url": vendor.base_url})
    client.post(f"{path}?{urlencode({'key': secret})}", data=qualtrics_event("R_404"), content_type="application/x-www-form-urlencoded")
    run_jobs(app)
    assert recorded.responses() == [] and recorded.outcomes() == ["error"]
