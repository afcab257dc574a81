"""Command-line tasks: ``flask seed-demo`` and ``flask sweep``."""
from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.tenancy import Role

DEMO_SLUG = "demo-billing"
DEMO_EMAIL = "demo@turnaround.localhost"
DEMO_PASSWORD = "demo-password"

DEMO_CONTACTS = [
    ("Dana Whitfield", "dana.whitfield@lakeside-ortho.example", "+1 555 0101", "Lakeside Orthopedics", ["Signer"], 3),
    ("Marcus Reyes", "marcus.reyes@lakeside-ortho.example", "+1 555 0102", "Lakeside Orthopedics", ["NPS Recipient"], 9),
    ("Priya Natarajan", "priya@northgate-cardio.example", "+1 555 0103", "Northgate Cardiology", ["Signer", "NPS Recipient"], 6),
    ("Tom Becker", "tom.becker@pinecrest-fm.example", "+1 555 0104", "Pinecrest Family Medicine", ["NPS Recipient"], 8),
    ("Alicia Gomez", "agomez@harbor-peds.example", "+1 555 0105", "Harbor Pediatrics", ["Signer"], 10),
    ("Wen Li", "wen.li@summit-derm.example", "+1 555 0106", "Summit Dermatology", ["NPS Recipient"], None),
    ("Grace Okafor", "grace@eastside-pt.example", "+1 555 0107", "Eastside Physical Therapy", ["Signer"], None),
]
# The demo's account team: (name, email, job title, phone, role) of each extra member, and who sits on which
# account in which function. The account owners are Sam Rivera (agent) and Jordan Demo (admin).
DEMO_PEOPLE = [
    ("Pat Morgan", "pat.morgan@turnaround.localhost", "Billing manager", "+1 555 0111", Role.MANAGER),
    ("Alex Chen", "alex.chen@turnaround.localhost", "Director of operations", "+1 555 0112", Role.MANAGER),
]
DEMO_TEAMS = {
    "Lakeside Orthopedics": [("Sam Rivera", "Business analyst"), ("Pat Morgan", "Manager"), ("Alex Chen", "Director")],
    "Northgate Cardiology": [("Sam Rivera", "BPA"), ("Pat Morgan", "Manager"), ("Alex Chen", "Director")],
    "Pinecrest Family Medicine": [("Pat Morgan", "Manager")],
}
DEMO_COMMENTS = {
    3: "Claims sat for weeks before anyone followed up on the denials.",
    6: "Reports are late every month and nobody calls back.",
}


def seed_demo() -> bool:
    """Create the demo organisation once. Returns False when it already exists."""
    from app.accounts.models import Membership, Tenant
    from app.accounts.services import create_organisation, create_user
    from app.contacts.models import Contact, RecipientRole
    from app.customers.models import AccountFunction, AccountTeamMember, CustomerAccount
    from app.security import new_token
    from app.surveys import services as surveys
    from app.surveys.models import SurveyInvitation
    from app.tenancy import tenant_context
    from app.timeutil import utcnow

    if db.session.execute(select(Tenant).where(Tenant.slug == DEMO_SLUG)).scalar_one_or_none():
        return False
    tenant, admin = create_organisation(
        name="Demo Billing Co", kind="billing", timezone="America/New_York",
        admin_name="Jordan Demo", email=DEMO_EMAIL, password=DEMO_PASSWORD,
    )
    tenant.slug = DEMO_SLUG
    admin.phone = "+1 555 0100"
    admin.job_title = "Head of customer success"
    # The demo's addresses are local, so no confirmation link could reach them: the demo can send at once.
    admin.email_verified_at = utcnow()
    agent = create_user(name="Sam Rivera", email="sam.rivera@turnaround.localhost", password=DEMO_PASSWORD)
    agent.job_title, agent.phone = "Business analyst, Customer Success", "+1 555 0109"
    people = {admin.name: admin, agent.name: agent}
    with tenant_context(tenant.id):
        db.session.add(Membership(user_id=agent.id, role=Role.AGENT))
        for name, email, title, phone, role in DEMO_PEOPLE:
            person = create_user(name=name, email=email, password=DEMO_PASSWORD)
            person.job_title, person.phone = title, phone
            db.session.add(Membership(user_id=person.id, role=role))
            people[name] = person
        db.session.flush()
        functions = {f.name: f for f in db.session.execute(select(AccountFunction)).scalars()}
        accounts = {}
        for number, account_name in enumerate(dict.fromkeys(row[3] for row in DEMO_CONTACTS)):
            owner = agent if number % 2 == 0 else admin
            account = CustomerAccount(name=account_name, owner_id=owner.id, external_id=f"HS-{1001 + number}")
            db.session.add(account)
            accounts[account_name] = account
        db.session.flush()
        for account_name, seats in DEMO_TEAMS.items():
            db.session.add_all([AccountTeamMember(account_id=accounts[account_name].id, user_id=people[person].id,
                                                  function_id=functions[function].id) for person, function in seats])
        roles = {r.name: r for r in db.session.execute(select(RecipientRole)).scalars()}
        survey = surveys.default_survey()
        for name, email, phone, account, role_names, score in DEMO_CONTACTS:
            contact = Contact(name=name, email=email, phone=phone, account_id=accounts[account].id,
                              roles=[roles[r] for r in role_names])
            db.session.add(contact)
            db.session.flush()
            if score is None:
                continue
            _, token_hash = new_token()
            invitation = SurveyInvitation(survey_id=survey.id, contact_id=contact.id, token_hash=token_hash,
                                          sent_by_id=admin.id, expires_at=utcnow() + surveys.INVITATION_LIFETIME)
            db.session.add(invitation)
            db.session.flush()
            surveys.record_answer(invitation, score, DEMO_COMMENTS.get(score))
    db.session.commit()
    return True


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo organisation (idempotent) and print its login."""
        created = seed_demo()
        click.echo("Demo organisation created." if created else "Demo organisation already exists.")
        click.echo(f"Log in at {app.config['BASE_URL']}/login as {DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("sweep")
    def sweep_command():
        """Enqueue everything due now (the worker does this every SWEEP_INTERVAL_SECONDS)."""
        from app.jobs import sweep

        click.echo(sweep())
