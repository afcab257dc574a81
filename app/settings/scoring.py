"""Settings section: scoring. The score bands (detractor and passive upper bounds) and the ticket trigger.

The form checks itself as the admin edits it (htmx posts it to ``check_scoring`` on every change, which
saves nothing), saves without a reload through htmx, and works as a plain form too.
"""
from __future__ import annotations

from flask import url_for

from app.settings.forms_survey import ScoringForm
from app.settings.routes import bp, change_settings, view_settings
from app.surveys.models import Survey
from app.surveys.services import band_summary, default_survey, update_scoring
from app.tenancy import Role, current_membership
from app.views import refused, render_page, saved

PAGE, FRAGMENT = "settings/scoring.html", "settings/_scoring_form.html"


def _context(form: ScoringForm, survey: Survey, *, checked: bool = False) -> dict:
    """What the page shows: the form, and the bands as saved or, while editing, as the form would make them."""
    saved = band_summary(survey.detractor_max, survey.passive_max, survey.ticket_trigger_max)
    proposed = band_summary(**form.values()) if checked and not any(
        f.errors for f in (form.detractor_max, form.passive_max, form.ticket_trigger_max)) else None
    return {"form": form, "saved_summary": saved, "proposed_summary": proposed,
            "can_change": current_membership.role == Role.ADMIN}


@bp.get("/scoring")
@view_settings
def scoring():
    survey = default_survey()
    return render_page(PAGE, FRAGMENT, **_context(ScoringForm(formdata=None, obj=survey), survey))


@bp.post("/scoring/check")
@change_settings
def check_scoring():
    """Validate the form as it stands and show the bands it would give; nothing is saved."""
    survey = default_survey()
    form = ScoringForm()
    valid = form.validate_on_submit()
    return render_page(PAGE, FRAGMENT, status=200 if valid else 422, **_context(form, survey, checked=True))


@bp.post("/scoring")
@change_settings
def save_scoring():
    survey = default_survey()
    form = ScoringForm()
    if not form.validate_on_submit():
        return refused(PAGE, FRAGMENT, lambda: _context(form, survey, checked=True))
    changed = update_scoring(survey, **form.values())
    message = (f"Scoring saved: {band_summary(**form.values())}." if changed
               else "Nothing to save: the scoring is unchanged.")
    return saved(message, url_for("settings.scoring"),
                 lambda: render_page(PAGE, FRAGMENT, **_context(ScoringForm(formdata=None, obj=survey), survey)),
                 "success" if changed else "info")
