"""Forms of Settings → Integrations: connecting a source, and its settings (fields depend on the kind)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from app.integrations.models import KINDS
from app.integrations.services import credential_fields, setting_fields


class NewIntegrationForm(FlaskForm):
    kind = SelectField("Source", choices=[("", "Choose a survey tool…"), *KINDS.items()],
                       validators=[InputRequired("Choose the survey tool to connect.")],
                       invalid_choice_message="Choose one of the sources listed.")
    name = StringField("Name", validators=[Length(max=120, message="Keep the name under 120 characters.")])


def settings_form(kind: str, *args, **kwargs) -> FlaskForm:
    """The settings form of an integration of ``kind``: name, on/off, each credential (a password field that is
    left blank to keep the stored value) and each setting, as ``cred_<name>`` and ``set_<name>``."""

    class IntegrationSettingsForm(FlaskForm):
        name = StringField("Name", validators=[Length(max=120, message="Keep the name under 120 characters.")])
        enabled = BooleanField("Receiving (turn off to refuse deliveries and stop polling)")

    for key, label in credential_fields(kind):
        setattr(IntegrationSettingsForm, f"cred_{key}", PasswordField(label, validators=[Length(max=500)]))
    for key, label, _default in setting_fields(kind):
        setattr(IntegrationSettingsForm, f"set_{key}", StringField(label, validators=[Length(max=300)]))
    return IntegrationSettingsForm(*args, **kwargs)


def credentials_from(form) -> dict[str, str]:
    return {name[5:]: field.data for name, field in form._fields.items() if name.startswith("cred_")}


def settings_from(form) -> dict[str, str]:
    return {name[4:]: field.data for name, field in form._fields.items() if name.startswith("set_")}
