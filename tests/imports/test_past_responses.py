"""Importing past responses from a CSV file: the mapping and the preview's problems, responses recorded with the
file's dates and scores through the answers service, a re-run that records nothing new, no ticket and no email
unless asked, tickets only for recent detractors when asked, another organisation kept out, a killed worker
resuming, and the reports counting the imported answers under "Import"."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.imports import running
from app.imports.models import ContactImport
from app.jobs import sweep
from app.surveys.models import Response, ResponseAnswer, SurveyQuestion
from app.surveys.services import default_survey
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.timeutil import utcnow
from tests.imports.helpers import run_worker, state, uploaded_id
from tests.reports.support import roll_up
from tests.support.data import audit_entries, login, make_contact
from tests.support.html import field_error, selected, table_rows, text
from tests.support.leased import kill_after_one_batch
from tests.support.mail import outbox

NY = ZoneInfo("America/New_York")
PREPARED = "Do you feel prepared to begin treatment?"


def days_ago(days: int) -> str:
    """The local date ``days`` ago in New York (the organisation's timezone), as YYYY-MM-DD."""
    return (datetime.now(NY).date() - timedelta(days=days)).isoformat()


def upload(client, org, content: str, filename: str = "history.csv"):
    return client.post(f"/t/{org['slug']}/imports/",
                       data={"kind": "responses", "file": (io.BytesIO(content.encode("utf-8-sig")), filename)},
                       content_type="multipart/form-data")


def post_mapping(client, org, import_id: int, action: str = "preview", *, ticket_days: int | None = None,
                 **mapping):
    data = {"action": action, **mapping}
    if ticket_days is not None:
        data.update(open_tickets="y", ticket_days=str(ticket_days))
    return client.post(f"/t/{org['slug']}/imports/{import_id}", data=data)


def guessed(client, org, import_id: int) -> dict[str, str]:
    """The mapping as the form shows it: the column chosen for each field."""
    html = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    return {name: selected(html, name) for name in ("answered_at", "email", "external_id", "name", "account",
                                                      "score", "comment", "response_id")}


def import_responses(client, app, org, content: str, *, ticket_days: int | None = None) -> int:
    import_id = uploaded_id(upload(client, org, content))
    with app.app_context(), tenant_context(org["tenant_id"]):
        mapping = {field: str(index) for field, index in db.session.get(ContactImport, import_id).mapping.items()}
        db.session.remove()
    response = post_mapping(client, org, import_id, "run", ticket_days=ticket_days, **mapping)
    assert response.status_code == 303, response.get_data(as_text=True)
    run_worker(app)
    return import_id


def recorded(app, tenant_id: int) -> dict[str, dict]:
    """The organisation's responses by contact email: score, comment, answered time, source, extra answers."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(Response).order_by(Response.id)).scalars().all()
        result = {r.contact.email: {"score": r.score, "comment": r.comment, "answered_at": r.created_at,
                                    "source": r.source,
                                    "answers": sorted(a.value for a in db.session.execute(
                                        select(ResponseAnswer).where(ResponseAnswer.response_id == r.id)).scalars())}
                  for r in rows}
        db.session.remove()
    return result


def count(app, tenant_id: int, model) -> int:
    with app.app_context(), tenant_context(tenant_id):
        n = db.session.execute(select(func.count(model.id))).scalar_one()
        db.session.remove()
    return n


@pytest.fixture()
def prepared_question(app, org) -> int:
    with app.app_context(), tenant_context(org["tenant_id"]):
        question = SurveyQuestion(survey_id=default_survey().id, prompt=PREPARED, kind="yes_no",
                                  bands=["detractor", "passive", "promoter"], position=1)
        db.session.add(question)
        db.session.commit()
        question_id = question.id
        db.session.remove()
    return question_id


def test_the_mapping_is_guessed_and_the_preview_names_each_rows_problems(client, app, org, prepared_question):
    make_contact(app, org["tenant_id"], "Known Patient", "known@client.example", external_id="P-KNOWN")
    login(client, app, org["manager"])
    tomorrow = (datetime.now(NY).date() + timedelta(days=2)).isoformat()
    content = (f"Answered,Email,Patient ID,Score,Comment,{PREPARED}\n"
               "23/04/2025,ann@client.example,,9,Great,Yes\n"
               "2025-04-24T14:05,,P-KNOWN,3,Slow,No\n"
               "2025-04-25,,,8,,\n"
               "2025-04-26,ben@client.example,,11,,\n"
               "yesterday,cat@client.example,,5,,\n"
               "03/04/2025,dee@client.example,,5,,\n"
               f"{tomorrow},eve@client.example,,5,,\n"
               "2025-04-27,,P-NOBODY,2,,\n"
               "23/04/2025,ANN@client.example,,9,Again,\n"
               "2025-04-28,fay@client.example,,7,,Maybe\n")
    import_id = uploaded_id(upload(client, org, content))
    absent = "— Not in this file —"
    assert guessed(client, org, import_id) == {"answered_at": "Answered", "email": "Email",
                                              "external_id": "Patient ID", "name": absent, "account": absent,
                                              "score": "Score", "comment": "Comment", "response_id": absent}
    html = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert f"q{prepared_question}" in html and PREPARED in text(html)
    assert "Open tickets for detractors answered in the last N days" in text(html)
    rows = {row[0]: row for row in table_rows(html, "preview-table")}
    assert rows["2"][-2:] == ["2025-04-23 (DD/MM/YYYY)", "OK"]
    assert rows["3"][-2:] == ["2025-04-24 14:05 (ISO 8601 date and time)", "OK"]
    assert rows["4"][-1] == "The row names no contact: give an email address or a contact external ID."
    assert rows["5"][-1] == "Score “11” is not a whole number from 0 to 10."
    assert rows["6"][-1].startswith("Answered date “yesterday” is not a date; write it as YYYY-MM-DD")
    assert rows["7"][-1].startswith("Answered date “03/04/2025” could be day/month or month/day")
    assert rows["8"][-1] == f"Answered date “{tomorrow}” is in the future."
    assert rows["9"][-1] == ("No contact has the external ID “P-NOBODY”, and the row has no email address to add "
                             "the contact.")
    assert rows["10"][-1] == "Duplicate in file: the same contact and answered date as row 2."
    assert rows["11"][-1] == f"“{PREPARED}”: Choose Yes or No."
    assert "8 of the first 10 rows have problems" in text(html)

    # A file without a score column cannot start, and says so next to the field.
    response = post_mapping(client, org, import_id, "run", answered_at="0", email="1")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "score") == "Choose the column that holds the score (0–10)."
    assert state(app, org["tenant_id"], import_id)["status"] == "draft"


FILE = ("Date,Email,Name,Company,Score,Comment\n"
        "2025-03-02,ann@client.example,Ann Able,Harbor Clinic,9,Lovely people\n"
        "2025-03-03T16:30:00Z,ben@client.example,Ben Bell,,2,Bills were wrong\n"
        "15/03/2025,cat@client.example,Cat Cole,Harbor Clinic,7,\n"
        "2025-03-04,,,,5,\n")


def test_an_import_records_the_responses_with_their_dates_and_scores_and_a_rerun_changes_nothing(
        client, app, org):
    login(client, app, org["manager"])
    import_id = import_responses(client, app, org, FILE)
    assert state(app, org["tenant_id"], import_id) == {
        "status": "done", "position": 4, "total_rows": 4, "created": 3, "updated": 0, "skipped": 0, "rejected": 1,
        "accounts_created": 0}
    responses = recorded(app, org["tenant_id"])
    assert {email: (r["score"], r["comment"], r["source"]) for email, r in responses.items()} == {
        "ann@client.example": (9, "Lovely people", "csv"),
        "ben@client.example": (2, "Bills were wrong", "csv"),
        "cat@client.example": (7, None, "csv"),
    }
    assert responses["ann@client.example"]["answered_at"] == datetime(2025, 3, 2, tzinfo=NY)
    assert responses["ben@client.example"]["answered_at"] == datetime(2025, 3, 3, 16, 30, tzinfo=timezone.utc)
    assert responses["cat@client.example"]["answered_at"] == datetime(2025, 3, 15, tzinfo=NY)

    page = text(client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True))
    assert "Import finished: 3 responses recorded, 1 rejected, 0 tickets opened." in page
    download = client.get(f"/t/{org['slug']}/imports/{import_id}/rejected.csv")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows == [["Date", "Email", "Name", "Company", "Score", "Comment", "Row", "Reason"],
                    ["2025-03-04", "", "", "", "5", "", "5",
                     "The row names no contact: give an email address or a contact external ID."]]

    # By default history opens no ticket and sends nothing at all.
    assert count(app, org["tenant_id"], Ticket) == 0
    assert outbox(app, org["tenant_id"]) == []
    summaries = [entry.summary for entry in audit_entries(app, org["tenant_id"])]
    assert "Started importing past responses from history.csv" in summaries
    assert "Imported past responses from history.csv" in summaries

    again = import_responses(client, app, org, FILE)
    assert state(app, org["tenant_id"], again)["created"] == 0
    assert recorded(app, org["tenant_id"]) == responses
    page = text(client.get(f"/t/{org['slug']}/imports/{again}").get_data(as_text=True))
    assert "Import finished: 0 responses recorded, 1 rejected, 0 tickets opened; 3 already recorded." in page
    assert outbox(app, org["tenant_id"]) == []


def test_the_checkbox_opens_tickets_only_for_detractors_answered_within_the_days_chosen(client, app, org):
    login(client, app, org["manager"])
    content = ("Date,Email,Score\n"
               f"{days_ago(2)},recent@client.example,2\n"
               f"{days_ago(30)},old@client.example,1\n"
               f"{days_ago(1)},happy@client.example,10\n")
    import_id = import_responses(client, app, org, content, ticket_days=7)
    page = text(client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True))
    assert "Import finished: 3 responses recorded, 0 rejected, 1 ticket opened." in page
    with app.app_context(), tenant_context(org["tenant_id"]):
        tickets = db.session.execute(select(Ticket)).scalars().all()
        assert [ticket.contact.email for ticket in tickets] == ["recent@client.example"]
        db.session.remove()
    assert outbox(app, org["tenant_id"]), "the recent detractor's ticket is announced as any ticket is"


def test_history_is_not_announced_to_webhook_endpoints_but_a_recent_detractors_ticket_is(client, app, org):
    from app.api.models import WebhookDelivery, WebhookEndpoint
    from app.notifications import webhooks

    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add(WebhookEndpoint(url="https://hooks.example.com/turnaround", events=[],
                                       secret_salt=webhooks.new_salt()))
        db.session.flush()
        webhooks.endpoints_changed()
        db.session.commit()
        db.session.remove()
    login(client, app, org["manager"])
    content = ("Date,Email,Score\n"
               f"{days_ago(2)},recent@client.example,2\n"
               f"{days_ago(30)},old@client.example,1\n"
               f"{days_ago(40)},happy@client.example,10\n")
    import_responses(client, app, org, content, ticket_days=7)
    with app.app_context(), tenant_context(org["tenant_id"]):
        events = sorted(db.session.execute(select(WebhookDelivery.event_type)).scalars())
        db.session.remove()
    assert events == ["response.created", "ticket.opened"]


def test_an_explicit_response_id_identifies_each_answer(client, app, org):
    login(client, app, org["manager"])
    content = "Response ID,Date,Email,Score,Comment\nR-1,2025-05-01,ann@client.example,6,\n"
    import_responses(client, app, org, content)
    amended = "Response ID,Date,Email,Score,Comment\nR-1,2025-05-01,ann@client.example,6,Called back later\n"
    import_id = import_responses(client, app, org, amended)
    assert state(app, org["tenant_id"], import_id)["updated"] == 1
    assert recorded(app, org["tenant_id"])["ann@client.example"]["comment"] == "Called back later"
    assert count(app, org["tenant_id"], Response) == 1


def test_another_organisation_cannot_see_the_import(client, app, org, other_org):
    login(client, app, org["manager"])
    import_id = import_responses(client, app, org, FILE)
    login(client, app, other_org["admin"])
    assert client.get(f"/t/{other_org['slug']}/imports/{import_id}").status_code == 404
    assert client.get(f"/t/{other_org['slug']}/imports/{import_id}/rejected.csv").status_code == 404
    assert client.post(f"/t/{other_org['slug']}/imports/{import_id}", data={"action": "run"}).status_code == 404
    assert "history.csv" not in text(client.get(f"/t/{other_org['slug']}/imports/").get_data(as_text=True))


def test_agents_cannot_import_past_responses(client, app, org):
    login(client, app, org["agent"])
    assert upload(client, org, FILE).status_code in (403, 404)


def test_the_reports_count_imported_responses_under_import(client, app, org):
    login(client, app, org["manager"])
    content = ("Date,Email,Score\n"
               f"{days_ago(3)},a@client.example,10\n"
               f"{days_ago(4)},b@client.example,9\n"
               f"{days_ago(5)},c@client.example,3\n")
    import_responses(client, app, org, content)
    roll_up(app)
    html = client.get(f"/t/{org['slug']}/reports/?period=30&by=source").get_data(as_text=True)
    assert table_rows(html, "breakdown-table") == [["Import", "33.3", "3", "2", "0", "1"]]


def test_a_killed_worker_resumes_without_recording_anything_twice(client, app, org, monkeypatch):
    login(client, app, org["manager"])
    lines = ["Date,Email,Score"] + [f"2025-01-{1 + n % 28:02d},person{n}@client.example,{n % 11}"
                                     for n in range(250)]
    import_id = uploaded_id(upload(client, org, "\n".join(lines) + "\n"))
    assert post_mapping(client, org, import_id, "run", answered_at="0", email="1", score="2").status_code == 303
    kill_after_one_batch(app, monkeypatch, running, lambda work_id: running.run_import(work_id, batch_size=100),
                         import_id, batch="_run_response_batch")
    assert state(app, org["tenant_id"], import_id)["position"] == 100
    assert count(app, org["tenant_id"], Response) == 100

    with app.app_context(), tenant_context(org["tenant_id"]):
        imported = db.session.get(ContactImport, import_id)
        imported.lease_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
    with app.app_context():
        sweep()
    run_worker(app)
    result = state(app, org["tenant_id"], import_id)
    assert (result["status"], result["created"], result["rejected"]) == ("done", 250, 0)
    assert count(app, org["tenant_id"], Response) == 250
