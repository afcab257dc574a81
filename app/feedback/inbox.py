"""The feedback inbox: every response of every band, filtered, a keyset page at a time.

The same filters drive the inbox page and the responses CSV (:mod:`app.feedback.export`), so the export holds
exactly the rows the list shows. Every query here is scoped to the current tenant by :mod:`app.tenancy`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import User
from app.contacts.models import Contact, RecipientRole, contact_role
from app.customers.models import CustomerAccount
from app.extensions import db
from app.feedback.models import Theme
from app.rules import RuleError
from app.search import matching_ids
from app.surveys.models import BAND_LABELS, Response, ResponseAnswer, source_label
from app.teams.models import Team, team_member
from app.tenancy import current_tenant_id, parse_id
from app.tickets.models import Ticket
from app.timeutil import utcnow
from app.views import KeysetPage, keyset_page

PER_PAGE = 25
PERIODS = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "365": "Last 12 months",
           "all": "All time", "custom": "Custom dates"}
REVIEWED = {"": "Reviewed or not", "no": "Not reviewed", "yes": "Reviewed"}


def source_choices() -> dict[str, str]:
    """The sources the filter offers: the hosted survey, imports and each kind of survey tool connected."""
    from app.integrations.models import Integration

    kinds = db.session.execute(select(Integration.kind).distinct()).scalars()
    return {source: source_label(source) for source in ("hosted", "csv", *sorted(kinds))}


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows, read from the URL (bad values are ignored, never a 500)."""

    band: str = ""
    period: str = "all"
    start: date | None = None
    end: date | None = None
    account_id: int | None = None
    source: str = ""
    has_comment: bool = False
    reviewed: str = ""
    theme_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    role_id: int | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args) -> "InboxFilter":
        band = args.get("band", "")
        period = args.get("period", "all")
        reviewed = args.get("reviewed", "")
        return cls(
            band=band if band in BAND_LABELS else "",
            period=period if period in PERIODS else "all",
            start=_date(args.get("from")), end=_date(args.get("to")),
            account_id=parse_id(args.get("account")) if args.get("account") else None,
            source=(args.get("source") or "").strip()[:20],
            has_comment=args.get("has_comment") in ("1", "y", "on", "true"),
            reviewed=reviewed if reviewed in REVIEWED else "",
            theme_id=parse_id(args.get("theme")) if args.get("theme") else None,
            owner_id=parse_id(args.get("owner")) if args.get("owner") else None,
            team_id=parse_id(args.get("team")) if args.get("team") else None,
            role_id=parse_id(args.get("role")) if args.get("role") else None,
            q=(args.get("q") or "").strip()[:200],
        )

    def args(self) -> dict[str, str]:
        """The filter as URL query arguments (only those that are set), for links, the pager and the export."""
        values = {"band": self.band, "period": self.period if self.period != "all" else "",
                  "from": self.start.isoformat() if self.start and self.period == "custom" else "",
                  "to": self.end.isoformat() if self.end and self.period == "custom" else "",
                  "account": str(self.account_id or ""), "source": self.source,
                  "has_comment": "1" if self.has_comment else "", "reviewed": self.reviewed,
                  "theme": str(self.theme_id or ""), "owner": str(self.owner_id or ""),
                  "team": str(self.team_id or ""), "role": str(self.role_id or ""), "q": self.q}
        return {key: value for key, value in values.items() if value}

    def window(self, timezone) -> tuple[datetime | None, datetime | None]:
        """The period as [start, end) in UTC, days counted in the organisation's ``timezone``."""
        if self.period == "custom":
            start = datetime.combine(self.start, time(), timezone) if self.start else None
            end = datetime.combine(self.end + timedelta(days=1), time(), timezone) if self.end else None
            return start, end
        if self.period.isdigit():
            return utcnow() - timedelta(days=int(self.period)), None
        return None, None


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def filtered(statement: Select, chosen: InboxFilter, timezone) -> Select:
    """``statement`` (over Response) narrowed to the responses ``chosen`` selects."""
    if chosen.band:
        statement = statement.where(Response.band == chosen.band)
    start, end = chosen.window(timezone)
    if start is not None:
        statement = statement.where(Response.created_at >= start)
    if end is not None:
        statement = statement.where(Response.created_at < end)
    if chosen.account_id:
        statement = statement.where(Response.contact_id.in_(
            select(Contact.id).where(Contact.account_id == chosen.account_id)))
    if chosen.owner_id or chosen.team_id:
        accounts = select(CustomerAccount.id)
        if chosen.owner_id:
            accounts = accounts.where(CustomerAccount.owner_id == chosen.owner_id)
        if chosen.team_id:
            accounts = accounts.where(CustomerAccount.owner_id.in_(
                select(team_member.c.user_id).where(team_member.c.team_id == chosen.team_id,
                                                    team_member.c.tenant_id == current_tenant_id())))
        statement = statement.where(Response.contact_id.in_(
            select(Contact.id).where(Contact.account_id.in_(accounts))))
    if chosen.role_id:
        statement = statement.where(Response.contact_id.in_(
            select(contact_role.c.contact_id).where(contact_role.c.role_id == chosen.role_id,
                                                    contact_role.c.tenant_id == current_tenant_id())))
    if chosen.source:
        statement = statement.where(Response.source == chosen.source)
    if chosen.has_comment:
        statement = statement.where(func.length(func.trim(Response.comment)) > 0)
    if chosen.reviewed == "yes":
        statement = statement.where(Response.reviewed_at.is_not(None))
    elif chosen.reviewed == "no":
        statement = statement.where(Response.reviewed_at.is_(None))
    if chosen.theme_id:
        from app.feedback.models import response_theme

        statement = statement.where(Response.id.in_(
            select(response_theme.c.response_id).where(response_theme.c.theme_id == chosen.theme_id)))
    if chosen.q:
        statement = statement.where(Response.id.in_(matching_ids(Response, ["comment"], chosen.q)))
    return statement


def inbox_page(chosen: InboxFilter, timezone, after: str | None, per_page: int = PER_PAGE) -> KeysetPage:
    """One page of the filtered responses, newest first, with what each row shows loaded in a fixed number
    of statements: the page (joined to contact, account and reviewer), then its answers and its themes."""
    statement = filtered(
        select(Response).options(
            joinedload(Response.contact).joinedload(Contact.account),
            joinedload(Response.reviewed_by),
            selectinload(Response.answers).joinedload(ResponseAnswer.question),
            selectinload(Response.themes),
        ),
        chosen, timezone,
    )
    return keyset_page(statement, [Response.created_at, Response.id], after=after, limit=per_page, descending=True)


def tickets_for(responses: list[Response]) -> dict[int, Ticket]:
    """The ticket of each response that has one, by response id: one statement for the whole page."""
    if not responses:
        return {}
    rows = db.session.execute(select(Ticket).where(Ticket.response_id.in_([r.id for r in responses]))).scalars()
    return {ticket.response_id: ticket for ticket in rows}


def account_choices(limit: int = 500) -> list[tuple[int, str]]:
    return list(db.session.execute(
        select(CustomerAccount.id, CustomerAccount.name).order_by(CustomerAccount.name).limit(limit)).all())


def people_choices() -> dict[str, list[tuple[int, str]]]:
    """The account owners (members who own an account), teams and recipient roles the inbox filters by."""
    owners = (select(User.id, User.name).where(User.id.in_(
        select(CustomerAccount.owner_id).where(CustomerAccount.owner_id.is_not(None)))).order_by(User.name))
    return {"owners": list(db.session.execute(owners).all()),
            "teams": list(db.session.execute(select(Team.id, Team.name).order_by(Team.name)).all()),
            "roles": list(db.session.execute(select(RecipientRole.id, RecipientRole.name)
                                             .order_by(RecipientRole.name)).all())}


def active_themes() -> list[Theme]:
    return list(db.session.execute(select(Theme).where(Theme.retired_at.is_(None)).order_by(Theme.label)).scalars())


def mark_reviewed(response: Response, actor: User, reviewed: bool = True) -> None:
    """Mark ``response`` reviewed by ``actor`` now, or not reviewed again. Marking twice keeps the first."""
    if reviewed and response.reviewed_at is None:
        response.reviewed_at, response.reviewed_by_id = utcnow(), actor.id
    elif not reviewed:
        response.reviewed_at = response.reviewed_by_id = None


def set_themes(response: Response, theme_ids) -> None:
    """Tag ``response`` with exactly the organisation's themes in ``theme_ids`` (retired ones it already
    carries stay; unknown ids are refused)."""
    wanted = set(theme_ids)
    themes = list(db.session.execute(select(Theme).where(Theme.id.in_(wanted))).scalars()) if wanted else []
    if len(themes) != len(wanted):
        raise RuleError("Choose themes from the list.", "themes")
    response.themes = sorted(themes, key=lambda theme: theme.label)


def open_ticket_by_hand(response: Response, actor: User) -> Ticket:
    """Open a ticket for ``response`` whatever its band (a passive with a serious complaint), through the same
    service as the trigger rule, with a note on its timeline saying who opened it. A response never has more
    than one ticket: one that already has one is refused."""
    from app.tickets.services import add_note, open_ticket, ticket_for_response

    # Two managers opening one at once: the second waits here, then sees the first one's ticket.
    db.session.execute(select(Response.id).where(Response.id == response.id).with_for_update())
    if ticket_for_response(response) is not None:
        raise RuleError("This response already has a ticket.")
    ticket = open_ticket(response, trigger="manual")
    add_note(ticket, actor, f"Opened by hand from the feedback inbox ({response.band_label.lower()}, "
                            f"score {response.score}).")
    return ticket
