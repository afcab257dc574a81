"""Survey content settings: the main question, the follow-up and thank-you texts of each band, and the
extra questions; who may change them, the rules, the audit trail and what the hosted page then shows."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.settings.models import AuditEntry
from app.surveys.models import (
    DEFAULT_FOLLOWUPS,
    DEFAULT_QUESTION,
    DEFAULT_THANKS,
    ResponseAnswer,
    Survey,
    SurveyQuestion,
)
from app.tenancy import tenant_context
from tests.support.data import audit_entries, login, make_contact, make_invitation
from tests.support.html import field_error, label

HTMX = {"HX-Request": "true"}


def _url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/survey-content{path}"


def _texts(**changes) -> dict:
    values = {"question": DEFAULT_QUESTION,
              **{f"followup_{band}": text for band, text in DEFAULT_FOLLOWUPS.items()},
              **{f"thanks_{band}": text for band, text in DEFAULT_THANKS.items()}}
    return {**values, **changes}


def _question(prompt="Would you renew your contract?", kind="yes_no", bands=("detractor", "passive", "promoter"),
              opens=False, prefix="new") -> dict:
    data = {f"{prefix}-prompt": prompt, f"{prefix}-kind": kind, f"{prefix}-bands": list(bands)}
    if opens:
        data[f"{prefix}-opens_ticket_on_no"] = "y"
    return data


def _survey(app, tenant_id: int) -> Survey:
    with app.app_context(), tenant_context(tenant_id):
        survey = db.session.execute(select(Survey)).scalar_one()
        db.session.expunge_all()
        db.session.remove()
    return survey


def _questions(app, tenant_id: int) -> list[SurveyQuestion]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(
            select(SurveyQuestion).order_by(SurveyQuestion.position, SurveyQuestion.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def _audit(app, tenant_id: int) -> list[AuditEntry]:
    return audit_entries(app, tenant_id)


def _add(app, client, org, **kwargs) -> int:
    assert client.post(_url(org, "/questions"), data=_question(**kwargs)).status_code == 303
    return _questions(app, org["tenant_id"])[-1].id


def test_admin_sees_the_texts_of_each_band_and_the_question_as_respondents_read_it(app, client, org):
    login(client, app, org["admin"])
    page = client.get(_url(org))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert label(html, "question") == "Main question"
    for band in ("detractor", "passive", "promoter"):
        assert label(html, f"followup_{band}") and label(html, f"thanks_{band}")
        assert DEFAULT_FOLLOWUPS[band] in html and DEFAULT_THANKS[band] in html
    assert "Respondents read: “How likely is it that you would recommend Acme Billing" in html
    assert "Save survey texts" in html and "Add question" in html
    assert "style=" not in html and "hx-on" not in html


def test_manager_can_view_survey_content_but_gets_403_on_every_change(app, client, org):
    login(client, app, org["admin"])
    question_id = _add(app, client, org)
    client = app.test_client()
    login(client, app, org["manager"])
    html = client.get(_url(org)).get_data(as_text=True)
    assert "Would you renew your contract?" in html
    assert "Save survey texts" not in html and "Add question" not in html and "Retire question" not in html
    assert client.post(_url(org), data=_texts(question="Hi {organisation}?")).status_code == 403
    assert client.post(_url(org, "/questions"), data=_question("Another?")).status_code == 403
    assert client.get(_url(org, f"/questions/{question_id}/edit")).status_code == 403
    for action in ("", "/move", "/retire", "/restore", "/delete"):
        assert client.post(_url(org, f"/questions/{question_id}{action}"), data=_question(prefix=f"q{question_id}")
                           ).status_code == 403
    assert _survey(app, org["tenant_id"]).question == DEFAULT_QUESTION
    assert [q.prompt for q in _questions(app, org["tenant_id"])] == ["Would you renew your contract?"]


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_get_403_on_survey_content(app, client, org, role):
    login(client, app, org[role])
    assert client.get(_url(org)).status_code == 403
    assert client.post(_url(org), data=_texts(question="Hi {organisation}?")).status_code == 403
    assert client.post(_url(org, "/questions"), data=_question()).status_code == 403
    assert _survey(app, org["tenant_id"]).question == DEFAULT_QUESTION
    assert _questions(app, org["tenant_id"]) == []


def test_saving_texts_changes_them_and_audits_each_text_before_and_after(app, client, org):
    login(client, app, org["admin"])
    saved = client.post(_url(org), data=_texts(question="Would you recommend {organisation}?",
                                               thanks_passive="Thanks, noted."))
    assert saved.status_code == 303
    survey = _survey(app, org["tenant_id"])
    assert survey.question == "Would you recommend {organisation}?" and survey.thanks_passive == "Thanks, noted."
    [entry] = _audit(app, org["tenant_id"])
    assert entry.area == "survey_content" and entry.actor_id == org["admin"]
    assert entry.changes == {"question": [DEFAULT_QUESTION, "Would you recommend {organisation}?"],
                             "thanks_passive": [DEFAULT_THANKS["passive"], "Thanks, noted."]}
    assert entry.summary == "Survey content changed: question, passive thank-you text"


def test_htmx_save_of_texts_returns_the_texts_fragment(app, client, org):
    login(client, app, org["admin"])
    result = client.post(_url(org), data=_texts(followup_promoter="What do you like best?"), headers=HTMX)
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert "<html" not in html and "What do you like best?</textarea>" in html and "Survey texts saved." in html


def test_an_unknown_merge_field_is_refused_naming_it_and_nothing_is_saved(app, client, org):
    login(client, app, org["admin"])
    for headers in ({}, HTMX):
        result = client.post(_url(org), data=_texts(question="Would {contact.first_name} recommend {organisation}?"),
                             headers=headers)
        assert result.status_code == 422
        assert field_error(result.get_data(as_text=True), "question") == (
            "Only {organisation} can be merged into survey texts: {contact.first_name} is not a merge field here.")
    assert _survey(app, org["tenant_id"]).question == DEFAULT_QUESTION
    assert _audit(app, org["tenant_id"]) == []


def test_a_blank_follow_up_question_is_refused_next_to_its_field(app, client, org):
    login(client, app, org["admin"])
    result = client.post(_url(org), data=_texts(followup_detractor="   ", question="Changed {organisation}?"))
    assert result.status_code == 422
    assert field_error(result.get_data(as_text=True), "followup_detractor") == "Write the detractor follow-up question."
    assert _survey(app, org["tenant_id"]).question == DEFAULT_QUESTION


def test_the_organisation_merges_into_the_question_on_the_hosted_page(app, client, org):
    login(client, app, org["admin"])
    client.post(_url(org), data=_texts(question="Would you send a friend to {organisation}?"))
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    html = client.get(f"/s/{token}?score=5").get_data(as_text=True)
    assert "Would you send a friend to Acme Billing?" in html and "{organisation}" not in html


def test_hosted_page_shows_the_edited_follow_up_and_thank_you_of_the_chosen_band(app, client, org):
    login(client, app, org["admin"])
    client.post(_url(org), data=_texts(followup_passive="What would make it a 10 at {organisation}?",
                                       thanks_passive="Thanks from {organisation}, we are on it.",
                                       followup_detractor="What went wrong?", thanks_detractor="Sorry about that."))
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    page = client.get(f"/s/{token}?score=7").get_data(as_text=True)
    assert "What would make it a 10 at Acme Billing?" in page and "What went wrong?" not in page
    swapped = client.post(f"/s/{token}/score", data={"score": "2"}, headers=HTMX).get_data(as_text=True)
    assert "What went wrong?" in swapped
    thanks = client.post(f"/s/{token}", data={"score": "8", "comment": "fine"}, follow_redirects=True)
    html = thanks.get_data(as_text=True)
    assert "Thanks from Acme Billing, we are on it." in html and "Sorry about that." not in html


def test_admin_adds_an_extra_question_and_it_is_audited(app, client, org):
    login(client, app, org["admin"])
    result = client.post(_url(org, "/questions"),
                         data=_question("Will you renew?", bands=("detractor", "passive"), opens=True), headers=HTMX)
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert "<html" not in html and "Will you renew?" in html and "Opens a ticket on No" in html
    [question] = _questions(app, org["tenant_id"])
    assert (question.kind, question.bands, question.opens_ticket_on_no, question.position) == (
        "yes_no", ["detractor", "passive"], True, 1)
    [entry] = _audit(app, org["tenant_id"])
    assert entry.summary == "Extra question added: “Will you renew?”"
    assert entry.changes["prompt"] == [None, "Will you renew?"]
    assert entry.changes["bands"] == [None, ["detractor", "passive"]]


@pytest.mark.parametrize("data, field, message", [
    (_question(prompt=""), "new-prompt", "Write the question."),
    (_question(bands=()), "new-bands", "Choose at least one band to show the question to."),
    (_question(kind="text", opens=True), "new-opens_ticket_on_no",
     "Only a yes / no question can open a ticket when the answer is No."),
    (_question(kind="rating"), "new-kind", "Choose whether the question is answered yes / no or with a short text."),
    (_question(prompt="Is {agent.name} helpful?"), "new-prompt",
     "Only {organisation} can be merged into survey texts: {agent.name} is not a merge field here."),
])
def test_each_extra_question_rule_is_refused_next_to_its_field_and_nothing_is_saved(app, client, org, data, field,
                                                                                   message):
    login(client, app, org["admin"])
    for headers in ({}, HTMX):
        result = client.post(_url(org, "/questions"), data=data, headers=headers)
        assert result.status_code == 422
        assert field_error(result.get_data(as_text=True), field) == message
    assert _questions(app, org["tenant_id"]) == []
    assert _audit(app, org["tenant_id"]) == []


def test_editing_a_question_records_its_text_before_and_after(app, client, org):
    login(client, app, org["admin"])
    question_id = _add(app, client, org, prompt="Will you renew?")
    form = client.get(_url(org, f"/questions/{question_id}/edit"), headers=HTMX).get_data(as_text=True)
    assert label(form, f"q{question_id}-prompt") and "Save question" in form and "Cancel editing" in form
    edited = client.post(_url(org, f"/questions/{question_id}"),
                         data=_question("Will you renew next year?", kind="yes_no", bands=("detractor",), opens=True,
                                        prefix=f"q{question_id}"), headers=HTMX)
    assert edited.status_code == 200 and "Will you renew next year?" in edited.get_data(as_text=True)
    [question] = _questions(app, org["tenant_id"])
    assert (question.prompt, question.bands, question.opens_ticket_on_no) == (
        "Will you renew next year?", ["detractor"], True)
    entry = _audit(app, org["tenant_id"])[-1]
    assert entry.summary == "Extra question changed: “Will you renew next year?”"
    assert entry.changes == {"prompt": ["Will you renew?", "Will you renew next year?"],
                             "bands": [["detractor", "passive", "promoter"], ["detractor"]],
                             "opens_ticket_on_no": [False, True]}


def test_the_kind_of_an_answered_question_cannot_change(app, client, org):
    login(client, app, org["admin"])
    question_id = _add(app, client, org)
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    client.post(f"/s/{token}", data={"score": "9", f"q-{question_id}": "yes"})
    result = client.post(_url(org, f"/questions/{question_id}"),
                         data=_question(kind="text", prefix=f"q{question_id}"))
    assert result.status_code == 422
    assert "This question already has answers, so its kind cannot change." in result.get_data(as_text=True)
    assert _questions(app, org["tenant_id"])[0].kind == "yes_no"


def test_questions_move_up_and_down_and_each_move_is_audited(app, client, org):
    login(client, app, org["admin"])
    first = _add(app, client, org, prompt="First?")
    second = _add(app, client, org, prompt="Second?")
    third = _add(app, client, org, prompt="Third?")
    assert client.post(_url(org, f"/questions/{third}/move"), data={"direction": "up"}).status_code == 303
    assert [q.prompt for q in _questions(app, org["tenant_id"])] == ["First?", "Third?", "Second?"]
    result = client.post(_url(org, f"/questions/{first}/move"), data={"direction": "down"}, headers=HTMX)
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    html = html[html.index('class="question-list"'):]
    assert html.index("Third?") < html.index("First?") < html.index("Second?")
    assert [q.id for q in _questions(app, org["tenant_id"])] == [third, first, second]
    moves = [e for e in _audit(app, org["tenant_id"]) if "moved" in e.summary]
    assert [e.summary for e in moves] == ["Extra question moved up: “Third?”", "Extra question moved down: “First?”"]
    assert moves[0].changes == {"position": [3, 2]}
    # The first question cannot go further up: nothing changes, nothing is audited.
    client.post(_url(org, f"/questions/{third}/move"), data={"direction": "up"})
    assert len([e for e in _audit(app, org["tenant_id"]) if "moved" in e.summary]) == 2


def test_retiring_hides_a_question_from_respondents_and_it_can_come_back(app, client, org):
    login(client, app, org["admin"])
    question_id = _add(app, client, org, prompt="Did we call you back?")
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    assert "Did we call you back?" in client.get(f"/s/{token}?score=3").get_data(as_text=True)
    result = client.post(_url(org, f"/questions/{question_id}/retire"), headers=HTMX)
    assert result.status_code == 200 and "Retired questions" in result.get_data(as_text=True)
    assert _questions(app, org["tenant_id"])[0].retired_at is not None
    assert "Did we call you back?" not in client.get(f"/s/{token}?score=3").get_data(as_text=True)
    assert client.post(_url(org, f"/questions/{question_id}/restore")).status_code == 303
    assert _questions(app, org["tenant_id"])[0].retired_at is None
    assert "Did we call you back?" in client.get(f"/s/{token}?score=3").get_data(as_text=True)
    summaries = [e.summary for e in _audit(app, org["tenant_id"])]
    assert "Extra question retired: “Did we call you back?”" in summaries
    assert "Extra question brought back: “Did we call you back?”" in summaries


def test_an_unanswered_question_can_be_deleted_but_an_answered_one_only_retired(app, client, org):
    login(client, app, org["admin"])
    unanswered = _add(app, client, org, prompt="Unanswered?")
    answered = _add(app, client, org, prompt="Answered?")
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    client.post(f"/s/{token}", data={"score": "9", f"q-{answered}": "no"})
    for question_id in (unanswered, answered):
        client.post(_url(org, f"/questions/{question_id}/retire"))
    html = client.get(_url(org)).get_data(as_text=True)
    assert "Delete “Unanswered?”" in html and "Delete “Answered?”" not in html
    assert client.post(_url(org, f"/questions/{unanswered}/delete")).status_code == 303
    refused = client.post(_url(org, f"/questions/{answered}/delete"), follow_redirects=True)
    assert "This question has answers, so it can only be retired." in refused.get_data(as_text=True)
    assert [q.id for q in _questions(app, org["tenant_id"])] == [answered]
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(ResponseAnswer.value)).scalars().all() == ["no"]
    assert "Extra question deleted: “Unanswered?”" in [e.summary for e in _audit(app, org["tenant_id"])]


def test_organisation_b_is_untouched_by_a_survey_content_edits(app, client, org, other_org):
    login(client, app, org["admin"])
    client.post(_url(org), data=_texts(question="Only A asks this, {organisation}?"))
    _add(app, client, org, prompt="Only A asks this too?")
    assert _survey(app, org["tenant_id"]).question == "Only A asks this, {organisation}?"
    assert _survey(app, other_org["tenant_id"]).question == DEFAULT_QUESTION
    assert _questions(app, other_org["tenant_id"]) == []
    assert _audit(app, other_org["tenant_id"]) == []
    token = make_invitation(app, other_org["tenant_id"], make_contact(app, other_org["tenant_id"]))
    html = client.get(f"/s/{token}?score=3").get_data(as_text=True)
    assert "Only A asks" not in html and "recommend Bayside Clinic" in html


def _sender_of(app, tenant_id: int) -> tuple:
    from app.settings.models import WorkflowSettings

    with app.app_context(), tenant_context(tenant_id):
        row = db.session.execute(select(WorkflowSettings)).scalar_one()
        values = (row.sender_name, row.reply_to_address)
        db.session.remove()
    return values


def test_admin_sets_the_sender_name_and_reply_to_address_and_the_change_is_audited(app, client, org):
    login(client, app, org["admin"])
    page = client.get(_url(org)).get_data(as_text=True)
    assert '<label for="sender-sender_name">Sender name</label>' in page
    assert '<label for="sender-reply_to_address">Reply-to address</label>' in page
    assert "Leave it blank to use the organisation name, Acme Billing." in page
    response = client.post(_url(org, "/sender"), headers=HTMX, data={
        "sender-sender_name": " Acme Customer Success ", "sender-reply_to_address": "Success@Acme.Example"})
    assert response.status_code == 200 and "Sender saved." in response.get_data(as_text=True)
    assert _sender_of(app, org["tenant_id"]) == ("Acme Customer Success", "success@acme.example")
    [entry] = [e for e in audit_entries(app, org["tenant_id"]) if e.summary == "Changed the survey sender"]
    assert entry.changes == {"sender_name": [None, "Acme Customer Success"],
                             "reply_to_address": [None, "success@acme.example"]}


@pytest.mark.parametrize("field, value, message", [
    ("sender-reply_to_address", "not an address", "Enter a valid email address"),
    ("sender-sender_name", "Acme <billing@acme.example>", "Use a plain name"),
    ("sender-sender_name", "Acme\r\nBcc: everyone@example.com", "Use a plain name"),
    ("sender-sender_name", "x" * 121, "Use at most 120 characters."),
])
def test_a_bad_sender_is_refused_next_to_its_field_and_nothing_is_saved(app, client, org, field, value, message):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/sender"), data={"sender-sender_name": "", "sender-reply_to_address": "",
                                                       field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<small id="{field}-error" class="field-error">' in html and message in html
    assert _sender_of(app, org["tenant_id"]) == (None, None)


def test_only_admins_change_the_sender(app, client, org):
    login(client, app, org["manager"])
    assert client.post(_url(org, "/sender"), data={"sender-sender_name": "Mine"}).status_code == 403
    assert _sender_of(app, org["tenant_id"]) == (None, None)
