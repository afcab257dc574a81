"""Forms of the Scoring and Survey content settings. The rules themselves live in ``app.surveys.services``;
each form runs them in ``validate`` so every message lands next to its field."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import email_validator, strip
from app.surveys.models import BAND_LABELS, QUESTION_KINDS
from app.surveys.services import question_errors, scoring_errors, text_errors

TEXT_MAX = 1000
PROMPT_MAX = 500


class WholeNumberField(IntegerField):
    """An integer field whose message for "abc" or "6.5" names the field."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = (valuelist[0] or "").strip()
        if raw == "":
            self.data = None
            if valuelist[0]:  # spaces alone pass InputRequired, which sees only the raw value
                raise ValueError(f"Enter the {self.description}.")
            return
        try:
            self.data = int(raw)
        except ValueError:
            self.data = None
            raise ValueError(f"The {self.description} must be a whole number.")


def _number(label: str, name: str) -> WholeNumberField:
    return WholeNumberField(label, description=name, validators=[InputRequired(message=f"Enter the {name}.")],
                            render_kw={"min": 0, "max": 10, "step": 1})


def _attach(form: FlaskForm, errors: dict[str, str]) -> bool:
    for name, message in errors.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    return not errors


class ScoringForm(FlaskForm):
    detractor_max = _number("Detractor max", "detractor max")
    passive_max = _number("Passive max", "passive max")
    ticket_trigger_max = _number("Open a ticket when the score is at most", "ticket trigger")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if any(value is None for value in self.values().values()):
            return False
        errors = {name: message for name, message in scoring_errors(**self.values()).items()
                  if not getattr(self, name).errors}
        return _attach(self, errors) and valid

    def values(self) -> dict[str, int]:
        return {"detractor_max": self.detractor_max.data, "passive_max": self.passive_max.data,
                "ticket_trigger_max": self.ticket_trigger_max.data}


def _text(label: str, maximum: int = TEXT_MAX) -> TextAreaField:
    return TextAreaField(label, filters=[strip], validators=[Length(max=maximum, message=(
        f"Keep the {label[0].lower() + label[1:]} under {maximum:,} characters."))])


class SurveyTextsForm(FlaskForm):
    question = _text("Main question", PROMPT_MAX)
    followup_detractor = _text("Follow-up question for detractors")
    thanks_detractor = _text("Thank-you text for detractors")
    followup_passive = _text("Follow-up question for passives")
    thanks_passive = _text("Thank-you text for passives")
    followup_promoter = _text("Follow-up question for promoters")
    thanks_promoter = _text("Thank-you text for promoters")

    TEXT_FIELDS = ("question", "followup_detractor", "followup_passive", "followup_promoter",
                   "thanks_detractor", "thanks_passive", "thanks_promoter")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        errors = {name: message for name, message in text_errors(self.values()).items()
                  if not getattr(self, name).errors}
        return _attach(self, errors) and valid

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in self.TEXT_FIELDS}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class QuestionForm(FlaskForm):
    """Adding or editing one extra question. ``question`` is the row being edited, if any."""

    kind = RadioField("Answered with", choices=list(QUESTION_KINDS.items()), default="yes_no", validate_choice=False)
    prompt = StringField("Question", filters=[strip], validators=[Length(max=PROMPT_MAX, message=(
        f"Keep the question under {PROMPT_MAX} characters."))])
    bands = MultiCheckboxField("Shown to", choices=list(BAND_LABELS.items()), validate_choice=False,
                               default=list(BAND_LABELS))
    opens_ticket_on_no = BooleanField("Open a ticket when the answer is No (yes / no questions only)")

    def __init__(self, *args, question=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.question = question

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        errors = question_errors(question=self.question, **self.values())
        errors = {name: message for name, message in errors.items() if not getattr(self, name).errors}
        return _attach(self, errors) and valid

    def values(self) -> dict:
        return {"kind": self.kind.data or "", "prompt": self.prompt.data or "", "bands": list(self.bands.data or []),
                "opens_ticket_on_no": bool(self.opens_ticket_on_no.data)}


SENDER_NAME_MAX = 120
# A display name that looks like an address, or breaks the header, would mislead or be refused.
SENDER_NAME_REFUSED = set('<>@"\\') | {chr(c) for c in range(32)} | {chr(127)}


class SenderForm(FlaskForm):
    """Who survey invitations come from: a display name and a Reply-To address (both optional)."""

    sender_name = StringField(
        "Sender name", filters=[strip],
        validators=[Optional(), Length(max=SENDER_NAME_MAX, message=f"Use at most {SENDER_NAME_MAX} characters.")],
    )
    reply_to_address = EmailField(
        "Reply-to address", filters=[strip], validators=[Optional(), email_validator(), Length(max=254)],
    )

    def validate_sender_name(self, field) -> None:
        if field.data and SENDER_NAME_REFUSED & set(field.data):
            raise ValidationError("Use a plain name, without an email address, quotes, < > or @.")

    @staticmethod
    def initial(settings) -> dict:
        return {"sender_name": settings.sender_name or "", "reply_to_address": settings.reply_to_address or ""}
