"""Every model, imported in one place so migrations and the app see the whole schema."""
from app.accounts.models import Membership, TeamInvitation, Tenant, User
from app.api.models import ApiToken, IdempotentRequest, WebhookDelivery, WebhookEndpoint
from app.auth.models import AccountToken
from app.contacts.models import Contact, RecipientRole, contact_role
from app.customers.models import AccountFunction, AccountStatusChange, AccountTeamMember, CustomerAccount
from app.imports.models import ContactImport, ImportRejection
from app.integrations.models import Integration, IntegrationDelivery
from app.feedback.models import DigestSent, RecoverySurvey, Theme, response_theme
from app.mail import OutboxMessage
from app.reports.models import CauseDaily, InvitationDaily, ResponseDaily, RollupState
from app.settings.models import (
    ActionPlanTemplate, AuditEntry, EmailTemplate, Holiday, NotificationList, RootCause, WorkflowSettings,
)
from app.submissions import FormSubmission
from app.surveys.models import Response, ResponseAnswer, Survey, SurveyInvitation, SurveyQuestion
from app.teams.models import Team, team_member
from app.tickets.models import Activity, SavedView, Ticket, ticket_root_cause
from app.workflow.models import ActionPlanItem, ScheduledNotice, Task

__all__ = [
    "ApiToken", "IdempotentRequest", "WebhookDelivery", "WebhookEndpoint",
    "AccountFunction", "AccountStatusChange", "AccountTeamMember", "CustomerAccount", "SavedView", "Team", "team_member",
    "AccountToken", "ContactImport", "ImportRejection", "ActionPlanItem", "ActionPlanTemplate", "Activity", "AuditEntry", "Contact", "EmailTemplate", "Holiday",
    "Integration", "IntegrationDelivery",
    "DigestSent", "RecoverySurvey", "Theme", "response_theme",
    "FormSubmission", "Membership", "NotificationList", "OutboxMessage", "RecipientRole", "Response", "ResponseAnswer", "RootCause",
    "ScheduledNotice", "Survey", "SurveyInvitation", "SurveyQuestion", "Task", "TeamInvitation", "Tenant", "Ticket",
    "User", "WorkflowSettings", "contact_role", "ticket_root_cause", "CauseDaily", "InvitationDaily", "ResponseDaily", "RollupState",
]
