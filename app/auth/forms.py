from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import TENANT_KINDS
from app.forms import StrongPassword, email_validator, strip
from app.timezones import TimezoneField


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address.")], filters=[strip])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])


class SignupForm(FlaskForm):
    organisation = StringField(
        "Organisation name",
        validators=[DataRequired(message="Enter your organisation's name."), Length(max=120)],
        filters=[strip],
    )
    kind = SelectField("Kind of organisation", choices=list(TENANT_KINDS.items()), default="billing")
    timezone = TimezoneField("Timezone", default="America/New_York")
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=120)], filters=[strip])
    email = EmailField(
        "Work email", validators=[DataRequired(message="Enter your email address."), email_validator()], filters=[strip]
    )
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password."), StrongPassword()])


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=120)], filters=[strip])
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password."), StrongPassword()])
