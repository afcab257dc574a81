"""Extra questions on the hosted survey page: shown to the chosen bands, following the score as it changes,
answers stored once per response and amendable, and a yes / no trigger question opening a ticket on No."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from app.surveys.models import Response, ResponseAnswer, SurveyQuestion
from app.surveys.services import default_survey
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.timeutil import utcnow
from tests.support.data import make_contact, make_invitation, run_jobs
from tests.support.html import choice, field_error, label, text

HTMX = {"HX-Request": "true"}
ALL_BANDS = ["detractor", "passive", "promoter"]


def make_question(app, tenant_id: int, prompt: str = "Would you renew your contract?", *, kind: str = "yes_no",
                  bands: list[str] | None = None, opens_ticket_on_no: bool = False, retired: bool = False) -> int:
    """An extra question of the tenant's survey, after the others; returns its id."""
    with app.app_context(), tenant_context(tenant_id):
        position = db.session.execute(select(func.count(SurveyQuestion.id))).scalar_one() + 1
        question = SurveyQuestion(survey_id=default_survey().id, prompt=prompt, kind=kind,
                                  bands=list(bands or ALL_BANDS), opens_ticket_on_no=opens_ticket_on_no,
                                  position=position, retired_at=utcnow() if retired else None)
        db.session.add(question)
        db.session.commit()
        question_id = question.id
        db.session.remove()
    return question_id


def _token(app, org, name="Casey Client") -> str:
    return make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"], name))


def _answers(app, tenant_id) -> list[tuple[int, str]]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(
            select(ResponseAnswer.question_id, ResponseAnswer.value).order_by(ResponseAnswer.question_id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def _tickets(app, tenant_id) -> list[Ticket]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(Ticket)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_an_extra_question_is_shown_only_to_the_bands_chosen_for_it(app, client, org):
    detractors = make_question(app, org["tenant_id"], "Did we fix the billing error?", bands=["detractor"])
    promoters = make_question(app, org["tenant_id"], "May we quote you?", kind="text", bands=["promoter"])
    token = _token(app, org)
    low = client.get(f"/s/{token}?score=3").get_data(as_text=True)
    assert "Did we fix the billing error?" in low and "May we quote you?" not in low
    assert choice(low, f"q-{detractors}", "yes") == ("Yes", False)
    assert choice(low, f"q-{detractors}", "no") == ("No", False)
    high = client.get(f"/s/{token}?score=10").get_data(as_text=True)
    assert "May we quote you?" in high and "Did we fix the billing error?" not in high
    assert label(high, f"q-{promoters}") == "May we quote you?"
    assert f'<input type="text" id="q-{promoters}" name="q-{promoters}"' in high
    passive = client.get(f"/s/{token}?score=8").get_data(as_text=True)
    assert "Did we fix" not in passive and "May we quote" not in passive
    assert "Did we fix" not in client.get(f"/s/{token}").get_data(as_text=True)  # no score chosen yet


def test_changing_the_score_swaps_in_the_extra_questions_of_the_new_band(app, client, org):
    make_question(app, org["tenant_id"], "Did we fix the billing error?", bands=["detractor"])
    make_question(app, org["tenant_id"], "May we quote you?", kind="text", bands=["promoter"])
    token = _token(app, org)
    page = client.get(f"/s/{token}?score=2").get_data(as_text=True)
    assert '<div id="extra-questions" class="extra-questions">' in page
    swapped = client.post(f"/s/{token}/score", data={"score": "9"}, headers=HTMX).get_data(as_text=True)
    assert '<div id="extra-questions" class="extra-questions" hx-swap-oob="true">' in swapped
    extras = swapped[swapped.index('id="extra-questions"'):]
    assert "May we quote you?" in extras and "Did we fix the billing error?" not in extras
    back = client.post(f"/s/{token}/score", data={"score": "1"}, headers=HTMX).get_data(as_text=True)
    assert "Did we fix the billing error?" in back and "May we quote you?" not in back


def test_the_score_only_load_post_keeps_working_with_extra_questions(app, client, org):
    make_question(app, org["tenant_id"], "Will you renew?", opens_ticket_on_no=True)
    token = _token(app, org)
    result = client.post(f"/s/{token}/score", data={"score": "9"}, headers=HTMX)
    assert result.status_code == 200 and "Your score of 9 is saved" in result.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(Response.score)).scalars().all() == [9]
    assert _answers(app, org["tenant_id"]) == []
    assert _tickets(app, org["tenant_id"]) == []


def test_a_trigger_question_answered_no_opens_a_ticket_for_a_promoter(app, client, org, smtp_sink):
    question = make_question(app, org["tenant_id"], "Will you renew with us?", opens_ticket_on_no=True)
    token = _token(app, org, "Nina Nine")
    client.post(f"/s/{token}/score", data={"score": "9"}, headers=HTMX)
    assert _tickets(app, org["tenant_id"]) == []
    sent = client.post(f"/s/{token}", data={"score": "9", "comment": "Great, but too pricey", f"q-{question}": "no"})
    assert sent.status_code == 303
    [ticket] = _tickets(app, org["tenant_id"])
    assert ticket.trigger == "question"
    assert _answers(app, org["tenant_id"]) == [(question, "no")]
    run_jobs(app)
    intro = smtp_sink.to("nina.nine@client.example")
    assert len(intro) == 1 and "Acme Billing" in str(intro[0]["Subject"])


def test_a_trigger_question_answered_yes_opens_no_ticket(app, client, org, smtp_sink):
    question = make_question(app, org["tenant_id"], "Will you renew with us?", opens_ticket_on_no=True)
    token = _token(app, org, "Yves Yes")
    assert client.post(f"/s/{token}", data={"score": "9", f"q-{question}": "yes"}).status_code == 303
    assert _tickets(app, org["tenant_id"]) == []
    assert _answers(app, org["tenant_id"]) == [(question, "yes")]
    run_jobs(app)
    assert smtp_sink.to("yves.yes@client.example") == []


def test_no_to_a_question_that_is_not_a_trigger_opens_no_ticket(app, client, org):
    question = make_question(app, org["tenant_id"], "Have you used our portal?")
    token = _token(app, org)
    client.post(f"/s/{token}", data={"score": "10", f"q-{question}": "no"})
    assert _answers(app, org["tenant_id"]) == [(question, "no")]
    assert _tickets(app, org["tenant_id"]) == []


def test_a_low_score_with_a_no_opens_one_ticket_triggered_by_the_score(app, client, org):
    question = make_question(app, org["tenant_id"], "Will you renew with us?", opens_ticket_on_no=True)
    token = _token(app, org)
    client.post(f"/s/{token}", data={"score": "3", f"q-{question}": "no"})
    client.post(f"/s/{token}", data={"score": "9", f"q-{question}": "no"})
    [ticket] = _tickets(app, org["tenant_id"])
    assert ticket.trigger == "score"


def test_answers_are_stored_once_per_question_and_can_be_amended(app, client, org):
    renew = make_question(app, org["tenant_id"], "Will you renew?")
    better = make_question(app, org["tenant_id"], "What should we do better?", kind="text")
    token = _token(app, org)
    client.post(f"/s/{token}", data={"score": "7", f"q-{renew}": "yes", f"q-{better}": "Faster replies"})
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert re.search(rf'id="q-{renew}-yes" name="q-{renew}" value="yes" checked', html)
    assert 'value="Faster replies"' in html
    client.post(f"/s/{token}", data={"score": "7", f"q-{renew}": "no", f"q-{better}": "  Clearer invoices  "})
    assert _answers(app, org["tenant_id"]) == [(renew, "no"), (better, "Clearer invoices")]
    client.post(f"/s/{token}", data={"score": "7", f"q-{renew}": "no", f"q-{better}": ""})
    assert _answers(app, org["tenant_id"]) == [(renew, "no")]


def test_answers_to_questions_the_new_band_does_not_see_are_removed(app, client, org):
    detractors = make_question(app, org["tenant_id"], "Did we fix it?", bands=["detractor"])
    token = _token(app, org)
    client.post(f"/s/{token}", data={"score": "2", f"q-{detractors}": "no"})
    assert _answers(app, org["tenant_id"]) == [(detractors, "no")]
    client.post(f"/s/{token}", data={"score": "10", f"q-{detractors}": "no"})
    assert _answers(app, org["tenant_id"]) == []


def test_a_yes_no_answer_other_than_yes_or_no_is_refused_and_nothing_is_saved(app, client, org):
    question = make_question(app, org["tenant_id"], "Will you renew?", opens_ticket_on_no=True)
    token = _token(app, org)
    result = client.post(f"/s/{token}", data={"score": "9", "comment": "kept", f"q-{question}": "maybe"})
    assert result.status_code == 422
    html = result.get_data(as_text=True)
    assert field_error(html, f"q-{question}") == "Choose Yes or No."
    assert "kept</textarea>" in html
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(func.count(Response.id))).scalar_one() == 0
    assert _tickets(app, org["tenant_id"]) == []


def test_retired_questions_are_not_shown_and_their_no_opens_no_ticket(app, client, org):
    question = make_question(app, org["tenant_id"], "Old question?", opens_ticket_on_no=True, retired=True)
    token = _token(app, org)
    assert "Old question?" not in client.get(f"/s/{token}?score=9").get_data(as_text=True)
    client.post(f"/s/{token}", data={"score": "9", f"q-{question}": "no"})
    assert _answers(app, org["tenant_id"]) == []
    assert _tickets(app, org["tenant_id"]) == []


def test_the_thank_you_page_lists_the_extra_answers(app, client, org):
    question = make_question(app, org["tenant_id"], "Would you recommend {organisation} to a colleague?")
    token = _token(app, org)
    html = client.post(f"/s/{token}", data={"score": "9", f"q-{question}": "yes"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Would you recommend Acme Billing to a colleague? Yes" in text(html)


def test_another_organisations_questions_never_appear_on_our_survey(app, client, org, other_org):
    make_question(app, other_org["tenant_id"], "Bayside only?")
    token = _token(app, org)
    assert "Bayside only?" not in client.get(f"/s/{token}?score=3").get_data(as_text=True)
