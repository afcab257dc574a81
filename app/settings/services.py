"""Reading an organisation's workflow settings, and the defaults every new organisation starts with."""
from __future__ import annotations

from datetime import date, datetime, time

from typing import TypeVar

from sqlalchemy import Select, event, func, select
from sqlalchemy.orm import joinedload

from app import audit
from app.accounts.models import Membership, Tenant, User
from app.contacts.models import RecipientRole, contact_role
from app.customers.models import DEFAULT_ACCOUNT_FUNCTIONS, AccountFunction, AccountTeamMember
from app.extensions import db
from app.rules import RuleError
from app.settings.models import (
    DEFAULT_BUSINESS_HOURS, FIRST_CONTACT_STOPPED_BY, NOTIFICATION_EVENTS, WEEKDAYS, ActionPlanTemplate, AuditEntry, Holiday, NotificationList,
    RootCause, WorkflowSettings,
)
from app.business_time import Calendar, Duration
from app.settings.presets import preset
from app.tenancy import Role, WORKING_ROLES, current_tenant_id
from app.timeutil import utcnow

DEFAULT_ACTION_PLANS = {name: list(items) for name, items in preset("billing").action_plans.items()}
DEFAULT_ROOT_CAUSES = ("Billing errors", "Communication", "Staff", "Wait time", "Cost", "Reporting", "Other")


def seed_workflow_defaults(tenant: Tenant) -> None:
    """Defaults for a new organisation (inside its tenant context): settings, a Managers list, plans, causes,
    and the functions people hold on account teams. Settings and action plans follow the organisation's kind
    (:mod:`app.settings.presets`)."""
    db.session.add(_default_settings(tenant))
    db.session.add(NotificationList(name="Managers", events=list(NOTIFICATION_EVENTS),
                                    roles=[Role.MANAGER, Role.ADMIN]))
    for name, items in preset(tenant.kind).action_plans.items():
        db.session.add(ActionPlanTemplate(name=name, items=list(items)))
    for label in DEFAULT_ROOT_CAUSES:
        db.session.add(RootCause(label=label))
    for position, name in enumerate(DEFAULT_ACCOUNT_FUNCTIONS):
        db.session.add(AccountFunction(name=name, position=position))


def _default_settings(tenant: Tenant) -> WorkflowSettings:
    """Unsaved settings with the preset of the organisation's kind and every other default filled in (column
    defaults only apply on insert)."""
    settings = WorkflowSettings(business_hours=dict(DEFAULT_BUSINESS_HOURS), **preset(tenant.kind).settings)
    for column in WorkflowSettings.__table__.columns:
        if column.default is not None and column.default.is_scalar and getattr(settings, column.key) is None:
            setattr(settings, column.key, column.default.arg)
    return settings


def get_settings() -> WorkflowSettings:
    """The current tenant's settings. Reading never writes: a tenant without a settings row (one older than
    the settings) gets unsaved defaults, and the row is created when one of them is first changed."""
    settings = db.session.execute(select(WorkflowSettings)).scalar_one_or_none()
    if settings is None:
        settings = _default_settings(db.session.get(Tenant, current_tenant_id()))
        settings.unsaved_defaults = True
    return settings


def _save_on_first_write(target: WorkflowSettings, value, oldvalue, initiator) -> None:
    """Create the settings row the first time unsaved defaults from :func:`get_settings` are changed, so
    every writer (a settings page, the PHI-safe switch) saves through the ordinary attribute set."""
    if getattr(target, "unsaved_defaults", False):
        target.unsaved_defaults = False
        db.session.add(target)


# The table's columns, not the mapper's attributes: reading those would configure every mapper while the
# models are still being imported.
for _column in WorkflowSettings.__table__.columns:
    event.listen(getattr(WorkflowSettings, _column.key), "set", _save_on_first_write)


def _parse_hours(raw: dict) -> dict[int, list[tuple[time, time]]]:
    return {
        int(day): [(time.fromisoformat(start), time.fromisoformat(end)) for start, end in periods]
        for day, periods in (raw or {}).items()
    }


def sla_calendar(settings: WorkflowSettings | None = None, tenant: Tenant | None = None) -> Calendar:
    """The SLA clock of the current tenant: its timezone, working hours, holidays and mode."""
    settings = settings or get_settings()
    return _calendar(settings.business_hours, settings.business_hours_only, tenant)


def _calendar(business_hours: dict, business_hours_only: bool, tenant: Tenant | None = None) -> Calendar:
    tenant = tenant or db.session.get(Tenant, current_tenant_id())
    holidays = frozenset(db.session.execute(select(Holiday.day)).scalars())
    hours = _parse_hours(business_hours)
    business = business_hours_only and any(s < e for periods in hours.values() for s, e in periods)
    return Calendar(timezone=tenant.timezone, hours=hours, holidays=holidays, business_hours=business)


M = TypeVar("M")


def _same_name(column, name: str, exclude_id: int | None, model: type[M]) -> M | None:
    """The row (retired or not) whose ``column`` equals ``name`` ignoring case, other than ``exclude_id``."""
    statement = select(model).where(func.lower(column) == name.strip().lower())
    if exclude_id is not None:
        statement = statement.where(model.id != exclude_id)
    return db.session.execute(statement.limit(1)).scalar_one_or_none()


def _taken_message(kind: str, other: RecipientRole | ActionPlanTemplate | RootCause) -> str:
    if other.retired_at is not None:
        return f"A retired {kind} already has this name. Bring it back instead of adding it again."
    return f"There is already a {kind} with this name."


def _add_named(model: type[M], field: str, value: str, kind: str, area: str, short: str | None = None) -> M:
    """Add a named row (a role, a root cause) unless a row of that model, retired or not, has the name.

    ``kind`` names it in the audit log ("recipient role"), ``short`` in the message to the user ("role").
    """
    value = value.strip()
    other = _same_name(getattr(model, field), value, None, model)
    if other is not None:
        raise RuleError(_taken_message(short or kind, other), field)
    row = model(**{field: value})
    db.session.add(row)
    db.session.flush()
    audit.record(area, f"Added {kind} {value}", {field: [None, value]})
    return row


def _rename_named(row, field: str, value: str, kind: str, area: str, short: str | None = None) -> None:
    value = value.strip()
    other = _same_name(getattr(type(row), field), value, row.id, type(row))
    if other is not None:
        raise RuleError(_taken_message(short or kind, other), field)
    before = getattr(row, field)
    setattr(row, field, value)
    audit.record(area, f"Renamed {kind} {before} to {value}", {field: [before, value]})


def _set_retired(row, retired: bool, name: str, kind: str, area: str) -> None:
    if (row.retired_at is not None) == retired:
        return
    row.retired_at = utcnow() if retired else None
    verb = "Retired" if retired else "Brought back"
    audit.record(area, f"{verb} {kind} {name}", {"retired": [not retired, retired]})


def account_functions_statement() -> Select:
    """Every account-team function, in use first (in the list's order) then retired."""
    return select(AccountFunction).order_by(AccountFunction.retired_at.is_not(None), AccountFunction.position,
                                            AccountFunction.name)


def function_member_counts() -> dict[int, int]:
    """How many account-team places each function fills, in one query."""
    return dict(db.session.execute(
        select(AccountTeamMember.function_id, func.count()).where(AccountTeamMember.function_id.is_not(None))
        .group_by(AccountTeamMember.function_id)).all())


def add_account_function(name: str) -> AccountFunction:
    """Add a function people can hold on an account team, at the end of the list."""
    last = db.session.execute(select(func.max(AccountFunction.position))).scalar_one_or_none()
    row = _add_named(AccountFunction, "name", name, "account-team function", "account_functions", short="function")
    row.position = (last if last is not None else -1) + 1
    return row


def rename_account_function(function: AccountFunction, name: str) -> None:
    _rename_named(function, "name", name, "account-team function", "account_functions", short="function")


def set_account_function_retired(function: AccountFunction, retired: bool) -> None:
    """Retire a function (team members keep it, it is no longer offered) or bring it back."""
    _set_retired(function, retired, function.name, "account-team function", "account_functions")


def recipient_roles_statement() -> Select:
    """Every recipient role, in use first then retired, by name."""
    return select(RecipientRole).order_by(RecipientRole.retired_at.is_not(None), RecipientRole.name)


def role_contact_counts() -> dict[int, int]:
    """How many contacts hold each recipient role, in one query."""
    return dict(
        db.session.execute(
            select(contact_role.c.role_id, func.count(contact_role.c.contact_id))
            .join(RecipientRole, RecipientRole.id == contact_role.c.role_id)
            .group_by(contact_role.c.role_id)
        ).all()
    )


def add_recipient_role(name: str) -> RecipientRole:
    """Add a role contacts can hold. Refuses a name another role (even a retired one) already has."""
    return _add_named(RecipientRole, "name", name, "recipient role", "roles", short="role")


def rename_recipient_role(role: RecipientRole, name: str) -> None:
    """Rename a role; contacts holding it keep it under the new name."""
    _rename_named(role, "name", name, "recipient role", "roles", short="role")


def set_recipient_role_retired(role: RecipientRole, retired: bool) -> None:
    """Retire a role (it stays on contacts but is no longer offered) or bring it back. Retiring the default
    role for new contacts leaves new contacts with no default role."""
    _set_retired(role, retired, role.name, "recipient role", "roles")
    settings = get_settings()
    if retired and settings.default_contact_role_id == role.id:
        set_default_contact_role(settings, None)


NO_DEFAULT_ROLE = "None (new contacts start with no role)"


def default_contact_role(settings: WorkflowSettings | None = None) -> RecipientRole | None:
    """The role new contacts start with, or None."""
    settings = settings or get_settings()
    if settings.default_contact_role_id is None:
        return None
    return db.session.get(RecipientRole, settings.default_contact_role_id)


def set_default_contact_role(settings: WorkflowSettings, role_id: int | None) -> None:
    """Choose the role ticked for new contacts (None: no role). Raises :class:`~app.rules.RuleError` unless
    ``role_id`` is None or one of the tenant's roles in use."""
    role = None
    if role_id is not None:
        role = db.session.execute(
            select(RecipientRole).where(RecipientRole.id == role_id, RecipientRole.retired_at.is_(None))
        ).scalar_one_or_none()
        if role is None:
            raise RuleError("Choose one of the roles in use, or none.", "default_contact_role_id")
    before = default_contact_role(settings)
    settings.default_contact_role_id = role.id if role else None
    after_name, before_name = (role.name if role else NO_DEFAULT_ROLE), (before.name if before else NO_DEFAULT_ROLE)
    audit.record("roles", f"Set the default role for new contacts to {role.name if role else 'none'}",
                 audit.diff({"default_role_for_new_contacts": before_name},
                            {"default_role_for_new_contacts": after_name}))


SLA_TARGETS = {
    "first_contact_due_at": "first_contact_target",
    "first_contact_breach_at": "first_contact_breach",
    "resolution_due_at": "resolution_target",
}


def sla_targets(settings: WorkflowSettings) -> dict[str, Duration]:
    """The three SLA targets as durations, keyed by the ticket due-time field each one sets."""
    return {
        due_field: Duration(getattr(settings, name), getattr(settings, f"{name}_unit"))
        for due_field, name in SLA_TARGETS.items()
    }


def sla_due_times(settings: WorkflowSettings, clock: Calendar, start: datetime) -> dict[str, datetime]:
    """The due times a ticket opened at ``start`` gets: ``first_contact_due_at``, ``first_contact_breach_at``
    and ``resolution_due_at``. Raises ``ValueError`` when one lies beyond the clock's three-year reach."""
    return {due_field: clock.due(start, target) for due_field, target in sla_targets(settings).items()}


def hours_text(periods: list) -> str:
    """``[["09:00", "17:00"]]`` as ``09:00–17:00``; no periods is ``Closed``."""
    return ", ".join(f"{start}–{end}" for start, end in periods) if periods else "Closed"


def _sla_snapshot(settings: WorkflowSettings) -> dict:
    state = {name: str(target) for name, target in zip(SLA_TARGETS.values(), sla_targets(settings).values())}
    state["first_contact_stopped_by"] = FIRST_CONTACT_STOPPED_BY.get(settings.first_contact_stopped_by)
    state["business_hours_only"] = settings.business_hours_only
    hours = settings.business_hours or {}
    for day, day_name in WEEKDAYS.items():
        state[f"{day_name.lower()}_hours"] = hours_text(hours.get(str(day), []))
    person = db.session.get(User, settings.breach_reassign_to_id) if settings.breach_reassign_to_id else None
    state["on_breach_reassign_to"] = person.name if person else "Nobody (the assignee keeps it)"
    return state


def breach_reassign_candidates() -> list[User]:
    """Active admins, managers and agents, who may be handed a breached ticket."""
    return list(
        db.session.execute(
            select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))
            .order_by(User.name)
        ).scalars()
    )


def update_sla(settings: WorkflowSettings, *, first_contact_target: Duration, first_contact_breach: Duration,
               resolution_target: Duration, first_contact_stopped_by: str, business_hours_only: bool,
               business_hours: dict[str, list], breach_reassign_to_id: int | None) -> None:
    """Change the SLA windows. Tickets already open keep the due times they were given.

    Raises :class:`~app.rules.RuleError` when a day closes before it opens, no day is open while counting
    business hours, the reassignee cannot work tickets, the deadlines would fall more than three years
    away, or the breach would not come after the first-contact target for a detractor arriving now.
    """
    if first_contact_stopped_by not in FIRST_CONTACT_STOPPED_BY:
        raise RuleError("Choose what counts as first contact.", "first_contact_stopped_by")
    for day, periods in business_hours.items():
        for start, end in periods:
            if not start < end:
                raise RuleError(f"{WEEKDAYS[int(day)]} must close after it opens.", f"day{day}_end")
    open_days = {day: periods for day, periods in business_hours.items() if periods}
    if business_hours_only and not open_days:
        raise RuleError("Open at least one day, or count calendar hours instead.", "business_hours_only")
    if breach_reassign_to_id is not None and breach_reassign_to_id not in {
        user.id for user in breach_reassign_candidates()
    }:
        raise RuleError("Choose an active admin, manager or agent.", "breach_reassign_to_id")
    hours = {day: [list(p) for p in periods] for day, periods in sorted(open_days.items(), key=lambda i: int(i[0]))}
    clock = _calendar(hours, business_hours_only)
    now = utcnow()
    due = {}
    for field, target in (("first_contact_target", first_contact_target),
                          ("first_contact_breach", first_contact_breach), ("resolution_target", resolution_target)):
        try:
            due[field] = clock.due(now, target)
        except ValueError:
            raise RuleError("With these opening hours the deadline would be more than three years away.",
                            field) from None
    if due["first_contact_breach"] <= due["first_contact_target"]:
        raise RuleError(f"The breach must come after the first-contact target ({first_contact_target}).",
                        "first_contact_breach")
    before = _sla_snapshot(settings)
    for field, target in (("first_contact_target", first_contact_target),
                          ("first_contact_breach", first_contact_breach), ("resolution_target", resolution_target)):
        setattr(settings, field, target.amount)
        setattr(settings, f"{field}_unit", target.unit)
    settings.first_contact_stopped_by = first_contact_stopped_by
    settings.business_hours_only = business_hours_only
    settings.business_hours = hours
    settings.breach_reassign_to_id = breach_reassign_to_id
    audit.record("sla", "Changed SLA windows", audit.diff(before, _sla_snapshot(settings)))


def sla_preview(settings: WorkflowSettings | None = None) -> dict:
    """The due times a detractor arriving now would be given (UTC; None when beyond the clock's reach),
    with the targets that set them."""
    settings = settings or get_settings()
    clock = sla_calendar(settings)
    now = utcnow()
    preview = {"now": now, "targets": sla_targets(settings),
               "stopped_by": FIRST_CONTACT_STOPPED_BY[settings.first_contact_stopped_by]}
    for due_field, target in preview["targets"].items():
        try:
            preview[due_field] = clock.due(now, target)
        except ValueError:
            preview[due_field] = None
    return preview


SENDER_FIELDS = ("sender_name", "reply_to_address")


def update_sender(settings: WorkflowSettings, *, sender_name: str | None, reply_to_address: str | None) -> bool:
    """Set the display name and Reply-To address of survey invitations (blank: the organisation's name, and
    replies to the person who sent the survey). Returns whether anything changed; changes are audited."""
    before = audit.snapshot(settings, list(SENDER_FIELDS))
    settings.sender_name = (sender_name or "").strip() or None
    settings.reply_to_address = (reply_to_address or "").strip().lower() or None
    changes = audit.diff(before, audit.snapshot(settings, list(SENDER_FIELDS)))
    audit.record("survey_content", "Changed the survey sender", changes)
    return bool(changes)


def holidays_statement(past: bool, today: date) -> Select:
    """Holidays from ``today`` on (soonest first), or those before it (latest first)."""
    if past:
        return select(Holiday).where(Holiday.day < today).order_by(Holiday.day.desc())
    return select(Holiday).where(Holiday.day >= today).order_by(Holiday.day)


def add_holiday(day: date, name: str) -> Holiday:
    """Mark a local date as a holiday: business-hours clocks of new tickets skip it."""
    name = name.strip()
    other = db.session.execute(select(Holiday).where(Holiday.day == day)).scalar_one_or_none()
    if other is not None:
        raise RuleError(f"{day:%d %b %Y} is already a holiday ({other.name}).", "day")
    holiday = Holiday(day=day, name=name)
    db.session.add(holiday)
    db.session.flush()
    audit.record("sla", f"Added holiday {name} on {day:%d %b %Y}", {"holiday": [None, f"{day.isoformat()} {name}"]})
    return holiday


def remove_holiday(holiday: Holiday) -> None:
    audit.record("sla", f"Removed holiday {holiday.name} on {holiday.day:%d %b %Y}",
                 {"holiday": [f"{holiday.day.isoformat()} {holiday.name}", None]})
    db.session.delete(holiday)
    db.session.flush()


def action_plan_templates_statement() -> Select:
    """Every action-plan template, in use first then retired, by name."""
    return select(ActionPlanTemplate).order_by(ActionPlanTemplate.retired_at.is_not(None), ActionPlanTemplate.name)


def active_action_plan_templates() -> list[ActionPlanTemplate]:
    """The templates that may be applied to a ticket (not retired), by name."""
    return list(
        db.session.execute(
            select(ActionPlanTemplate).where(ActionPlanTemplate.retired_at.is_(None)).order_by(ActionPlanTemplate.name)
        ).scalars()
    )


def add_action_plan_template(name: str, items: list[str]) -> ActionPlanTemplate:
    name = name.strip()
    other = _same_name(ActionPlanTemplate.name, name, None, ActionPlanTemplate)
    if other is not None:
        raise RuleError(_taken_message("template", other), "name")
    template = ActionPlanTemplate(name=name, items=list(items))
    db.session.add(template)
    db.session.flush()
    audit.record("action_plans", f"Added action-plan template {name}",
                 {"name": [None, name], "items": [None, list(items)]})
    return template


def update_action_plan_template(template: ActionPlanTemplate, name: str, items: list[str]) -> None:
    """Rename a template and replace its ordered items. Plans already applied to tickets are not changed."""
    name = name.strip()
    other = _same_name(ActionPlanTemplate.name, name, template.id, ActionPlanTemplate)
    if other is not None:
        raise RuleError(_taken_message("template", other), "name")
    before = audit.snapshot(template, ["name", "items"])
    template.name = name
    template.items = list(items)
    audit.record("action_plans", f"Changed action-plan template {name}",
                 audit.diff(before, audit.snapshot(template, ["name", "items"])))


def set_action_plan_template_retired(template: ActionPlanTemplate, retired: bool) -> None:
    if (template.retired_at is not None) == retired:
        return
    template.retired_at = utcnow() if retired else None
    verb = "Retired" if retired else "Brought back"
    audit.record("action_plans", f"{verb} action-plan template {template.name}", {"retired": [not retired, retired]})


def root_causes_statement() -> Select:
    """Every root cause, in use first then retired, by label."""
    return select(RootCause).order_by(RootCause.retired_at.is_not(None), RootCause.label)


def active_root_causes() -> list[RootCause]:
    """The root causes that may be chosen when closing a ticket (not retired), by label."""
    return list(
        db.session.execute(select(RootCause).where(RootCause.retired_at.is_(None)).order_by(RootCause.label)).scalars()
    )


def add_root_cause(label: str) -> RootCause:
    return _add_named(RootCause, "label", label, "root cause", "root_causes")


def rename_root_cause(cause: RootCause, label: str) -> None:
    """Rename a root cause; tickets that chose it show the new label."""
    _rename_named(cause, "label", label, "root cause", "root_causes")


def set_root_cause_retired(cause: RootCause, retired: bool) -> None:
    _set_retired(cause, retired, cause.label, "root cause", "root_causes")


def audit_entries_statement(area: str | None = None, actor_id: int | None = None) -> Select:
    """Audit entries, newest first, optionally of one area and one person, with their authors loaded."""
    statement = (
        select(AuditEntry).options(joinedload(AuditEntry.actor), joinedload(AuditEntry.api_token))
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )
    if area:
        statement = statement.where(AuditEntry.area == area)
    if actor_id:
        statement = statement.where(AuditEntry.actor_id == actor_id)
    return statement


def audit_areas() -> list[str]:
    """The areas that have audit entries."""
    return list(db.session.execute(select(AuditEntry.area).distinct().order_by(AuditEntry.area)).scalars())


def audit_actors() -> list[User]:
    """The people who have made settings changes, by name."""
    return list(
        db.session.execute(
            select(User).where(User.id.in_(select(AuditEntry.actor_id).where(AuditEntry.actor_id.is_not(None))))
            .order_by(User.name)
        ).scalars()
    )
