from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, ValidationError
from wtforms.validators import InputRequired

from app.forms import row_id

# The send page has two forms posting to the same URL; a hidden ``recipients`` input says which.
BY_CONTACTS = "contacts"
BY_ROLE = "role"
MAX_CHOSEN = 200
CHOOSE_ROLE = "Choose one of the recipient roles listed."


class SendToContactsForm(FlaskForm):
    # Any id may be posted (the list may have been filtered); the route keeps only the tenant's own contacts.
    contact_ids = SelectMultipleField(
        "Contacts", coerce=row_id, validate_choice=False, invalid_value_message="Choose contacts from the list.",
    )

    def validate_contact_ids(self, field):
        if not field.data:
            raise ValidationError("Choose at least one contact to send the survey to.")
        if len(set(field.data)) > MAX_CHOSEN:
            raise ValidationError(
                f"Choose at most {MAX_CHOSEN} contacts at a time, or send to everyone with a recipient role."
            )


class SendToRoleForm(FlaskForm):
    role_id = SelectField(
        "Recipient role", coerce=row_id, validators=[InputRequired(message=CHOOSE_ROLE)],
        invalid_value_message=CHOOSE_ROLE, invalid_choice_message=CHOOSE_ROLE,
    )

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role_counts = {role.id: (role, count) for role, count in roles}
        self.role_id.choices = [
            (role.id, f"{role.name} ({count} contact{'' if count == 1 else 's'})") for role, count in roles
        ]

    def validate_role_id(self, field):
        role, count = self.role_counts.get(field.data, (None, 0))
        if role is not None and count == 0:
            raise ValidationError(f"No contact has the role {role.name} yet.")

    @property
    def role(self):
        return self.role_counts.get(self.role_id.data, (None, 0))[0]
