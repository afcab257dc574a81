"""Settings section: the organisation's timezone, in which due times, business hours and dates are shown.

Changing it affects what is computed from now on (new tickets' deadlines, business hours); tickets already
open keep the deadlines they were given.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_wtf import FlaskForm

from app import audit
from app.extensions import db
from app.settings.routes import bp, change_settings, view_settings
from app.tenancy import current_tenant
from app.timezones import TimezoneField
from app.views import render_page

PAGE, FRAGMENT = "settings/organisation.html", "settings/_organisation.html"


class OrganisationTimezoneForm(FlaskForm):
    timezone = TimezoneField("Timezone")


def _form(**kwargs) -> OrganisationTimezoneForm:
    form = OrganisationTimezoneForm(**kwargs)
    form.timezone.ensure_listed(current_tenant.timezone)
    return form


@bp.get("/organisation")
@view_settings
def organisation():
    return render_page(PAGE, FRAGMENT, form=_form(formdata=None, timezone=current_tenant.timezone))


@bp.post("/organisation")
@change_settings
def save_organisation():
    form = _form()
    if not form.validate_on_submit():
        return render_page(PAGE, FRAGMENT, status=422, form=form)
    tenant = current_tenant._get_current_object()
    before = audit.snapshot(tenant, ["timezone"])
    tenant.timezone = form.timezone.data
    changes = audit.diff(before, audit.snapshot(tenant, ["timezone"]))
    audit.record("organisation", "Changed the organisation's timezone", changes)
    db.session.commit()
    if changes:
        flash(f"Timezone saved: times are now shown in {tenant.timezone}.", "success")
    else:
        flash(f"The timezone was already {tenant.timezone}.", "info")
    if request.htmx:
        return render_page(PAGE, FRAGMENT, form=_form(formdata=None, timezone=tenant.timezone))
    return redirect(url_for("settings.organisation"), 303)
