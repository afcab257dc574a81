"""Email templates an organisation can reword: defaults, merge fields, validation and rendering.

A template is a subject and a body with merge fields such as ``{contact.first_name}``. Bodies may use a
little HTML (paragraphs, bold, italics, links, lists); everything else is removed by nh3, so a template
can never put script into a page or a mail. Merge values are escaped when they go into HTML.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3
from flask import render_template
from markupsafe import Markup, escape
from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.rules import RuleError
from app.settings.models import EmailTemplate

FIELD = re.compile(r"\{([a-z_]+(?:\.[a-z_]+){0,2})\}")
# Anything that looks like a merge field, in any case, so "{Contact.SSN}" is refused rather than sent as is.
FIELD_LIKE = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}")
ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "a", "ul", "ol", "li"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}

CONTACT = ("organisation", "contact.first_name", "contact.name", "contact.account")
AGENT = ("agent.name", "agent.first_name", "agent.email", "agent.phone", "agent.title", "agent.signature")
# The account (company, practice or programme) and the people over it: its owner and, as blocks of one person
# per line, the members of its team whose function is Manager or Director (the SOP's "contact details for the
# managers and directors over that particular account").
ACCOUNT = ("account.name", "account.owner.name", "account.owner.title", "account.owner.email",
           "account.owner.phone", "account.managers", "account.directors")
# Fields whose value is several lines. A paragraph built around such blocks is left out when they are all empty,
# so "Your managers: {account.managers}" disappears for an account with no manager.
BLOCK_FIELDS = frozenset({"account.managers", "account.directors"})
# The account-team functions whose members fill the blocks, compared without case.
BLOCK_FUNCTIONS = {"manager": "account.managers", "director": "account.directors"}


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
        "number to reach you?\n\nIf you ever need them, these are the managers and directors over your account:"
        "\n{account.managers}\n{account.directors}\n\n"
        "Thank you,\n{agent.name}\n{agent.title}\n{agent.phone}\n{organisation}",
        CONTACT + AGENT + ACCOUNT + ("ticket.reference",),
    ),
    "second_outreach": Spec(
        "Second outreach", "The personal follow-up email an agent sends when the first attempts got no answer.",
        "Following up: your feedback to {organisation}",
        "Hi {contact.first_name},\n\nI tried to reach you about the feedback you gave {organisation}. I would still "
        "like to hear what went wrong and how we can help. When would be a good time for a short call?\n\n"
        "Thank you,\n{agent.name}\n{agent.phone}\n{organisation}",
        CONTACT + AGENT + ACCOUNT + ("ticket.reference",),
    ),
    "manager_alert": Spec(
        "Manager alert", "Sent to the notification lists when a ticket opens. With PHI-safe alerts on, a fixed "
        "alert with only the reference, band, why it opened (without the patient's answers), due time, a sign-in "
        "link and, if allowed, the contact's external id is sent instead.",
        "Detractor ticket {ticket.reference}: {ticket.why}",
        "A detractor ticket was opened for {organisation}.\n\nTicket: {ticket.reference}\n"
        "Why it opened: {ticket.why}\nContact: {contact.name}, {contact.account}\n"
        "Email: {contact.email}\nPhone: {contact.phone}\nComment: {ticket.comment}\n"
        "Assigned to: {agent.name}\nFirst contact due: {ticket.due}\n\nOpen the ticket: {ticket.link}",
        CONTACT + ("contact.email", "contact.phone", "contact.external_id", "agent.name", "ticket.reference",
                   "ticket.score", "ticket.band", "ticket.why", "ticket.comment", "ticket.due", "ticket.link"),
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
        CONTACT + AGENT + ACCOUNT + ("ticket.reference",),
    ),
}

SAMPLE_VALUES = {
    "organisation": "Acme Billing", "contact.first_name": "Dana", "contact.name": "Dana Whitfield",
    "contact.account": "Lakeside Orthopedics", "contact.email": "dana@example.com", "contact.phone": "+1 555 0101",
    "contact.external_id": "PT-1042", "agent.name": "Sam Rivera", "agent.first_name": "Sam",
    "agent.email": "sam@example.com", "agent.phone": "+1 555 0100", "ticket.reference": "D-0042",
    "ticket.score": "4", "ticket.band": "Detractor", "ticket.why": "Score 4 — Detractor",
    "ticket.comment": "Claims sat for weeks.",
    "ticket.due": "Tue 24 Nov, 09:00", "ticket.link": "https://turnaround.example/t/acme/tickets/42",
    "survey.question": "How likely is it that you would recommend Acme Billing to a friend or colleague?",
    "survey.link": "https://turnaround.example/s/sample", "recipient.first_name": "Sam",
    "task.title": "2nd call", "task.due": "Wed 25 Nov, 10:00",
    "agent.title": "Business analyst, Customer Success", "agent.signature": "Sam Rivera\nCustomer Success, Acme Billing",
    "account.name": "Lakeside Orthopedics", "account.owner.name": "Jordan Lee",
    "account.owner.title": "Account manager", "account.owner.email": "jordan@example.com",
    "account.owner.phone": "+1 555 0110",
    "account.managers": "Pat Morgan, Billing manager, pat@example.com, +1 555 0111",
    "account.directors": "Alex Chen, Director of operations, alex@example.com, +1 555 0112",
}
# What the less obvious fields hold, for the template editor's list.
FIELD_HELP = {
    "agent.title": "The job title on the assigned person's profile.",
    "agent.signature": "The email signature on the assigned person's profile.",
    "account.name": "The contact's company, practice or programme.",
    "account.owner.name": "The account owner (a member of your team).",
    "account.managers": "Everyone on the account team whose function is Manager: name, title, email and phone, "
                        "one per line. Empty when there is none.",
    "account.directors": "Everyone on the account team whose function is Director: name, title, email and phone, "
                         "one per line. Empty when there is none.",
}


@dataclass(frozen=True)
class Person:
    """Someone an email names, as their profile has them."""

    name: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None

    @property
    def line(self) -> str:
        """"Name, title, email, phone", leaving out what is not known."""
        return ", ".join(part for part in (self.name, self.title, self.email, self.phone) if part)


def agent_values(person: Person, signature: str | None = None) -> dict[str, str]:
    """The ``agent.*`` merge values of the member an email is from (or about)."""
    return {"agent.name": person.name, "agent.first_name": person.name.split()[0] if person.name.strip() else "",
            "agent.email": person.email or "", "agent.phone": person.phone or "", "agent.title": person.title or "",
            "agent.signature": signature or ""}


def account_values_of(name: str | None, owner: Person | None, managers: list[Person],
                      directors: list[Person]) -> dict[str, str]:
    """The ``account.*`` merge values: every field present, empty when the contact has no account."""
    owner = owner or Person("")
    return {"account.name": name or "", "account.owner.name": owner.name, "account.owner.title": owner.title or "",
            "account.owner.email": owner.email or "", "account.owner.phone": owner.phone or "",
            "account.managers": "\n".join(p.line for p in managers),
            "account.directors": "\n".join(p.line for p in directors)}


NO_ACCOUNT = account_values_of(None, None, [], [])


def account_values(account_ids) -> dict[int, dict[str, str]]:
    """The ``account.*`` merge values of each of ``account_ids``, in one query whatever their number: the
    accounts with their owners, each joined to the members of its team whose function is Manager or Director,
    by name. A batch of emails (the sweep, a service's batch) builds them once for all its recipients.

    The ids come from rows already read in their organisation (a ticket's account), so the statement names
    its rows by id and may cross organisations, as a sweep's batch does.
    """
    from sqlalchemy.orm import aliased

    from app.accounts.models import User
    from app.customers.models import AccountFunction, AccountTeamMember, CustomerAccount
    from app.tenancy import unscoped

    ids = sorted({int(i) for i in account_ids if i})
    if not ids:
        return {}
    owner, person = aliased(User), aliased(User)
    team = (select(AccountTeamMember.account_id, AccountTeamMember.id, AccountFunction.name.label("function"),
                   person.name, person.job_title, person.email, person.phone)
            .join(AccountFunction, AccountFunction.id == AccountTeamMember.function_id)
            .join(person, person.id == AccountTeamMember.user_id)
            .where(AccountTeamMember.account_id.in_(ids),
                   func.lower(AccountFunction.name).in_(list(BLOCK_FUNCTIONS)))
            .subquery())
    people: dict[int, dict[str, list[Person]]] = {}
    found: dict[int, tuple[str, Person | None]] = {}
    for row in db.session.execute(unscoped(
            select(CustomerAccount.id, CustomerAccount.name, owner.name.label("owner_name"),
                   owner.job_title.label("owner_title"), owner.email.label("owner_email"),
                   owner.phone.label("owner_phone"), team.c.function, team.c.name.label("person_name"),
                   team.c.job_title, team.c.email, team.c.phone)
            .outerjoin(owner, owner.id == CustomerAccount.owner_id)
            .outerjoin(team, team.c.account_id == CustomerAccount.id)
            .where(CustomerAccount.id.in_(ids))
            .order_by(CustomerAccount.id, team.c.name, team.c.id))):
        if row.id not in found:
            found[row.id] = (row.name, Person(row.owner_name, row.owner_title, row.owner_email, row.owner_phone)
                             if row.owner_name else None)
            people[row.id] = {"account.managers": [], "account.directors": []}
        if row.function is not None:
            people[row.id][BLOCK_FUNCTIONS[row.function.lower()]].append(
                Person(row.person_name, row.job_title, row.email, row.phone))
    return {account_id: account_values_of(name, owner_person, people[account_id]["account.managers"],
                                          people[account_id]["account.directors"])
            for account_id, (name, owner_person) in found.items()}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def unknown_fields(text: str, key: str) -> list[str]:
    """Merge fields in ``text`` that template ``key`` does not offer, in order of first use."""
    allowed = set(SPECS[key].fields)
    found: dict[str, None] = {}
    for match in FIELD_LIKE.finditer(text or ""):
        if match.group(1) not in allowed:
            found.setdefault(match.group(0), None)
    return list(found)


def unknown_fields_message(text: str, key: str) -> str | None:
    """The error to show next to a subject or body that uses fields ``key`` does not offer, or None."""
    unknown = unknown_fields(text, key)
    if not unknown:
        return None
    noun = "merge field" if len(unknown) == 1 else "merge fields"
    return f"Unknown {noun} {', '.join(unknown)}. Use only the merge fields listed for this email."


def sanitise(body: str) -> str:
    return nh3.clean(body or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def current(key: str) -> tuple[str, str, bool]:
    """The tenant's subject and body for ``key``, and whether they are its own (not the default)."""
    return current_many([key])[key]


def current_many(keys: list[str]) -> dict[str, tuple[str, str, bool]]:
    """:func:`current` for several keys in one query."""
    rows = {row.key: row for row in db.session.execute(select(EmailTemplate).where(EmailTemplate.key.in_(keys))).scalars()}
    found = {}
    for key in keys:
        row = rows.get(key)
        found[key] = (row.subject, row.body, True) if row else (SPECS[key].subject, SPECS[key].body, False)
    return found


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
    return prepare(key, subject=subject, body=body).render(values, score_links=score_links)


_TITLE_SLOT, _BODY_SLOT = "\x00title\x00", "\x00body\x00"
_TEXT_PARAGRAPH = re.compile(r"(?:(?!\n\s*\n).)+", re.S)
_HTML_PARAGRAPH = re.compile(r"<(p|li)>.*?</\1>", re.S)


def _without_empty_blocks(body: str, values: dict[str, str], paragraph: re.Pattern) -> str:
    """``body`` less each paragraph whose block fields (:data:`BLOCK_FIELDS`) all have no value, so a heading
    written above an empty list of managers goes with it."""

    def keep(match: re.Match) -> str:
        blocks = [name for name in FIELD.findall(match.group(0)) if name in BLOCK_FIELDS]
        if blocks and not any((values.get(name) or "").strip() for name in blocks):
            return ""
        return match.group(0)

    return paragraph.sub(keep, body)


@dataclass
class Prepared:
    """A template sanitised and laid out once, to be merged with many recipients' values (a bulk send):
    merging is only field substitution, so it costs a small fraction of a full :func:`render`."""

    subject: str
    text: str
    html_body: str
    page: str  # the email layout with slots for the title and the body

    def render(self, values: dict[str, str], *, score_links: list[tuple[int, str]] | None = None) -> Rendered:
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
            return html.escape(values.get(name, "") or "").replace("\n", "<br>")

        text = FIELD.sub(text_value, _without_empty_blocks(self.text, values, _TEXT_PARAGRAPH))
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        subject_text = " ".join(FIELD.sub(text_value, self.subject).split())
        page = self.page.replace(_TITLE_SLOT, str(escape(subject_text))).replace(
            _BODY_SLOT, FIELD.sub(html_value, _without_empty_blocks(self.html_body, values, _HTML_PARAGRAPH)))
        return Rendered(subject=subject_text, text=text, html=page)


def prepare(key: str | Spec, *, subject: str | None = None, body: str | None = None) -> Prepared:
    """The template for ``key`` (the tenant's own unless ``subject``/``body`` are given), sanitised and laid out,
    ready for :meth:`Prepared.render`."""
    if isinstance(key, Spec):
        subject, body = key.subject, key.body
    elif subject is None or body is None:
        own_subject, own_body, _ = current(key)
        subject = own_subject if subject is None else subject
        body = own_body if body is None else body
    clean = sanitise(body)
    if not re.search(r"<(p|ul|ol)\b", clean):
        paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", clean.strip()) if p.strip()]
        clean = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)
    plain = html.unescape(nh3.clean(re.sub(r"<br\s*/?>|</p>|</li>", "\n", sanitise(body)), tags=set()))
    page = render_template("email/_templated.html", title=Markup(_TITLE_SLOT), body=Markup(_BODY_SLOT))
    return Prepared(subject=subject, text=plain, html_body=clean, page=page)


def sample_score_links() -> list[tuple[int, str]]:
    """Score buttons for a preview, pointing nowhere real."""
    return [(score, f"{SAMPLE_VALUES['survey.link']}?score={score}") for score in range(11)]


def sample_values(organisation: str | None = None) -> dict[str, str]:
    """The sample merge values, naming ``organisation`` (the admin's own) where they name one."""
    if not organisation:
        return SAMPLE_VALUES
    return {name: value.replace("Acme Billing", organisation) for name, value in SAMPLE_VALUES.items()}


def preview(key: str, subject: str | None = None, body: str | None = None, *,
            organisation: str | None = None) -> Rendered:
    """Template ``key`` (a draft when ``subject``/``body`` are given) rendered with the sample values, naming
    ``organisation``."""
    links = sample_score_links() if "survey.scores" in SPECS[key].fields else None
    return render(key, sample_values(organisation), subject=subject, body=body, score_links=links)


class _Markup(HTMLParser):
    """Counts the tags and attributes in some HTML, to tell whether sanitising removed any."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: Counter = Counter()

    def handle_starttag(self, tag, attrs):
        self.items[tag] += 1
        for name, value in attrs:
            if not (tag == "a" and name == "rel"):  # nh3 adds rel to links; that is not a removal
                self.items[f"{tag}[{name}={value}]"] += 1

    handle_startendtag = handle_starttag


def _markup(text: str) -> Counter:
    parser = _Markup()
    parser.feed(text)
    parser.close()
    return parser.items


def clean_for_storage(body: str) -> tuple[str, bool]:
    """The body to store, and whether unsafe HTML had to be removed from it.

    Safe bodies are stored as typed (so "Tom & Jerry" stays readable in the editor); a body carrying a tag,
    attribute or link scheme that mail may not carry is stored sanitised. Either way :func:`render` sanitises.
    """
    clean = sanitise(body)
    if _markup(body or "") - _markup(clean):
        return clean, True
    return body, False


@dataclass(frozen=True)
class Saved:
    changed: bool
    cleaned: bool


def _own_row(key: str) -> EmailTemplate | None:
    return db.session.execute(select(EmailTemplate).where(EmailTemplate.key == key)).scalar_one_or_none()


def save(key: str, subject: str, body: str) -> Saved:
    """Store the organisation's wording for ``key`` and audit the change (subject and body, before → after).

    Unknown merge fields are refused with :class:`~app.rules.RuleError` and nothing is written.
    """
    spec = SPECS[key]
    for field, text in (("subject", subject), ("body", body)):
        message = unknown_fields_message(text, key)
        if message:
            raise RuleError(message, field)
    row = _own_row(key)
    before = {"subject": row.subject if row else spec.subject, "body": row.body if row else spec.body}
    stored_body, cleaned = clean_for_storage(body)
    after = {"subject": subject, "body": stored_body}
    changes = audit.diff(before, after)
    if not changes:
        return Saved(changed=False, cleaned=cleaned)
    if row is None:
        db.session.add(EmailTemplate(key=key, subject=subject, body=stored_body))
    else:
        row.subject, row.body = subject, stored_body
    audit.record("email_templates", f"Changed the {spec.label.lower()} email", changes)
    return Saved(changed=True, cleaned=cleaned)


def reset(key: str) -> bool:
    """Go back to the default wording for ``key`` (delete the organisation's row); False if it had none."""
    spec = SPECS[key]
    row = _own_row(key)
    if row is None:
        return False
    changes = audit.diff({"subject": row.subject, "body": row.body}, {"subject": spec.subject, "body": spec.body})
    db.session.delete(row)
    audit.record("email_templates", f"Reset the {spec.label.lower()} email to the default wording",
                 changes or {"wording": ["own", "default"]})
    return True


def customised_keys() -> set[str]:
    """The template keys the organisation has reworded, in one query."""
    return set(db.session.execute(select(EmailTemplate.key)).scalars())
