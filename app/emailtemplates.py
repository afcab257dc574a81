"""Email templates an organisation can reword: defaults, merge fields, validation and rendering.

A template is a subject and a body with merge fields such as ``{contact.first_name}``. Bodies may use a
little HTML (paragraphs, bold, italics, links, lists); everything else is removed by nh3, so a template
can never put script into a page or a mail. Merge values are escaped when they go into HTML.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3
from flask import render_template
from markupsafe import Markup
from sqlalchemy import select

from app.extensions import db
from app.settings.models import EmailTemplate

FIELD = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)?)\}")
ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "a", "ul", "ol", "li"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}

CONTACT = ("organisation", "contact.first_name", "contact.name", "contact.account")
AGENT = ("agent.name", "agent.first_name", "agent.email", "agent.phone")


@dataclass(frozen=True)
class Spec:
    label: str
    description: str
    subject: str
    body: str
    fields: tuple[str, ...]


SPECS: dict[str, Spec] = {
    "survey_invitation": Spec(
        "Survey invitation", "Sent to each contact you survey.",
        "{organisation}: how likely are you to recommend us?",
        "Hi {contact.first_name},\n\n{survey.question}\n\n{survey.scores}\n\n"
        "It takes less than a minute. Thank you,\n{organisation}",
        CONTACT + ("survey.question", "survey.link", "survey.scores"),
    ),
    "detractor_intro": Spec(
        "Detractor introduction", "Sent automatically to a detractor from the assigned person, who gets the replies.",
        "Your feedback to {organisation}: can we talk?",
        "Hi {contact.first_name},\n\nI'm {agent.name} at {organisation}. Thank you for taking the time to answer "
        "our survey. I'm sorry we did not meet your expectations, and I would like to understand what happened "
        "and how we can put it right.\n\nCould you reply with a convenient time for a short call, and the best "
        "number to reach you?\n\nThank you,\n{agent.name}\n{agent.phone}\n{organisation}",
        CONTACT + AGENT + ("ticket.reference",),
    ),
    "second_outreach": Spec(
        "Second outreach", "The personal follow-up email an agent sends when the first attempts got no answer.",
        "Following up: your feedback to {organisation}",
        "Hi {contact.first_name},\n\nI tried to reach you about the feedback you gave {organisation}. I would still "
        "like to hear what went wrong and how we can help. When would be a good time for a short call?\n\n"
        "Thank you,\n{agent.name}\n{agent.phone}\n{organisation}",
        CONTACT + AGENT + ("ticket.reference",),
    ),
    "manager_alert": Spec(
        "Manager alert", "Sent to the notification lists when a ticket opens. With PHI-safe alerts on, a fixed "
        "alert with only the reference, band, due time and a sign-in link is sent instead.",
        "Detractor ticket {ticket.reference}: score {ticket.score} ({ticket.band})",
        "A detractor ticket was opened for {organisation}.\n\nTicket: {ticket.reference}\n"
        "Score: {ticket.score} ({ticket.band})\nContact: {contact.name}, {contact.account}\n"
        "Email: {contact.email}\nPhone: {contact.phone}\nComment: {ticket.comment}\n"
        "Assigned to: {agent.name}\nFirst contact due: {ticket.due}\n\nOpen the ticket: {ticket.link}",
        CONTACT + ("contact.email", "contact.phone", "contact.external_id", "agent.name", "ticket.reference",
                   "ticket.score", "ticket.band", "ticket.comment", "ticket.due", "ticket.link"),
    ),
    "reminder": Spec(
        "Reminder", "Sent to a task's owner at its reminder time.",
        "Reminder: {task.title} ({ticket.reference})",
        "Hi {recipient.first_name},\n\nThis is your reminder: {task.title}, due {task.due}.\n\n"
        "Open the ticket: {ticket.link}",
        ("organisation", "recipient.first_name", "task.title", "task.due", "ticket.reference", "ticket.link"),
    ),
    "closing_followup": Spec(
        "Closing follow-up", "Sent to the contact when a ticket is closed as resolved, if the agent chooses to.",
        "Thank you for talking with {organisation}",
        "Hi {contact.first_name},\n\nThank you for your time and for helping us improve. If anything else comes "
        "up, just reply to this email.\n\nBest regards,\n{agent.name}\n{organisation}",
        CONTACT + AGENT + ("ticket.reference",),
    ),
}

PHI_SAFE_ALERT = Spec(
    "PHI-safe manager alert", "", "Detractor ticket {ticket.reference} ({ticket.band})",
    "A detractor ticket was opened for {organisation}.\n\nTicket: {ticket.reference}\nBand: {ticket.band}\n"
    "First contact due: {ticket.due}\n\nSign in to see it: {ticket.link}\n\n"
    "This alert carries no patient details because PHI-safe alerts are on.",
    ("organisation", "ticket.reference", "ticket.band", "ticket.due", "ticket.link"),
)

SAMPLE_VALUES = {
    "organisation": "Acme Billing", "contact.first_name": "Dana", "contact.name": "Dana Whitfield",
    "contact.account": "Lakeside Orthopedics", "contact.email": "dana@example.com", "contact.phone": "+1 555 0101",
    "contact.external_id": "PT-1042", "agent.name": "Sam Rivera", "agent.first_name": "Sam",
    "agent.email": "sam@example.com", "agent.phone": "+1 555 0100", "ticket.reference": "D-0042",
    "ticket.score": "4", "ticket.band": "Detractor", "ticket.comment": "Claims sat for weeks.",
    "ticket.due": "Tue 24 Nov, 09:00", "ticket.link": "https://turnaround.example/t/acme/tickets/42",
    "survey.question": "How likely is it that you would recommend Acme Billing to a friend or colleague?",
    "survey.link": "https://turnaround.example/s/sample", "recipient.first_name": "Sam",
    "task.title": "2nd call", "task.due": "Wed 25 Nov, 10:00",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def unknown_fields(text: str, key: str) -> list[str]:
    allowed = set(SPECS[key].fields)
    return sorted({name for name in FIELD.findall(text or "") if name not in allowed})


def sanitise(body: str) -> str:
    return nh3.clean(body or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def current(key: str) -> tuple[str, str, bool]:
    """The tenant's subject and body for ``key``, and whether they are its own (not the default)."""
    row = db.session.execute(select(EmailTemplate).where(EmailTemplate.key == key)).scalar_one_or_none()
    if row is None:
        spec = SPECS[key]
        return spec.subject, spec.body, False
    return row.subject, row.body, True


def _scores_block(links: list[tuple[int, str]]) -> tuple[str, str]:
    cells = "".join(
        f'<td><a href="{html.escape(link)}" style="display:inline-block;width:2.2rem;padding:.5rem 0;'
        f'text-align:center;border:1px solid #ccd;border-radius:4px;text-decoration:none;color:#1d2330;'
        f'font-weight:600;" aria-label="Score {score}">{score}</a></td>'
        for score, link in links
    )
    table = (
        '<table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:separate;'
        f'border-spacing:4px;"><tr>{cells}</tr><tr><td colspan="5" style="font-size:.8rem;color:#666;">'
        'Not at all likely</td><td></td><td colspan="5" style="font-size:.8rem;color:#666;text-align:right;">'
        "Extremely likely</td></tr></table>"
    )
    text = "Click a score (0 = not at all likely, 10 = extremely likely):\n" + "\n".join(
        f"{score}: {link}" for score, link in links
    )
    return table, text


def render(key: str | Spec, values: dict[str, str], *, subject: str | None = None, body: str | None = None,
           score_links: list[tuple[int, str]] | None = None) -> Rendered:
    """Render a template (the tenant's own unless ``subject``/``body`` are given, as in a preview)."""
    if isinstance(key, Spec):
        subject, body = key.subject, key.body
    elif subject is None or body is None:
        own_subject, own_body, _ = current(key)
        subject = own_subject if subject is None else subject
        body = own_body if body is None else body
    blocks_html, blocks_text = {}, {}
    if score_links is not None:
        blocks_html["survey.scores"], blocks_text["survey.scores"] = _scores_block(score_links)

    def text_value(match: re.Match) -> str:
        name = match.group(1)
        return blocks_text.get(name, values.get(name, "")) or ""

    def html_value(match: re.Match) -> str:
        name = match.group(1)
        if name in blocks_html:
            return blocks_html[name]
        return html.escape(values.get(name, "") or "")

    clean = sanitise(body)
    if not re.search(r"<(p|ul|ol)\b", clean):
        paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", clean.strip()) if p.strip()]
        clean = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)
    body_html = FIELD.sub(html_value, clean)
    plain = html.unescape(nh3.clean(re.sub(r"<br\s*/?>|</p>|</li>", "\n", sanitise(body)), tags=set()))
    text = FIELD.sub(text_value, plain)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    subject_text = " ".join(FIELD.sub(text_value, subject).split())
    page = render_template("email/_templated.html", title=subject_text, body=Markup(body_html))
    return Rendered(subject=subject_text, text=text, html=page)
