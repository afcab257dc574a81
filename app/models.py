"""Every model, imported in one place so migrations and the app see the whole schema."""
from app.accounts.models import Membership, TeamInvitation, Tenant, User
from app.contacts.models import Contact, RecipientRole, contact_role
from app.mail import OutboxMessage
from app.surveys.models import Response, Survey, SurveyInvitation
from app.tickets.models import Activity, Ticket

__all__ = [
    "Activity", "Contact", "Membership", "OutboxMessage", "RecipientRole", "Response", "Survey",
    "SurveyInvitation", "TeamInvitation", "Tenant", "Ticket", "User", "contact_role",
]
