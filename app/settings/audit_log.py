"""Settings section: the audit log. Admins see every settings change, newest first: who, when, and each
field's value before and after; they can narrow it to one area or one person."""
from __future__ import annotations

from flask import request

from app.settings import services
from app.settings.forms_setup import AuditFilterForm
from app.settings.routes import SECTIONS, bp
from app.tenancy import Role, require_role
from app.views import paginate, render_page

PER_PAGE = 30
AREA_LABELS = {
    **{endpoint.split(".", 1)[1]: title for endpoint, title, _ in SECTIONS},
    "action_plans": "Action-plan templates",
    "root_causes": "Root causes",
    "api": "API",
    "api_tokens": "API tokens",
}


def area_label(area: str) -> str:
    return AREA_LABELS.get(area, area.replace("_", " ").capitalize())


def field_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@bp.get("/audit_log")
@require_role(Role.ADMIN)
def audit():
    form = AuditFilterForm(request.args)
    form.area.choices = [("", "All areas")] + [(area, area_label(area)) for area in services.audit_areas()]
    form.actor.choices = [("", "Everyone")] + [(str(user.id), user.name) for user in services.audit_actors()]
    area = form.area.data if form.area.data in dict(form.area.choices) else ""
    actor = form.actor.data if form.actor.data in dict(form.actor.choices) else ""
    pagination = paginate(services.audit_entries_statement(area or None, int(actor) if actor else None),
                          per_page=PER_PAGE)
    return render_page(
        "settings/audit.html", "settings/_audit.html", form=form, pagination=pagination,
        filters={"area": area or None, "actor": actor or None}, area_label=area_label, field_label=field_label,
    )
