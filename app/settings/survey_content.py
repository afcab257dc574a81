"""Settings section: survey content. Who invitations come from (sender name and reply-to address), the main
question, each band's follow-up question and thank-you text, and the extra questions (yes / no or short text,
shown to chosen bands, optionally opening a ticket on No).

The sender form, the texts form and the extra-questions region are separate htmx targets (``#survey-sender``,
``#survey-texts`` and ``#survey-questions``); every action also works as a plain form that redirects back to
the page.
"""
from __future__ import annotations

from flask import flash, request, url_for

from app.rules import RuleError
from app.settings import services as settings_services
from app.settings.forms_survey import QuestionForm, SenderForm, SurveyTextsForm
from app.settings.routes import bp, change_settings, view_settings
from app.surveys import services
from app.surveys.models import BAND_LABELS, QUESTION_KINDS, Survey, SurveyQuestion
from app.surveys.services import default_survey
from app.tenancy import Role, current_membership, current_tenant, get_or_404
from app.views import place_error, refused, render_page, saved

PAGE = "settings/survey_content.html"
TEXTS = "settings/_survey_content_texts.html"
SENDER = "settings/_survey_sender.html"
QUESTIONS = "settings/_survey_content_questions.html"


def _new_form(formdata=None) -> QuestionForm:
    return QuestionForm(formdata=formdata, prefix="new")


def _edit_form(question: SurveyQuestion, formdata=None) -> QuestionForm:
    return QuestionForm(formdata=formdata, prefix=f"q{question.id}", question=question, obj=question)


def _context(survey: Survey, *, texts_form: SurveyTextsForm | None = None, new_form: QuestionForm | None = None,
             edit_form: QuestionForm | None = None, sender_form: SenderForm | None = None) -> dict:
    active, retired = services.survey_questions(survey)
    counts = services.answer_counts(q.id for q in retired)
    return {
        "survey": survey,
        "texts_form": texts_form or SurveyTextsForm(formdata=None, obj=survey),
        "sender_form": sender_form or SenderForm(
            formdata=None, prefix="sender", data=SenderForm.initial(settings_services.get_settings())),
        "new_form": new_form or _new_form(),
        "edit_form": edit_form,
        "editing_id": edit_form.question.id if edit_form is not None else None,
        "active": active,
        "retired": [(question, counts.get(question.id, 0)) for question in retired],
        "ranges": services.band_ranges(survey.detractor_max, survey.passive_max),
        "preview": services.personalise(survey.question, current_tenant.name),
        "BAND_LABELS": BAND_LABELS,
        "QUESTION_KINDS": QUESTION_KINDS,
        "can_change": current_membership.role == Role.ADMIN,
    }


def _questions_done(survey: Survey, message: str, category: str = "success"):
    """After a change to the extra questions: the region again for htmx, else back to the page."""
    return saved(message, url_for("settings.survey_content"),
                 lambda: render_page(PAGE, QUESTIONS, **_context(survey)), category)


def _questions_invalid(survey: Survey, **forms):
    return refused(PAGE, QUESTIONS, lambda: _context(survey, **forms))


def _refused(form: QuestionForm, error: RuleError) -> QuestionForm:
    """The question form with the service's messages next to their fields (others next to the prompt)."""
    place_error(form, error, default_field="prompt")
    return form


@bp.get("/survey-content")
@view_settings
def survey_content():
    return render_page(PAGE, **_context(default_survey()))


@bp.post("/survey-content")
@change_settings
def save_survey_texts():
    survey = default_survey()
    form = SurveyTextsForm()
    if not form.validate_on_submit():
        return refused(PAGE, TEXTS, lambda: _context(survey, texts_form=form))
    changed = services.update_survey_texts(survey, form.values())
    return saved("Survey texts saved." if changed else "Nothing to save: the survey texts are unchanged.",
                 url_for("settings.survey_content"), lambda: render_page(PAGE, TEXTS, **_context(survey)),
                 "success" if changed else "info")


@bp.post("/survey-content/sender")
@change_settings
def save_survey_sender():
    survey = default_survey()
    form = SenderForm(prefix="sender")
    if not form.validate_on_submit():
        return refused(PAGE, SENDER, lambda: _context(survey, sender_form=form))
    changed = settings_services.update_sender(settings_services.get_settings(), sender_name=form.sender_name.data,
                                              reply_to_address=form.reply_to_address.data)
    return saved("Sender saved." if changed else "Nothing to save: the sender is unchanged.",
                 url_for("settings.survey_content"), lambda: render_page(PAGE, SENDER, **_context(survey)),
                 "success" if changed else "info")


@bp.get("/survey-content/questions")
@view_settings
def survey_questions():
    """The extra-questions region (htmx "Cancel" of an edit); without htmx, the whole page."""
    return render_page(PAGE, QUESTIONS, **_context(default_survey()))


@bp.post("/survey-content/questions")
@change_settings
def add_survey_question():
    survey = default_survey()
    form = _new_form(request.form)
    if not form.validate_on_submit():
        return _questions_invalid(survey, new_form=form)
    try:
        question = services.add_question(survey, **form.values())
    except RuleError as error:
        return _questions_invalid(survey, new_form=_refused(form, error))
    return _questions_done(survey, f"Question added: “{question.prompt}”.")


@bp.get("/survey-content/questions/<int:question_id>/edit")
@change_settings
def edit_survey_question(question_id: int):
    question = get_or_404(SurveyQuestion, question_id)
    survey = default_survey()
    if question.retired_at is not None:
        flash("Bring the question back before editing it.", "info")
        return render_page(PAGE, QUESTIONS, **_context(survey))
    return render_page(PAGE, QUESTIONS, **_context(survey, edit_form=_edit_form(question)))


@bp.post("/survey-content/questions/<int:question_id>")
@change_settings
def update_survey_question(question_id: int):
    question = get_or_404(SurveyQuestion, question_id)
    survey = default_survey()
    form = _edit_form(question, request.form)
    if not form.validate_on_submit():
        return _questions_invalid(survey, edit_form=form)
    try:
        changed = services.edit_question(question, **form.values())
    except RuleError as error:
        return _questions_invalid(survey, edit_form=_refused(form, error))
    if not changed:
        return _questions_done(survey, "Nothing to save: the question is unchanged.", "info")
    return _questions_done(survey, f"Question saved: “{question.prompt}”.")


@bp.post("/survey-content/questions/<int:question_id>/move")
@change_settings
def move_survey_question(question_id: int):
    question = get_or_404(SurveyQuestion, question_id)
    survey = default_survey()
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        return _questions_done(survey, "Choose whether to move the question up or down.", "error")
    if not services.move_question(question, direction):
        return _questions_done(survey, f"The question is already {'first' if direction == 'up' else 'last'}.",
                               "info")
    return _questions_done(survey, f"Question moved {direction}: “{question.prompt}”.")


@bp.post("/survey-content/questions/<int:question_id>/retire")
@change_settings
def retire_survey_question(question_id: int):
    question = get_or_404(SurveyQuestion, question_id)
    survey = default_survey()
    if not services.retire_question(question):
        return _questions_done(survey, "That question was already retired.", "info")
    return _questions_done(survey, f"Question retired: “{question.prompt}”. Its answers are kept.")


@bp.post("/survey-content/questions/<int:question_id>/restore")
@change_settings
def restore_survey_question(question_id: int):
    question = get_or_404(SurveyQuestion, question_id)
    survey = default_survey()
    if not services.restore_question(question):
        return _questions_done(survey, "That question is already in use.", "info")
    return _questions_done(survey, f"Question back in use: “{question.prompt}”.")


@bp.post("/survey-content/questions/<int:question_id>/delete")
@change_settings
def delete_survey_question(question_id: int):
    question = get_or_404(SurveyQuestion, question_id)
    survey = default_survey()
    prompt = question.prompt
    try:
        services.delete_question(question)
    except RuleError as error:
        return _questions_done(survey, str(error), "error")
    return _questions_done(survey, f"Question deleted: “{prompt}”.")
