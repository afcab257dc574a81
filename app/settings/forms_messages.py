"""Forms for the messaging settings: notification lists, PHI-safe alerts and email templates."""
from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app import emailtemplates
from app.accounts.models import User
from app.forms import row_id, strip
from app.settings.models import NOTIFICATION_EVENTS
from app.tenancy import ROLE_LABELS, ROLES
from app.tickets.forms import choices

MAX_ADDRESSES = 50
_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def split_addresses(raw: str | None) -> list[str]:
    """Addresses typed one per line, or separated by commas, semicolons or spaces."""
    return [part for part in _ADDRESS_SEPARATORS.split(raw or "") if part]


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes; templates render it as a fieldset with one labelled box per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        if self.data:
            values = {choice[0] if isinstance(choice, tuple) else choice.value for choice in self.choices}
            for value in self.data:
                if value not in values:
                    raise ValidationError(self.gettext("Choose from the options shown."))


class NotificationListForm(FlaskForm):
    """``member_ids`` choices are the organisation's active members, set by the view with :meth:`set_members`."""

    name = StringField("List name", validators=[DataRequired(message="Give the list a name."), Length(max=120)],
                       filters=[strip])
    events = CheckboxesField("Events this list hears about", choices=choices(NOTIFICATION_EVENTS))
    roles = CheckboxesField("Everyone with these roles", choices=choices((r, ROLE_LABELS[r]) for r in ROLES))
    member_ids = CheckboxesField("These members", coerce=row_id, choices=[])
    addresses = TextAreaField("Outside email addresses", validators=[Length(max=5000)], filters=[strip],
                              description="One per line, or separated by commas.")

    def set_members(self, members: list[User]) -> None:
        self.member_ids.choices = choices((user.id, f"{user.name} ({user.email})") for user in members)

    def validate_events(self, field):
        if not field.data:
            raise ValidationError("Choose at least one event this list hears about.")

    def validate_addresses(self, field):
        addresses = split_addresses(field.data)
        if len(addresses) > MAX_ADDRESSES:
            raise ValidationError(f"A list can have at most {MAX_ADDRESSES} outside addresses.")
        bad = []
        for address in addresses:
            try:
                validate_email(address, check_deliverability=False)
            except EmailNotValidError:
                bad.append(address)
        if bad:
            shown = ", ".join(f"“{a}”" for a in bad[:5])
            raise ValidationError(f"Not a valid email address: {shown}. Write addresses like name@example.com.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and not (self.roles.data or self.member_ids.data or split_addresses(self.addresses.data)):
            self.roles.errors = [*self.roles.errors, "Choose at least one role, member or outside address to send to."]
            valid = False
        return valid

    @property
    def address_list(self) -> list[str]:
        return split_addresses(self.addresses.data)


class PhiSafeForm(FlaskForm):
    phi_safe_alerts = BooleanField("PHI-safe alerts: send only the ticket reference, band, due time and a sign-in link",
                                   render_kw={"role": "switch"})
    alert_external_id = BooleanField("PHI-safe alerts may carry the contact's external id",
                                     render_kw={"role": "switch"})


class EmailTemplateForm(FlaskForm):
    """Subject and body of one template; ``key`` says which merge fields are allowed."""

    subject = StringField("Subject", validators=[DataRequired(message="Write a subject."), Length(max=300)],
                          filters=[strip])
    body = TextAreaField("Body", validators=[DataRequired(message="Write the email's body."), Length(max=20000)],
                         filters=[strip])

    def __init__(self, key: str, *args, **kwargs):
        self.key = key
        super().__init__(*args, **kwargs)

    def validate_subject(self, field):
        message = emailtemplates.unknown_fields_message(field.data, self.key)
        if message:
            raise ValidationError(message)

    def validate_body(self, field):
        message = emailtemplates.unknown_fields_message(field.data, self.key)
        if message:
            raise ValidationError(message)
