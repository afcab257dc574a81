from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import TENANT_KINDS
from app.forms import SingleLine, StrongPassword, email_validator, strip
from app.timeutil import common_timezones


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address.")], filters=[strip])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])


class SignupForm(FlaskForm):
    organisation = StringField(
        "Organisation name",
        validators=[DataRequired(message="Enter your organisation's name."), Length(max=120), SingleLine()],
        filters=[strip],
    )
    kind = SelectField("Kind of organisation", choices=list(TENANT_KINDS.items()), default="billing")
    timezone = SelectField("Timezone", default="America/New_York")
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=120), SingleLine()],
                       filters=[strip])
    email = EmailField(
        "Work email", validators=[DataRequired(message="Enter your email address."), email_validator()], filters=[strip]
    )
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password."), StrongPassword()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = common_timezones()


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=120), SingleLine()],
                       filters=[strip])
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password."), StrongPassword()])
