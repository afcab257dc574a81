"""Settings section: the outreach cadence (how many calls and emails before a detractor counts as not responding).

New tickets copy the cadence as tasks when they open, so a change applies to tickets opened afterwards. A
cadence may plan nothing after the introduction email (0 calls, at most 1 email): the PT clinic's "do not
follow up with patients who do not respond to the initial request".
"""
from __future__ import annotations

from flask import url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import InputRequired, NumberRange

from app import audit
from app.forms import NumberField
from app.settings.routes import bp, change_settings, view_settings
from app.settings.services import get_settings
from app.views import refused, render_page, saved
from app.workflow.todos import cadence_steps

PAGE, FRAGMENT = "settings/cadence.html", "settings/cadence_form.html"
FIELDS = ["call_attempts", "email_attempts", "attempt_gap_hours", "stop_after_cadence"]


class WholeNumberField(NumberField):
    """An integer field whose "not a number" message says what to type."""

    def __init__(self, label, *, message: str, low: int, high: int, **kwargs):
        super().__init__(label, validators=[InputRequired(message=message), NumberRange(low, high, message=message)],
                         render_kw={"min": low, "max": high, "step": 1, "inputmode": "numeric"}, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.message) from exc

    def post_validate(self, form, validation_stopped):
        self.errors = list(dict.fromkeys(self.errors))  # a non-number fails the range check too: say it once


class CadenceForm(FlaskForm):
    call_attempts = WholeNumberField("Call attempts", message="Enter a number of calls from 0 to 10.", low=0, high=10)
    email_attempts = WholeNumberField("Email attempts, including the automatic introduction",
                                      message="Enter a number of emails from 0 to 10.", low=0, high=10)
    attempt_gap_hours = WholeNumberField("Hours between attempts", message="Enter a number of hours from 1 to 168.",
                                         low=1, high=168)
    stop_after_cadence = BooleanField("Stop after the cadence")


def _context(form: CadenceForm) -> dict:
    settings = get_settings()
    return {"form": form, "steps": cadence_steps(settings.call_attempts, settings.email_attempts),
            "settings": settings}


@bp.get("/cadence")
@view_settings
def cadence():
    return render_page(PAGE, FRAGMENT, **_context(CadenceForm(obj=get_settings())))


@bp.post("/cadence")
@change_settings
def save_cadence():
    settings = get_settings()
    form = CadenceForm()
    if not form.validate_on_submit():
        return refused(PAGE, FRAGMENT, lambda: _context(form))
    before = audit.snapshot(settings, FIELDS)
    form.populate_obj(settings)
    audit.record("cadence", "Changed the outreach cadence", audit.diff(before, audit.snapshot(settings, FIELDS)))
    return saved("Outreach cadence saved. Tickets opened from now on follow it.", url_for("settings.cadence"),
                 lambda: render_page(PAGE, FRAGMENT, **_context(CadenceForm(obj=settings, formdata=None))))
