from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectMultipleField, StringField, TelField
from wtforms.validators import DataRequired, Length, Optional

from app.forms import SingleLine, email_validator, row_id, strip


class ContactForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired(message="Enter the contact's name."), Length(max=120), SingleLine()],
        filters=[strip],
    )
    email = EmailField(
        "Email address",
        validators=[DataRequired(message="Enter the contact's email address."), email_validator(), Length(max=254)],
        filters=[strip],
    )
    phone = TelField("Phone", validators=[Optional(), Length(max=40)], filters=[strip])
    # The account's name: an existing account of that name is used, else one is created; blank for none.
    account = StringField("Account", validators=[Optional(), Length(max=160), SingleLine()], filters=[strip],
                          description="Type the name of the company, practice or programme; a new name adds it. "
                                      "Leave empty for none.")
    # Rendered as one label-wrapped checkbox per role (see contacts/_contact_form.html).
    roles = SelectMultipleField(
        "Recipient roles", coerce=row_id,
        invalid_value_message="Choose from the roles listed.", invalid_choice_message="Choose from the roles listed.",
    )
    external_id = StringField(
        "External ID", validators=[Optional(), Length(max=80)], filters=[strip],
        description="An identifier from another system, such as a patient or account number.",
    )

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.roles.choices = [(role.id, role.name) for role in roles]

    @staticmethod
    def initial(contact) -> dict:
        """Form data for editing ``contact``; only roles still in use are offered as checkboxes."""
        return {
            "name": contact.name, "email": contact.email, "phone": contact.phone,
            "account": contact.account.name if contact.account else None, "external_id": contact.external_id,
            "roles": [role.id for role in contact.roles if role.retired_at is None],
        }

    def contact_fields(self) -> dict:
        return {
            "name": self.name.data, "email": self.email.data, "phone": self.phone.data,
            "account": self.account.data, "external_id": self.external_id.data,
            "role_ids": self.roles.data or [],
        }
