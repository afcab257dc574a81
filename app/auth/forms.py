from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import TENANT_KINDS
from app.forms import SingleLine, StrongPassword, email_validator, strip
from app.security import PASSWORD_HINT
from app.timezones import TimezoneField

ENTER_EMAIL = "Enter your email address."


def new_password_field(label: str = "Password") -> PasswordField:
    """A password being chosen: the password rules, their hint, and the browser's password-manager hint."""
    return PasswordField(label, validators=[DataRequired(message="Choose a password."), StrongPassword()],
                         description=PASSWORD_HINT, render_kw={"autocomplete": "new-password"})


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message=ENTER_EMAIL)], filters=[strip],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")],
                             render_kw={"autocomplete": "current-password"})


class SignupForm(FlaskForm):
    organisation = StringField(
        "Organisation name",
        validators=[DataRequired(message="Enter your organisation's name."), Length(max=120), SingleLine()],
        filters=[strip], render_kw={"autocomplete": "organization"},
    )
    kind = SelectField("Kind of organisation", choices=list(TENANT_KINDS.items()), default="billing",
                       description="Sets how you start; every setting can be changed later. Clinics email a "
                                   "detractor once and don't chase non-responders; clinics and patient-support "
                                   "programmes send PHI-safe alerts; programmes' alerts carry the patient's "
                                   "external id.")
    timezone = TimezoneField("Timezone", default="America/New_York")
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=120),
                                                SingleLine()], filters=[strip], render_kw={"autocomplete": "name"})
    email = EmailField("Work email", validators=[DataRequired(message=ENTER_EMAIL), email_validator()],
                       filters=[strip], render_kw={"autocomplete": "email"})
    password = new_password_field()


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=120),
                                                SingleLine()], filters=[strip], render_kw={"autocomplete": "name"})
    password = new_password_field()


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message=ENTER_EMAIL), email_validator()], filters=[strip],
                       render_kw={"autocomplete": "email"})


class ResetPasswordForm(FlaskForm):
    password = new_password_field("New password")
