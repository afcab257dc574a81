"""Settings section: SLA windows (targets, business hours, clock mode, who takes breached tickets) and holidays.

New tickets copy their due times from these settings when they open; tickets already open keep theirs.
"""
from __future__ import annotations

from flask import request, url_for

from app.rules import RuleError
from app.settings import services
from app.settings.forms_setup import HolidayForm, SlaForm
from app.settings.models import Holiday
from app.settings.routes import bp, change_settings, view_settings
from app.tenancy import Role, current_membership, current_tenant, get_or_404
from app.timeutil import localize, utcnow
from app.views import paginate, place_error, refused, render_page, saved

PAGE = "settings/sla.html"
WINDOWS_FRAGMENT = "settings/_sla_windows.html"
HOLIDAYS_FRAGMENT = "settings/_sla_holidays.html"
HOLIDAYS_PER_PAGE = 20


def _sla_form(formdata=None) -> SlaForm:
    settings = services.get_settings()
    initial = {"data": SlaForm.initial(settings)} if formdata is None else {}
    form = SlaForm(formdata=formdata, **initial)
    form.set_people(services.breach_reassign_candidates())
    return form


def _today():
    return localize(utcnow(), current_tenant.timezone).date()


def _context(sla_form: SlaForm | None = None, holiday_form: HolidayForm | None = None) -> dict:
    past = request.args.get("holidays") == "past"
    settings = services.get_settings()
    form = sla_form or _sla_form()
    chosen = settings.breach_reassign_to_id
    return {
        "form": form,
        "reassignee_gone": settings.breach_reassign_to if chosen and chosen not in dict(
            form.breach_reassign_to_id.choices) else None,
        "holiday_form": holiday_form or HolidayForm(prefix="holiday", formdata=None),
        "preview": services.sla_preview(settings),
        "settings": settings,
        "past": past,
        "holidays": paginate(services.holidays_statement(past, _today()), per_page=HOLIDAYS_PER_PAGE),
        "can_change": current_membership.role == Role.ADMIN,
    }


def _saved(message: str, fragment: str):
    return saved(message, url_for("settings.sla", holidays=request.args.get("holidays"),
                                  page=request.args.get("page", type=int)),
                 lambda: render_page(PAGE, fragment, **_context()))


def _refused(fragment: str, **context):
    return refused(PAGE, fragment, lambda: _context(**context))


@bp.get("/sla")
@view_settings
def sla():
    fragment = HOLIDAYS_FRAGMENT if request.args.get("list") == "holidays" else None
    return render_page(PAGE, fragment, **_context())


@bp.post("/sla")
@change_settings
def save_sla():
    form = _sla_form(formdata=request.form)
    if form.validate_on_submit():
        try:
            services.update_sla(services.get_settings(), **form.values())
        except RuleError as error:
            place_error(form, error)
        else:
            return _saved("SLA windows saved. New tickets get these deadlines; open tickets keep theirs.",
                          WINDOWS_FRAGMENT)
    return _refused(WINDOWS_FRAGMENT, sla_form=form)


@bp.post("/sla/holidays")
@change_settings
def add_holiday():
    form = HolidayForm(prefix="holiday")
    if form.validate_on_submit():
        try:
            holiday = services.add_holiday(form.day.data, form.name.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _saved(f"Added {holiday.name} on {holiday.day:%d %b %Y}.", HOLIDAYS_FRAGMENT)
    return _refused(HOLIDAYS_FRAGMENT, holiday_form=form)


@bp.post("/sla/holidays/<int:holiday_id>/remove")
@change_settings
def remove_holiday(holiday_id: int):
    holiday = get_or_404(Holiday, holiday_id)
    name, day = holiday.name, holiday.day
    services.remove_holiday(holiday)
    return _saved(f"Removed {name} on {day:%d %b %Y}.", HOLIDAYS_FRAGMENT)
