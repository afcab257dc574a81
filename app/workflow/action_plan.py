"""The action plan on a ticket: checklist items from the organisation's templates or added by hand.

Each item has an owner (a member, or a team such as "Billing team"), an optional due date, a note and
a done mark. An open item with a due date owes an ``item_overdue`` notice keyed ``item:<id>:overdue``,
due at the end of that date in the organisation's timezone; ticking it done cancels the notice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts.models import Tenant, User
from app.extensions import db
from app.settings.models import ActionPlanTemplate
from app.tenancy import current_tenant_id
from app.tickets import services as ticket_services
from app.tickets.models import Status, Ticket
from app.timeutil import utcnow
from app.workflow import notices
from app.workflow.models import ActionPlanItem
from app.rules import RuleError
from app.workflow.todos import overdue_key

# Applying a plan (or adding the first item) moves a ticket that is still in one of these columns on.
MOVES_TO_ACTION_PLAN = (Status.NEW, Status.CONTACTED)


@dataclass(frozen=True)
class PlanItem:
    """One line of a template: its title and, when the template names one, the team that owns it."""

    title: str
    owner_team: str | None = None


def template_items(template: ActionPlanTemplate) -> list[PlanItem]:
    """A template's items, whether stored as plain titles or as ``{"title": …, "owner_team": …}``."""
    items = []
    for raw in template.items or []:
        if isinstance(raw, str):
            title, team = raw, None
        elif isinstance(raw, dict):
            title = raw.get("title") or raw.get("name") or ""
            team = raw.get("owner_team") or raw.get("team") or None
        else:
            continue
        if str(title).strip():
            items.append(PlanItem(str(title).strip(), str(team).strip() if team else None))
    return items


def ticket_items(ticket_id: int) -> list[ActionPlanItem]:
    """A ticket's action-plan items in plan order, with their owners, in one query."""
    return list(db.session.execute(
        select(ActionPlanItem).where(ActionPlanItem.ticket_id == ticket_id)
        .options(joinedload(ActionPlanItem.owner))
        .order_by(ActionPlanItem.position, ActionPlanItem.id)
    ).scalars())


def overdue_at(due_date: date, tz_name: str) -> datetime:
    """The end of ``due_date`` in the organisation's timezone (the next local midnight), in UTC."""
    return datetime.combine(due_date + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz_name)).astimezone(ZoneInfo("UTC"))


def _sync_overdue_notice(item: ActionPlanItem) -> None:
    """Owe the overdue notice while the item is open and has a due date; otherwise owe nothing."""
    if item.done_at is None and item.due_date is not None:
        tenant = db.session.get(Tenant, current_tenant_id())
        notices.schedule(key=overdue_key(item.id), kind="item_overdue", due_at=overdue_at(item.due_date, tenant.timezone),
                         ticket_id=item.ticket_id, item_id=item.id)
    else:
        notices.cancel(overdue_key(item.id))


def _start_plan(ticket: Ticket, actor: User) -> None:
    if ticket.status in MOVES_TO_ACTION_PLAN:
        ticket_services.move_status(ticket, actor, Status.ACTION_PLAN)


def _check_owner(owner_id: int | None, owner_team: str | None) -> None:
    if owner_id and owner_team:
        raise RuleError("Choose a member or type a team, not both.", "owner_team")
    if not owner_id and not owner_team:
        raise RuleError("Choose who owns this item, or type the team that does.", "owner_id")


def apply_template(ticket: Ticket, actor: User, template: ActionPlanTemplate) -> list[ActionPlanItem]:
    """Add the template's items to the ticket's plan, owned by the ticket's assignee unless the template names
    a team. Items already on the plan (same title) are not added twice. A New or Contacted ticket moves to
    Action plan, which the timeline records."""
    ticket_services.ensure_open(ticket)
    if template.retired_at is not None:
        raise RuleError("That plan has been retired. Choose another.", "template_id")
    existing = db.session.execute(
        select(ActionPlanItem.title, ActionPlanItem.position).where(ActionPlanItem.ticket_id == ticket.id)
    ).all()
    titles = {title.casefold() for title, _ in existing}
    position = max((p for _, p in existing), default=0)
    added = []
    for line in template_items(template):
        if line.title.casefold() in titles:
            continue
        titles.add(line.title.casefold())
        position += 1
        added.append(ActionPlanItem(
            ticket_id=ticket.id, title=line.title[:200], position=position, owner_team=line.owner_team,
            owner_id=None if line.owner_team else ticket.assignee_id,
        ))
    if not added:
        raise RuleError(f"Every item of “{template.name}” is already on this ticket.", "template_id")
    db.session.add_all(added)
    _start_plan(ticket, actor)
    return added


def add_item(ticket: Ticket, actor: User, *, title: str, owner_id: int | None, owner_team: str | None,
             due_date: date | None, note: str | None) -> ActionPlanItem:
    """An item added by hand at the end of the plan."""
    ticket_services.ensure_open(ticket)
    _check_owner(owner_id, owner_team)
    position = db.session.execute(
        select(func.max(ActionPlanItem.position)).where(ActionPlanItem.ticket_id == ticket.id)
    ).scalar() or 0
    item = ActionPlanItem(ticket_id=ticket.id, title=title.strip(), owner_id=owner_id or None,
                          owner_team=owner_team or None, due_date=due_date, note=note or None, position=position + 1)
    db.session.add(item)
    db.session.flush()
    _sync_overdue_notice(item)
    _start_plan(ticket, actor)
    return item


def update_item(item: ActionPlanItem, ticket: Ticket, *, title: str, owner_id: int | None, owner_team: str | None,
                due_date: date | None, note: str | None) -> None:
    """Change an item's title, owner, due date or note; a new due date moves its overdue notice."""
    ticket_services.ensure_open(ticket)
    _check_owner(owner_id, owner_team)
    item.title, item.owner_id, item.owner_team = title.strip(), owner_id or None, owner_team or None
    item.due_date, item.note = due_date, note or None
    _sync_overdue_notice(item)


def set_item_done(item: ActionPlanItem, ticket: Ticket, actor: User, done: bool) -> bool:
    """Tick an item done (its overdue notice is cancelled) or open it again. Returns whether anything changed."""
    ticket_services.ensure_open(ticket)
    if done == (item.done_at is not None):
        return False
    item.done_at, item.done_by_id = (utcnow(), actor.id) if done else (None, None)
    _sync_overdue_notice(item)
    return True


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def open(self) -> int:
        return self.total - self.done

    def __str__(self) -> str:
        return f"{self.done} of {self.total} done"


def progress(items: list[ActionPlanItem]) -> Progress:
    return Progress(done=sum(item.done_at is not None for item in items), total=len(items))
