"""Settings section: survey throttling (how often one contact may be surveyed)."""
from __future__ import annotations

from flask import url_for
from flask_wtf import FlaskForm
from wtforms import SelectField

from app import audit
from app.settings.models import THROTTLE_CHOICES
from app.settings.routes import bp, change_settings, view_settings
from app.settings.services import get_settings
from app.views import refused, render_page, saved

PAGE, FRAGMENT = "settings/throttling.html", "settings/_throttling.html"


def _label(days: int) -> str:
    return "No limit: a contact may be surveyed any time" if days == 0 else f"{days} days"


class ThrottleForm(FlaskForm):
    survey_throttle_days = SelectField(
        "Do not survey a contact again within", coerce=int,
        choices=[(days, _label(days)) for days in THROTTLE_CHOICES],
        invalid_choice_message="Choose one of the periods listed.",
    )


@bp.get("/throttling")
@view_settings
def throttling():
    form = ThrottleForm(obj=get_settings())
    return render_page(PAGE, FRAGMENT, form=form)


@bp.post("/throttling")
@change_settings
def save_throttling():
    settings = get_settings()
    form = ThrottleForm()
    if not form.validate_on_submit():
        return refused(PAGE, FRAGMENT, lambda: {"form": form})
    before = audit.snapshot(settings, ["survey_throttle_days"])
    settings.survey_throttle_days = form.survey_throttle_days.data
    audit.record("throttling", "Changed survey throttling",
                 audit.diff(before, audit.snapshot(settings, ["survey_throttle_days"])))
    return saved("Survey throttling saved.", url_for("settings.throttling"),
                 lambda: render_page(PAGE, FRAGMENT, form=ThrottleForm(obj=settings, formdata=None)))
