"""The report pages: NPS overview, follow-up performance and root causes. Every member reads them.

Each page takes its period from the query string (``period`` = 7 / 30 / 90 / quarter / custom with ``from`` and
``to``), so a report is a link; the period form swaps the report region with htmx and works as a plain GET.
Figures come only from :mod:`app.reports.metrics`; the templates receive data and run no queries.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, request, url_for

from app.reports import charts, metrics
from app.rules import RuleError
from app.tenancy import current_tenant
from app.tickets.models import OUTCOMES
from app.views import render_page

bp = Blueprint("reports", __name__, url_prefix="/t/<tenant_slug>/reports")


@bp.app_template_filter("report_minutes")
def report_minutes(minutes: int | None) -> str:
    """A duration in clock minutes as people read it: "45 min", "3 h 05 min", "–" when there is none."""
    if minutes is None:
        return "–"
    hours, rest = divmod(int(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


@bp.app_template_filter("report_percent")
def report_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:g}%"


def _period() -> tuple[metrics.Period, dict, dict[str, str]]:
    """The period asked for, the query-string values that name it (for links), and errors by field."""
    choice = request.args.get("period") or "30"
    if choice not in metrics.PERIOD_CHOICES:
        choice = "30"
    first, last = request.args.get("from"), request.args.get("to")
    errors: dict[str, str] = {}
    try:
        period = metrics.period_for(choice, first, last, current_tenant.timezone)
    except RuleError as error:
        errors[error.field or "period"] = error.message
        period = metrics.period_for("30", None, None, current_tenant.timezone)
    args = {"period": choice}
    if choice == "custom":
        args.update({"from": first or "", "to": last or ""})
    return period, args, errors


def _context(page: str) -> dict:
    period, args, errors = _period()
    return {"report": page, "period": period, "period_args": args, "errors": errors,
            "choices": metrics.PERIOD_CHOICES, "choice": args["period"],
            "first": request.args.get("from") or period.first.isoformat(),
            "last": request.args.get("to") or period.last.isoformat()}


def _step_label(day: date, grain: str) -> str:
    return day.strftime("%b %Y") if grain == "month" else day.strftime("%d %b")


def feedback_url(by: str, key, period) -> str | None:
    """Where a breakdown row leads: the responses behind it in the feedback inbox, for the same days (the rows
    of responses without an account, owner, team or role lead nowhere: the inbox has no such filter)."""
    days = {"period": "custom", "from": period.first.isoformat(), "to": period.last.isoformat()}
    if by == "source":
        return url_for("feedback.index", source=key, **days) if key else None
    if key is None or by not in INBOX_FILTERS:
        return None
    return url_for("feedback.index", **{INBOX_FILTERS[by]: key}, **days)


INBOX_FILTERS = {"account": "account", "owner": "owner", "team": "team", "role": "role"}


@bp.get("/")
def overview():
    context = _context("overview")
    period = context["period"]
    by = request.args.get("by") if request.args.get("by") in metrics.BREAKDOWNS else "source"
    sort = request.args.get("sort") if request.args.get("sort") in metrics.BREAKDOWN_SORTS else "responses"
    descending = request.args.get("dir") != "asc"
    series = metrics.nps_series(period)
    grain = period.grain
    labels = [_step_label(point.starts, grain) for point in series]
    chart = charts.nps_trend(labels, [point.figures.nps for point in series],
                             [str(point.figures.responses) for point in series])
    rows = metrics.nps_breakdown(period, by, sort, descending)
    return render_page(
        "reports/overview.html", "reports/_overview.html", **context,
        nps=metrics.nps_overview(period), rate=metrics.response_rate(period), series=series, labels=labels,
        grain=grain, chart=chart, by=by, breakdowns=metrics.BREAKDOWNS, sort=sort, descending=descending,
        rows=[(row, feedback_url(by, row.key, period)) for row in rows], limit=metrics.BREAKDOWN_LIMIT,
        bands=metrics.BANDS,
    )


@bp.get("/follow-up")
def follow_up():
    context = _context("follow_up")
    period = context["period"]
    return render_page(
        "reports/follow_up.html", "reports/_follow_up.html", **context,
        figures=metrics.follow_up(period), members=metrics.member_load(period), outcomes=OUTCOMES,
        recovery=metrics.recovery(period.start, period.end),
        recovery_by_cause=metrics.recovery_by_root_cause(period.start, period.end),
        recovery_by_member=metrics.recovery_by_member(period.start, period.end),
    )


@bp.get("/root-causes")
def root_causes():
    context = _context("root_causes")
    period = context["period"]
    causes, untagged = metrics.root_cause_pareto(period)
    hrefs = [url_for("tickets.board", cause=cause.cause_id) for cause in causes]
    chart = charts.pareto([c.label for c in causes], [c.tickets for c in causes],
                          [c.cumulative_percent for c in causes], hrefs)
    months, trend = metrics.root_cause_trend(period, causes)
    month_labels = [_step_label(m, "month") for m in months]
    return render_page(
        "reports/root_causes.html", "reports/_root_causes.html", **context,
        causes=list(zip(causes, hrefs)), untagged=untagged, chart=chart, months=month_labels, trend=trend,
        trend_chart=charts.counts_by_step(month_labels, [(row.label, row.counts) for row in trend]),
    )

