"""Settings section: feedback themes (the list responses are tagged with in the inbox) and the recovery
re-survey (on or off, and how many days after a ticket closes its contact is asked again)."""
from __future__ import annotations

from flask import url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from app import audit
from app.extensions import db
from app.feedback.models import Theme
from app.forms import NumberField
from app.settings.routes import bp, change_settings, view_settings
from app.settings.services import get_settings
from app.tenancy import Role, current_membership, get_or_404
from app.timeutil import utcnow
from app.views import refused, render_page, saved

PAGE, FRAGMENT = "settings/feedback.html", "settings/_feedback.html"
RECOVERY_FIELDS = ["resurvey_enabled", "resurvey_delay_days"]


class ThemeForm(FlaskForm):
    label = StringField("Theme", validators=[InputRequired("Name the theme."), Length(max=80)])


class RecoveryForm(FlaskForm):
    resurvey_enabled = BooleanField("Re-survey the contact after a ticket closes")
    resurvey_delay_days = NumberField(
        "Days after closing", validators=[InputRequired("Give a number of days."),
                                          NumberRange(1, 365, "Choose between 1 and 365 days.")])


def _context(theme_form: ThemeForm | None = None, recovery_form: RecoveryForm | None = None) -> dict:
    return {
        "themes": list(db.session.execute(select(Theme).order_by(Theme.retired_at.is_not(None), Theme.label)).scalars()),
        "theme_form": theme_form or ThemeForm(prefix="theme", formdata=None),
        "recovery_form": recovery_form or RecoveryForm(prefix="recovery", formdata=None, obj=get_settings()),
        "can_change": current_membership.role == Role.ADMIN,
    }


def _saved(message: str):
    return saved(message, url_for("settings.feedback"), lambda: render_page(PAGE, FRAGMENT, **_context()))


@bp.get("/feedback")
@view_settings
def feedback():
    return render_page(PAGE, FRAGMENT, **_context())


@bp.post("/feedback/themes")
@change_settings
def add_theme():
    form = ThemeForm(prefix="theme")
    if form.validate_on_submit():
        label = form.label.data.strip()
        taken = db.session.execute(select(Theme.id).where(func.lower(Theme.label) == label.lower())).first()
        if taken is None and label:
            db.session.add(Theme(label=label))
            audit.record("themes", f"Added the theme “{label}”")
            return _saved(f"Theme “{label}” added.")
        form.label.errors = [*form.label.errors, "There is already a theme with this name." if label else "Name the theme."]
    return refused(PAGE, FRAGMENT, lambda: _context(theme_form=form))


@bp.post("/feedback/themes/<int:theme_id>/retire")
@change_settings
def retire_theme(theme_id: int):
    theme = get_or_404(Theme, theme_id)
    if theme.retired_at is None:
        theme.retired_at = utcnow()
        audit.record("themes", f"Retired the theme “{theme.label}”")
    return _saved(f"Theme “{theme.label}” retired.")


@bp.post("/feedback/themes/<int:theme_id>/restore")
@change_settings
def restore_theme(theme_id: int):
    theme = get_or_404(Theme, theme_id)
    if theme.retired_at is not None:
        theme.retired_at = None
        audit.record("themes", f"Brought back the theme “{theme.label}”")
    return _saved(f"Theme “{theme.label}” brought back.")


@bp.post("/feedback/recovery")
@change_settings
def save_recovery():
    settings = get_settings()
    form = RecoveryForm(prefix="recovery")
    if not form.validate_on_submit():
        return refused(PAGE, FRAGMENT, lambda: _context(recovery_form=form))
    before = audit.snapshot(settings, RECOVERY_FIELDS)
    settings.resurvey_enabled = form.resurvey_enabled.data
    settings.resurvey_delay_days = form.resurvey_delay_days.data
    audit.record("recovery", "Changed the recovery re-survey", audit.diff(before, audit.snapshot(settings, RECOVERY_FIELDS)))
    return _saved("Recovery re-survey saved.")
