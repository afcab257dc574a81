"""The settings area: admins change how the organisation works, managers may look.

Each section lives in its own module and adds its routes to ``bp``.
"""
from __future__ import annotations

from flask import Blueprint, render_template

from app.tenancy import MANAGING_ROLES, Role, require_role

bp = Blueprint("settings", __name__, url_prefix="/t/<tenant_slug>/settings")

view_settings = require_role(*MANAGING_ROLES)
# Sections only admins may open (the others are shown to managers too).
ADMIN_SECTIONS = ("settings.audit", "api_tokens.index", "integrations.index")
change_settings = require_role(Role.ADMIN)

SECTIONS = [
    ("settings.organisation", "Organisation timezone", "The timezone due times, business hours and dates are counted in."),
    ("settings.scoring", "Scoring", "Score bands and when a ticket opens."),
    ("settings.survey_content", "Survey content", "The question, follow-up questions, thank-you texts and extra questions."),
    ("settings.roles", "Recipient roles", "The roles contacts hold, used to choose who is surveyed."),
    ("settings.sla", "SLA windows", "First-contact and resolution targets, business hours and holidays."),
    ("settings.cadence", "Outreach cadence", "Call and email attempts, and whether to stop chasing non-responders."),
    ("settings.throttling", "Survey throttling", "How often a contact may be surveyed."),
    ("settings.routing", "Routing", "Who new tickets go to: account owners, the routing team, the backlog threshold."),
    ("settings.notifications", "Notification lists", "Who is told about which ticket events, and PHI-safe alerts."),
    ("settings.email_templates", "Email templates", "The wording of every email sent on your behalf."),
    ("settings.account_functions", "Account-team functions", "What people do on an account's team: manager, director, BPA…"),
    ("settings.action_plans", "Action plans and root causes", "Checklists for action plans and the root-cause codes."),
    ("integrations.index", "Integrations", "Receive responses from Delighted, Typeform, SurveyMonkey, Qualtrics, HubSpot or any tool that signs its webhooks."),
    ("settings.feedback", "Feedback and recovery", "Themes for tagging feedback, and the re-survey after a ticket closes."),
    ("settings.audit", "Audit log", "Every settings change: who, when, before and after."),
    ("api_tokens.index", "API", "Tokens for programs that use the REST API, and the API reference."),
    ("team.index", "Team", "Members, roles and invitations."),
]


@bp.get("/")
@view_settings
def index():
    return render_template("settings/index.html", sections=SECTIONS, admin_sections=ADMIN_SECTIONS)


from app.settings import (  # noqa: E402,F401  (each module registers its routes on bp)
    account_functions,
    action_plans,
    audit_log,
    cadence,
    email_templates,
    feedback,
    notifications,
    organisation,
    roles,
    routing,
    scoring,
    sla_windows,
    survey_content,
    throttling,
)
