"""``/api/v1/reports``: the NPS overview and follow-up performance of chosen days. Every figure comes from
:mod:`app.reports.metrics`, as on the report pages; this module only names the period and serialises."""
from __future__ import annotations

from flask import g, request

from app.api import schemas
from app.api.core import ApiError, bp, responses, spec
from app.reports import metrics
from app.rules import RuleError

TIME_GROUPS = ("week", "month")


def _period(query: schemas.ReportQuery) -> metrics.Period:
    """The days asked for (``from`` and ``to``, both or neither: the last 30 days), checked by the reports'
    own rules (order, at most three years); a refusal is a 422 naming ``from`` or ``to``."""
    timezone = g.tenant.timezone
    if query.from_ is None and query.to is None:
        return metrics.period_for("30", None, None, timezone)
    if query.from_ is None or query.to is None:
        missing = "from" if query.from_ is None else "to"
        raise ApiError(422, "invalid", "Give both from and to, or neither (the last 30 days).", missing)
    try:
        return metrics.period_for("custom", query.from_.isoformat(), query.to.isoformat(), timezone)
    except RuleError as error:
        raise ApiError(422, "invalid", error.message, error.field) from None


def _period_body(period: metrics.Period) -> dict:
    return {"first_day": period.first.isoformat(), "last_day": period.last.isoformat(), "days": period.days,
            "timezone": period.tz}


def _figures(figures: metrics.NpsFigures) -> dict:
    return {"nps": figures.nps, "responses": figures.responses, "promoters": figures.promoters,
            "passives": figures.passives, "detractors": figures.detractors}


def _series(period: metrics.Period, group_by: str) -> list[dict]:
    if group_by in TIME_GROUPS:
        return [{"key": point.starts.isoformat(), "label": point.starts.isoformat(), **_figures(point.figures)}
                for point in metrics.nps_series(period, group_by)]
    return [{"key": row.key, "label": row.name, **_figures(row.figures)}
            for row in metrics.nps_breakdown(period, group_by)]


@bp.get("/reports/nps")
@spec.validate(query=schemas.NpsReportQuery, resp=responses(schemas.NpsReport), tags=["Reports"])
def nps_report():
    """The NPS overview of the days from–to, as the NPS report page shows it: NPS and band counts of the
    responses answered in the period (and of the previous period of the same length), the invitations sent in
    it and the share answered, and a series by week, month, account, recipient role, source or owner."""
    query = request.context.query
    period = _period(query)
    overview, rate = metrics.nps_overview(period), metrics.response_rate(period)
    group_by = query.group_by or period.grain
    current = overview.current
    return {"period": _period_body(period), **_figures(current),
            **{f"{band}s_percent": current.percent(band) for band in metrics.BANDS},
            "previous_nps": overview.previous.nps, "change": overview.change,
            "invitations_sent": rate.sent, "invitations_answered": rate.answered,
            "invitations_open": rate.still_open, "response_rate": rate.rate,
            "group_by": group_by, "series": _series(period, group_by)}, 200


@bp.get("/reports/follow-up")
@spec.validate(query=schemas.ReportQuery, resp=responses(schemas.FollowUpReport), tags=["Reports"])
def follow_up_report():
    """Follow-up performance of the days from–to, as the follow-up report page shows it: tickets opened,
    closed and open now; time to first contact (median and 90th percentile, in minutes of business time when
    the organisation counts business hours) and the share within target; the share resolved within target;
    SLA breaches; the outcome mix; overdue action-plan items; each member's figures; and recovery."""
    period = _period(request.context.query)
    figures, recovery = metrics.follow_up(period), metrics.recovery(period.start, period.end)
    return {
        "period": _period_body(period), "opened": figures.opened, "closed": figures.closed,
        "open_now": figures.open_now, "first_contacts": figures.contacted,
        "first_contact_median_minutes": figures.median_first_contact_minutes,
        "first_contact_p90_minutes": figures.p90_first_contact_minutes,
        "first_contact_within_target": figures.first_contact_within_target,
        "first_contact_within_target_percent": figures.first_contact_within_target_percent,
        "resolved_within_target": figures.resolved_within_target,
        "resolved_within_target_percent": figures.resolved_within_target_percent,
        "sla_breaches": {"first_contact": figures.first_contact_breaches,
                         "resolution": figures.resolution_breaches},
        "outcomes": dict(figures.outcomes), "action_plan_items_overdue": figures.items_overdue,
        "members": [{"user_id": member.user_id, "name": member.name, "capacity": member.capacity,
                     "open_now": member.open_now, "load_percent": member.load_percent, "closed": member.closed,
                     "first_contacts": member.contacted,
                     "median_first_contact_minutes": member.median_first_contact_minutes}
                    for member in metrics.member_load(period)],
        "recovery": {"resurveyed": recovery.resurveyed, "now_passive": recovery.now_passive,
                     "now_promoter": recovery.now_promoter,
                     "recovery_rate": recovery.percent, "average_change": recovery.average_change},
    }, 200
