"""Reading an organisation's workflow settings, and the defaults every new organisation starts with."""
from __future__ import annotations

from datetime import time

from sqlalchemy import select

from app.accounts.models import Tenant
from app.extensions import db
from app.settings.models import (
    DEFAULT_BUSINESS_HOURS, NOTIFICATION_EVENTS, ActionPlanTemplate, Holiday, NotificationList, RootCause,
    WorkflowSettings,
)
from app.sla import Calendar
from app.tenancy import current_tenant_id

DEFAULT_ACTION_PLANS = {
    "Detractor review (billing SOP)": [
        "Enrollments review",
        "PCAP corrective action plan",
        "AR review",
        "Coding review",
        "Denial/rejection review",
        "Training — customer or billing team",
        "Save / at-risk ticket",
    ],
}
DEFAULT_ROOT_CAUSES = ("Billing errors", "Communication", "Staff", "Wait time", "Cost", "Reporting", "Other")


def seed_workflow_defaults(tenant: Tenant) -> None:
    """Defaults for a new organisation (inside its tenant context): settings, a Managers list, plans, causes."""
    db.session.add(WorkflowSettings(phi_safe_alerts=tenant.kind == "clinic",
                                    business_hours=dict(DEFAULT_BUSINESS_HOURS)))
    db.session.add(NotificationList(name="Managers", events=list(NOTIFICATION_EVENTS), roles=["manager", "admin"]))
    for name, items in DEFAULT_ACTION_PLANS.items():
        db.session.add(ActionPlanTemplate(name=name, items=list(items)))
    for label in DEFAULT_ROOT_CAUSES:
        db.session.add(RootCause(label=label))


def get_settings() -> WorkflowSettings:
    """The current tenant's settings row (created with defaults if an older tenant has none)."""
    settings = db.session.execute(select(WorkflowSettings)).scalar_one_or_none()
    if settings is None:
        tenant = db.session.get(Tenant, current_tenant_id())
        settings = WorkflowSettings(phi_safe_alerts=tenant.kind == "clinic", business_hours=dict(DEFAULT_BUSINESS_HOURS))
        db.session.add(settings)
        db.session.flush()
    return settings


def _parse_hours(raw: dict) -> dict[int, list[tuple[time, time]]]:
    return {
        int(day): [(time.fromisoformat(start), time.fromisoformat(end)) for start, end in periods]
        for day, periods in (raw or {}).items()
    }


def sla_calendar(settings: WorkflowSettings | None = None, tenant: Tenant | None = None) -> Calendar:
    """The SLA clock of the current tenant: its timezone, working hours, holidays and mode."""
    settings = settings or get_settings()
    tenant = tenant or db.session.get(Tenant, current_tenant_id())
    holidays = frozenset(db.session.execute(select(Holiday.day)).scalars())
    hours = _parse_hours(settings.business_hours)
    business = settings.business_hours_only and any(s < e for periods in hours.values() for s, e in periods)
    return Calendar(timezone=tenant.timezone, hours=hours, holidays=holidays, business_hours=business)
