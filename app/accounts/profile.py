"""My profile: every member edits their own name, job title, phone and email signature.

Emails sent on a member's behalf use them: ``{agent.title}``, ``{agent.phone}``, ``{agent.signature}`` and the
account merge fields of :mod:`app.emailtemplates`.
"""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.accounts.models import User
from app.extensions import db
from app.forms import SingleLine, strip
from app.views import refused, render_page, saved

bp = Blueprint("profile", __name__, url_prefix="/t/<tenant_slug>/profile")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Enter your name."), Length(max=120), SingleLine()],
                       filters=[strip])
    job_title = StringField("Job title", validators=[Optional(), Length(max=120), SingleLine()], filters=[strip],
                            description="For example Business analyst or Director of customer success.")
    phone = TelField("Phone", validators=[Optional(), Length(max=40), SingleLine()], filters=[strip],
                     description="The number customers can call you on.")
    email_signature = TextAreaField("Email signature", validators=[Optional(), Length(max=2000)], filters=[strip],
                                    description="Added where an email template uses {agent.signature}.")


PROFILE_FIELDS = ("name", "job_title", "phone", "email_signature")


def update_profile(user: User, *, name: str, job_title: str | None, phone: str | None,
                   email_signature: str | None) -> bool:
    """Change the member's own profile; returns whether anything changed."""
    values = {"name": name.strip(), "job_title": (job_title or "").strip() or None,
              "phone": (phone or "").strip() or None, "email_signature": (email_signature or "").strip() or None}
    changed = any(getattr(user, key) != value for key, value in values.items())
    for key, value in values.items():
        setattr(user, key, value)
    db.session.flush()
    return changed


@bp.route("/", methods=["GET", "POST"])
def edit():
    user = db.session.get(User, current_user.id)
    form = ProfileForm(formdata=request.form if request.method == "POST" else None,
                       data={key: getattr(user, key) for key in PROFILE_FIELDS} if request.method == "GET" else None)
    if form.validate_on_submit():
        changed = update_profile(user, **{key: form[key].data for key in PROFILE_FIELDS})
        return saved("Profile saved." if changed else "Nothing changed.", url_for("profile.edit"))
    if request.method == "POST":
        return refused("accounts/profile.html", None, lambda: {"form": form})
    return render_page("accounts/profile.html", form=form)
