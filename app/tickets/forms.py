"""Forms for the actions on a ticket page. Every field has a visible label and a plain-language error.

Each carries a one-time submission key (:class:`~app.submissions.OnceForm`), so a double post does its work once."""
from __future__ import annotations

from wtforms import BooleanField, EmailField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import SingleLine, email_validator, strip
from app.notifications.personal import TEMPLATES
from app.submissions import OnceForm
from app.settings.services import active_root_causes
from app.tickets.models import CALL_OUTCOMES, EMAIL_DIRECTIONS, OUTCOMES, STATUSES, Status

try:  # WTForms 3.3+ wants SelectChoice; older versions take (value, label) tuples.
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover
    SelectChoice = None


def choices(pairs) -> list:
    """``(value, label)`` pairs in whatever form the installed WTForms prefers."""
    pairs = list(pairs.items() if isinstance(pairs, dict) else pairs)
    if SelectChoice is None:  # pragma: no cover
        return pairs
    return [SelectChoice(value, label) for value, label in pairs]


WORKING_STATUSES = {key: label for key, label in STATUSES.items() if key != Status.CLOSED}


def _int_or_none(value):
    return None if value in (None, "") else int(value)


class ChoiceField(SelectField):
    """A select whose empty value is left to the "required" validator, so the user sees one clear message."""

    def pre_validate(self, form):
        if self.data in (None, ""):
            return
        super().pre_validate(form)


class CallForm(OnceForm):
    called = StringField("Who did you call?", validators=[Optional(), Length(max=120)], filters=[strip])
    outcome = ChoiceField(
        "How did the call go?", choices=choices([("", "Choose…"), *CALL_OUTCOMES.items()]), default="",
        validators=[DataRequired(message="Choose how the call went.")],
        invalid_choice_message="Choose how the call went.",
    )
    notes = TextAreaField("Call notes", validators=[Optional(), Length(max=5000)], filters=[strip])


class EmailForm(OnceForm):
    direction = ChoiceField(
        "Direction", choices=choices(EMAIL_DIRECTIONS), default="outbound",
        validators=[DataRequired(message="Choose whether the email was sent or received.")],
        invalid_choice_message="Choose whether the email was sent or received.",
    )
    subject = StringField(
        "Subject", validators=[DataRequired(message="Enter the email's subject."), Length(max=200)], filters=[strip]
    )
    summary = TextAreaField("Summary", validators=[Optional(), Length(max=5000)], filters=[strip])


class CheckboxesField(SelectMultipleField):
    """A choice of several, shown as a list of checkboxes (one click each, no Ctrl-click)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


EMAIL_SUBJECT_MAX = 200
EMAIL_BODY_MAX = 10000


class ComposeForm(OnceForm):
    """A personal email to the contact, sent from the agent. ``cc`` choices are the other contacts at the
    account, set by the view; the subject and body start from the template named in ``template``."""

    template = HiddenField(default="second_outreach")
    to = EmailField(
        "To", validators=[DataRequired(message="Enter the address to send it to."), email_validator(),
                          Length(max=254)], filters=[strip],
    )
    cc = CheckboxesField(
        "Copy others at the account", coerce=int, choices=[],
        invalid_value_message="Copy only people at the contact's account.",
        invalid_choice_message="Copy only people at the contact's account.",
    )
    subject = StringField(
        "Subject", validators=[DataRequired(message="Enter the email's subject."), Length(max=EMAIL_SUBJECT_MAX),
                               SingleLine()], filters=[strip],
    )
    body = TextAreaField(
        "Message", validators=[DataRequired(message="Write the email before sending it."),
                               Length(max=EMAIL_BODY_MAX)], filters=[strip], render_kw={"rows": 10},
    )

    def set_copies(self, contacts) -> None:
        self.cc.choices = choices([(contact.id, f"{contact.name} <{contact.email}>") for contact in contacts])

    def validate_template(self, field) -> None:
        if field.data not in TEMPLATES:
            field.data = "second_outreach"


class NoteForm(OnceForm):
    body = TextAreaField(
        "Note", validators=[DataRequired(message="Write the note before adding it."), Length(max=5000)], filters=[strip]
    )


class ReassignForm(OnceForm):
    """``assignee_id`` choices are the tenant's active working members, set by the view."""

    assignee_id = ChoiceField(
        "Assign to", coerce=_int_or_none,
        validators=[InputRequired(message="Choose who should work this ticket.")],
        invalid_value_message="Choose who should work this ticket.",
        invalid_choice_message="Choose an active admin, manager or agent.",
    )

    def set_members(self, members, current_id: int | None = None) -> None:
        """Offer ``members``; when the current assignee is not one of them, nobody is preselected."""
        pairs = [(user.id, user.name) for user in members]
        if current_id not in {user_id for user_id, _ in pairs}:
            pairs.insert(0, ("", "Choose a team member…"))
        self.assignee_id.choices = choices(pairs)


class StatusForm(OnceForm):
    status = ChoiceField(
        "Move to", choices=choices(WORKING_STATUSES),
        validators=[DataRequired(message="Choose New, Contacted, Action plan or Waiting on customer.")],
        invalid_choice_message="Choose New, Contacted, Action plan or Waiting on customer.",
    )


class CloseForm(OnceForm):
    """The root-cause choices are the organisation's active codes, loaded when the form is made."""

    outcome = ChoiceField(
        "Outcome", choices=choices([("", "Choose an outcome…"), *OUTCOMES.items()]), default="",
        validators=[DataRequired(message="Choose an outcome.")],
        invalid_choice_message="Choose an outcome.",
    )
    root_causes = CheckboxesField(
        "Root causes", coerce=int,
        validators=[DataRequired(message="Choose at least one root cause.")],
        invalid_value_message="Choose root causes from the list.",
        invalid_choice_message="Choose root causes from the list.",
    )
    note = TextAreaField(
        "Closing note", validators=[DataRequired(message="Write a closing note."), Length(max=5000)], filters=[strip]
    )
    override_reason = TextAreaField(
        "Reason for closing as resolved with action-plan items open",
        validators=[Optional(), Length(max=2000)], filters=[strip],
    )
    send_followup = BooleanField("Send the closing follow-up email to the contact")
    followup_subject = StringField(
        "Follow-up subject", validators=[Optional(), Length(max=EMAIL_SUBJECT_MAX), SingleLine()], filters=[strip],
    )
    followup_body = TextAreaField(
        "Follow-up message", validators=[Optional(), Length(max=EMAIL_BODY_MAX)], filters=[strip],
        render_kw={"rows": 7},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root_causes.choices = choices([(cause.id, cause.label) for cause in active_root_causes()])
