"""A personal email an agent writes on a ticket: its starting wording, merge values, sender and outbox row.

It is mail to the contact (and others at their account) about their own ticket, written by a person, so
the PHI-safe rules for alerts do not apply (as for the introduction email, ``DetractorIntro.to_contact``).
It is sent **from the agent**: the display name is the agent's name and replies go to the agent
(Reply-To), while the envelope and From address stay the configured sender, as with survey invitations.
Wording comes from the organisation's templates (:mod:`app.emailtemplates`), rendered by the same code.
"""
from __future__ import annotations

from app import emailtemplates
from app.accounts.models import Tenant, User
from app.emailtemplates import Rendered
from app.extensions import db
from app.mail import OutboxMessage, queue_email
from app.tenancy import current_tenant_id

KIND = "personal_email"
# The templates an agent starts a personal email from, as offered on the ticket.
TEMPLATES = {"second_outreach": "Second outreach", "closing_followup": "Closing follow-up"}


def merge_values(ticket, agent: User) -> dict[str, str]:
    """The merge fields of a personal email on ``ticket`` written by ``agent``: organisation, contact, the
    agent's profile, the account and the people over it (app.emailtemplates builds the agent and account
    values, as it does for every email), and the ticket's reference."""
    organisation = db.session.get(Tenant, current_tenant_id())
    contact = ticket.contact
    account_id = ticket.account_id or contact.account_id
    account = emailtemplates.account_values([account_id]).get(account_id, emailtemplates.NO_ACCOUNT) \
        if account_id else emailtemplates.NO_ACCOUNT
    agent_person = emailtemplates.Person(agent.name, agent.job_title, agent.email, agent.phone)
    return {
        "organisation": organisation.name, "contact.first_name": contact.first_name, "contact.name": contact.name,
        "contact.account": account["account.name"], "ticket.reference": ticket.reference,
        **emailtemplates.agent_values(agent_person, agent.email_signature), **account,
    }


def drafts(keys, ticket, agent: User) -> dict[str, Rendered]:
    """Templates ``keys`` in the organisation's wording with the merge fields filled: where the agent starts.
    One query for the wording of all of them."""
    values = merge_values(ticket, agent)
    wording = emailtemplates.current_many(list(keys))
    return {key: emailtemplates.render(key, values, subject=subject, body=body)
            for key, (subject, body, _) in wording.items()}


def problems(key: str, subject: str | None, body: str | None, fields: tuple[str, str] = ("subject", "body")) -> dict:
    """What is wrong with a subject and body an agent wrote from template ``key``, by form field (empty if
    nothing): each must be there, and use only the merge fields the template offers."""
    found = {}
    for name, text, missing in ((fields[0], subject, "Enter the email's subject."),
                                (fields[1], body, "Write the email before sending it.")):
        if not (text or "").strip():
            found[name] = missing
        else:
            message = emailtemplates.unknown_fields_message(text, key)
            if message:
                found[name] = message
    return found


def render(key: str, ticket, agent: User, subject: str, body: str) -> Rendered:
    """What the agent wrote, as it will be sent: merge fields filled, laid out as every email is."""
    return emailtemplates.render(key, merge_values(ticket, agent), subject=subject, body=body)


def sender(agent: User) -> tuple[str, str]:
    """``(display name, Reply-To)`` of a personal email: the agent."""
    return agent.name, agent.email


def queue(ticket, agent: User, rendered: Rendered, *, to_address: str, to_name: str | None,
          cc: list[str] | None = None) -> OutboxMessage:
    """Add the email to the outbox in the current transaction; it is handed to the mail queue after commit."""
    from_name, reply_to = sender(agent)
    return queue_email(kind=KIND, to_address=to_address, to_name=to_name, subject=rendered.subject,
                       text_body=rendered.text, html_body=rendered.html, from_name=from_name, reply_to=reply_to,
                       cc=cc or None, ticket_id=ticket.id)
