from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired

from app.forms import email_validator, strip
from app.tenancy import ROLE_LABELS


class InviteForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired(message="Enter their email address."), email_validator()], filters=[strip]
    )
    role = SelectField("Role", choices=list(ROLE_LABELS.items()), default="agent")
