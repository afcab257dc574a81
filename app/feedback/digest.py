"""The weekly digest: each Monday morning in an organisation's timezone, last week's feedback to the
notification lists that chose "Weekly digest".

The sweep (:func:`sweep_digests`) finds the organisations whose Monday morning has come and that have no
``DigestSent`` row for the current ISO week; for each it inserts that row (``ON CONFLICT DO NOTHING``, so of
two racing sweeps only one goes on), computes the figures (:func:`app.reports.metrics.weekly_digest`) and
writes the mail through the notifications batch, all in one transaction: a worker that dies before the
commit leaves the digest owed, one that committed never sends it again. A digest missed on Monday (the
worker was down) goes out as soon as the sweep runs again that week.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts.models import Tenant
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.feedback.models import DigestSent
from app.reports import metrics
from app.tenancy import all_tenants, scoped_by_hand, tenant_context, unscoped
from app.tickets.models import STATUSES, Ticket, reference
from app.timeutil import utcnow

# Monday, from this hour in the organisation's timezone.
DIGEST_HOUR = 7


def iso_week(day) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _week_start(local_now: datetime) -> datetime:
    """Monday 00:00 of ``local_now``'s week, in its timezone."""
    monday = local_now.date() - timedelta(days=local_now.weekday())
    return datetime.combine(monday, time(), local_now.tzinfo)


def due_week(timezone: str, now: datetime) -> str | None:
    """The ISO week whose digest is due at ``now`` for an organisation in ``timezone``: from Monday
    :data:`DIGEST_HOUR`:00 local until the week ends; None on a Monday before that hour."""
    local = now.astimezone(ZoneInfo(timezone))
    if local.weekday() == 0 and local.hour < DIGEST_HOUR:
        return None
    return iso_week(local.date())


@all_tenants()
def sweep_digests(now: datetime | None = None) -> int:
    """Send every digest that is due and not yet sent; returns how many organisations were sent one."""
    from app.mail import enqueue_deliveries

    now = now or utcnow()
    tenants = db.session.execute(unscoped(select(Tenant.id, Tenant.timezone, Tenant.created_at))).all()
    # An organisation that did not exist when the week it reports on ended has no digest for it.
    due = {tenant_id: week for tenant_id, timezone, created_at in tenants
           if (week := due_week(timezone, now)) and created_at < _week_start(now.astimezone(ZoneInfo(timezone)))}
    if not due:
        return 0
    done = set(db.session.execute(unscoped(
        select(DigestSent.tenant_id, DigestSent.week).where(DigestSent.tenant_id.in_(list(due)),
                                                            DigestSent.week.in_(set(due.values())))
    )).all())
    sent = 0
    for tenant_id, week in due.items():
        if (tenant_id, week) in done:
            continue
        with tenant_context(tenant_id):
            try:
                message_ids = send_digest(tenant_id, week, now)
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
        if message_ids is not None:
            sent += 1
            enqueue_deliveries(message_ids, bulk=True)
    return sent


def _claim(tenant_id: int, week: str, now: datetime) -> bool:
    table = DigestSent.__table__
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return db.session.execute(scoped_by_hand(
        dialect.insert(table).values(tenant_id=tenant_id, week=week, sent_at=now)
        .on_conflict_do_nothing(index_elements=["tenant_id", "week"]).returning(table.c.id)
    )).first() is not None


def send_digest(tenant_id: int, week: str, now: datetime) -> list[int] | None:
    """In the organisation's context: claim its digest for ``week`` and write its mail; None when another
    sweep has it already."""
    from app.notifications.batch import Batch, Occurrence

    if not _claim(tenant_id, week, now):
        return None
    tenant = db.session.get(Tenant, tenant_id)
    zone = ZoneInfo(tenant.timezone)
    end = _week_start(now.astimezone(zone))
    start = end - timedelta(days=7)
    figures = metrics.weekly_digest(start, end, start - timedelta(days=7), now)
    values = digest_values(tenant, figures, start, end)
    result = Batch([Occurrence(event="weekly_digest", tenant_id=tenant_id, key=f"digest:{week}", values=values)],
                   now).run()
    return result.message_ids


def _signed(number: float | None) -> str:
    return "" if number is None else f"{number:+g}"


def digest_values(tenant: Tenant, figures: metrics.Digest, start: datetime, end: datetime) -> dict[str, str]:
    """The digest's merge values. All but ``digest.new_detractor_details`` (which names contacts and accounts)
    are counts, ticket references and statuses, root-cause labels: what a PHI-safe digest may carry."""
    nps, recovery = figures.nps, figures.recovery
    last_day = end - timedelta(days=1)
    more = figures.new_detractors_total - len(figures.new_detractors)
    detractors = [f"{reference(number)}: {STATUSES.get(status, status)}" for number, status in figures.new_detractors]
    details = _detractor_details(start, end)
    if more > 0:
        detractors.append(f"and {more} more")
        details.append(f"and {more} more")
    breaching = [reference(number) for number in figures.breaching]
    if figures.breaching_total > len(breaching):
        breaching.append(f"and {figures.breaching_total - len(breaching)} more")
    rate = f"{round(100 * recovery.rate)}%" if recovery.rate is not None else "no re-surveyed detractors"
    change = f", average score change {recovery.average_change:+.1f}" if recovery.average_change is not None else ""
    base = current_app.config["BASE_URL"].rstrip("/")
    return {
        "digest.period": f"{start:%a %d %b} to {last_day:%a %d %b %Y}",
        "digest.week": iso_week(start.date()),
        "digest.nps": f"{nps.nps:g}" if nps.nps is not None else "no responses",
        "digest.nps_change": _signed(figures.nps_change),
        "digest.responses": str(nps.responses),
        "digest.bands": f"{nps.promoters} promoters, {nps.passives} passives, {nps.detractors} detractors",
        "digest.new_detractors_total": str(figures.new_detractors_total),
        "digest.new_detractors": "\n".join(detractors) or "none",
        "digest.new_detractor_details": "\n".join(details),
        "digest.breaching_total": str(figures.breaching_total),
        "digest.breaching": "\n".join(breaching) or "none",
        "digest.root_causes": "\n".join(f"{label}: {count}" for label, count in figures.top_root_causes) or "none",
        "digest.recovery": f"{rate} ({recovery.recovered} of {recovery.resurveyed} re-surveyed detractors "
                           f"now passive or promoter{change})",
        "digest.link": f"{base}/t/{tenant.slug}/feedback/",
    }


def _detractor_details(start: datetime, end: datetime) -> list[str]:
    """The week's new tickets with their contact and account (full digests only)."""
    rows = db.session.execute(
        select(Ticket.number, Ticket.status, Contact.name, CustomerAccount.name)
        .join(Contact, Contact.id == Ticket.contact_id)
        .outerjoin(CustomerAccount, CustomerAccount.id == Ticket.account_id)
        .where(Ticket.opened_at >= start, Ticket.opened_at < end)
        .order_by(Ticket.number).limit(metrics.DIGEST_LIST_LIMIT)
    ).all()
    return [f"{reference(number)}: {STATUSES.get(status, status)}, {name}{f' ({account})' if account else ''}"
            for number, status, name, account in rows]
