"""The hosted survey page: public, reached only by the token in the email's links.

A GET never records anything (mail scanners fetch links). In a browser the page posts the
score from the link on load (``record_score``), so a person who clicks a score and closes the
tab has still answered; the form then amends that same response with a comment and the answers
to the extra questions of the score's band. Without JavaScript the form is a plain POST that
redirects to a thank-you page.

Everything the respondent reads comes from the organisation's survey settings: the question, the
follow-up question and thank-you text of the band (computed with the survey's current bounds), and
the extra questions shown to that band, which follow the score as it changes.

The invitation is found across tenants by its token; everything after that runs inside the
invitation's tenant context.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Tenant
from app.extensions import db
from app.surveys.models import SurveyInvitation, SurveyQuestion
from app.surveys.services import (
    SCORES, LinkExpired, answered_questions, clean_answer, find_invitation, link_state, personalise,
    questions_for_band, record_answer, stored_answers,
)
from app.tenancy import tenant_context
from app.timeutil import localize
from app.views import render_page, saved, wants_fragment

public_bp = Blueprint("survey_public", __name__, url_prefix="/s")

SCORE_ERROR = "Choose a score from 0 to 10."
COMMENT_MAX = 5000
COMMENT_ERROR = f"Please keep your comment under {COMMENT_MAX:,} characters."
GENERIC_FOLLOWUP = "What is the main reason for your score?"


@public_bp.after_request
def _private(response):
    # The page carries a personal token and answer: never cache it, never index it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _parse_score(raw: str | None) -> int | None:
    try:
        score = int((raw or "").strip())
    except ValueError:
        return None
    return score if score in SCORES else None


def _notice(page: str, fragment: str, status: int, **context):
    """A full page, or for htmx the same message swapped over the whole survey card."""
    if wants_fragment():
        html = render_template(fragment, **context)
        return html, status, {"HX-Retarget": "#survey", "HX-Reswap": "innerHTML", "Vary": "HX-Request"}
    return render_template(page, **context), status, {"Vary": "HX-Request"}


def _invalid():
    return _notice("surveys/answer_invalid.html", "surveys/_answer_invalid.html", 404, tenant=None)


def _expired(invitation: SurveyInvitation):
    return _notice("surveys/answer_expired.html", "surveys/_answer_expired.html", 410,
                   tenant=_tenant(invitation), response=invitation.response)


def _tenant(invitation: SurveyInvitation) -> Tenant:
    return db.session.get(Tenant, invitation.tenant_id)


def _followup(invitation: SurveyInvitation, score: int | None) -> str:
    """The follow-up question of the score's band, with the survey's current bounds."""
    if score is None:
        return GENERIC_FOLLOWUP
    survey = invitation.survey
    return personalise(survey.followup_for(survey.band_for(score)), _tenant(invitation).name)


def _extra_questions(invitation: SurveyInvitation, score: int | None) -> list[SurveyQuestion]:
    """The extra questions shown for ``score``: those in use for its band (none before a score is chosen)."""
    if score is None:
        return []
    survey = invitation.survey
    return questions_for_band(survey, survey.band_for(score))


def _field(question: SurveyQuestion) -> str:
    return f"q-{question.id}"


def _posted_answers(questions: list[SurveyQuestion]) -> tuple[dict[int, str], dict[str, str]]:
    """The extra answers in the posted form, by question id, and any errors by field name."""
    answers, errors = {}, {}
    for question in questions:
        try:
            answers[question.id] = clean_answer(question, request.form.get(_field(question)))
        except ValueError as error:
            answers[question.id] = request.form.get(_field(question)) or ""
            errors[_field(question)] = str(error)
    return answers, errors


def _extras_context(invitation: SurveyInvitation, score: int | None, answers: dict[int, str] | None = None,
                    errors: dict | None = None) -> dict:
    """What ``_answer_extras.html`` needs. ``answers`` are posted values; without them, the stored ones."""
    questions = _extra_questions(invitation, score)
    if answers is None:
        answers = stored_answers(invitation.response)
    return {"extras": [(question, _field(question), answers.get(question.id, "")) for question in questions],
            "tenant_name": _tenant(invitation).name, "errors": errors or {}}


def _form_context(invitation: SurveyInvitation, token: str, *, selected: int | None = None,
                  comment: str | None = None, autosave: bool = False, errors: dict | None = None,
                  answers: dict[int, str] | None = None) -> dict:
    tenant = _tenant(invitation)
    response = invitation.response
    if selected is None and response is not None:
        selected = response.score
    if comment is None:
        comment = response.comment if response is not None and response.comment else ""
    return {
        **_extras_context(invitation, selected, answers, errors),
        "tenant": tenant,
        "token": token,
        "question": invitation.survey.question_for(tenant.name),
        "scores": list(SCORES),
        "selected": selected,
        "followup": _followup(invitation, selected),
        "comment": comment,
        "response": response,
        "answered_at": localize(response.updated_at, tenant.timezone) if response else None,
        "amend_until": localize(response.amendable_until, tenant.timezone) if response else None,
        "autosave": autosave,
        "errors": errors or {},
        "comment_max": COMMENT_MAX,
    }


def _save(invitation: SurveyInvitation, score: int, comment: str | None, answers: dict[int, str] | None = None):
    """Record or amend the answer and commit. A lost race to create the one response retries once."""
    for attempt in (1, 2):
        try:
            response = record_answer(invitation, score, comment, answers)
            db.session.commit()
            return response
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    return None  # pragma: no cover


@public_bp.get("/<token>")
def answer(token: str):
    invitation = find_invitation(token)
    if invitation is None:
        return _invalid()
    with tenant_context(invitation.tenant_id):
        if link_state(invitation) == "expired":
            return _expired(invitation)
        requested = _parse_score(request.args.get("score"))
        response = invitation.response
        # Record the score from the link only from a browser (on load), and only if it changes anything.
        autosave = requested is not None and (response is None or response.score != requested)
        context = _form_context(invitation, token, selected=requested, autosave=autosave)
        return render_template("surveys/answer.html", **context)


@public_bp.post("/<token>/score")
def record_score(token: str):
    """Record the chosen score (on page load and on every change); returns the matching follow-up."""
    invitation = find_invitation(token)
    if invitation is None:
        return _invalid()
    score = _parse_score(request.form.get("score"))
    with tenant_context(invitation.tenant_id):
        if link_state(invitation) == "expired":
            return _expired(invitation)
        if score is None:
            html = render_template("surveys/_answer_followup.html", followup=GENERIC_FOLLOWUP,
                                   saved_score=None, error=SCORE_ERROR)
            return html, 422, {"Vary": "HX-Request"}
        try:
            _save(invitation, score, None)
        except LinkExpired:
            db.session.rollback()
            return _expired(invitation)
        if not wants_fragment():
            return redirect(url_for(".answer", token=token), 303)
        html = render_template("surveys/_answer_followup.html", followup=_followup(invitation, score),
                               saved_score=score, error=None)
        # The extra questions follow the new band; answers typed so far are kept where the question stays.
        answers = stored_answers(invitation.response)
        answers.update({question.id: request.form[_field(question)]
                        for question in _extra_questions(invitation, score) if _field(question) in request.form})
        html += render_template("surveys/_answer_extras.html", oob=True,
                                **_extras_context(invitation, score, answers))
        return html, 200, {"Vary": "HX-Request"}


@public_bp.post("/<token>")
def submit(token: str):
    """The form: score and comment, amending the invitation's single response."""
    invitation = find_invitation(token)
    if invitation is None:
        return _invalid()
    score = _parse_score(request.form.get("score"))
    comment = request.form.get("comment") or ""
    with tenant_context(invitation.tenant_id):
        if link_state(invitation) == "expired":
            return _expired(invitation)
        errors = {}
        if score is None:
            errors["score"] = SCORE_ERROR
        if len(comment) > COMMENT_MAX:
            errors["comment"] = COMMENT_ERROR
        answers, answer_errors = _posted_answers(_extra_questions(invitation, score))
        errors.update(answer_errors)
        if errors:
            context = _form_context(invitation, token, selected=score, comment=comment, errors=errors,
                                    answers=answers)
            if score is None:
                # Keep the follow-up neutral rather than the previous answer's band.
                context["selected"], context["followup"] = None, GENERIC_FOLLOWUP
            return render_page("surveys/answer.html", "surveys/_answer_form.html", status=422, **context)
        try:
            response = _save(invitation, score, comment, answers)
        except LinkExpired:
            db.session.rollback()
            return _expired(invitation)
        return saved(None, url_for(".thanks", token=token),
                     lambda: render_page("surveys/answer_thanks.html", "surveys/_answer_thanks.html",
                                         **_thanks_context(invitation, token, response)))


@public_bp.get("/<token>/thanks")
def thanks(token: str):
    invitation = find_invitation(token)
    if invitation is None:
        return _invalid()
    with tenant_context(invitation.tenant_id):
        response = invitation.response
        if response is None:
            return redirect(url_for(".answer", token=token), 303)
        return render_template("surveys/answer_thanks.html", **_thanks_context(invitation, token, response))


def _thanks_context(invitation: SurveyInvitation, token: str, response) -> dict:
    tenant = _tenant(invitation)
    return {
        "tenant": tenant,
        "token": token,
        "response": response,
        "thanks_message": personalise(invitation.survey.thanks_for(response.band), tenant.name),
        "answers": answered_questions(response),
        "can_amend": link_state(invitation) == "open",
        "amend_until": localize(response.amendable_until, tenant.timezone),
    }
