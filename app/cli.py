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
DEMO_COMMENTS = {
    3: "Claims sat for weeks before anyone followed up on the denials.",
    6: "Reports are late every month and nobody calls back.",
}


def seed_demo() -> bool:
    """Create the demo organisation once. Returns False when it already exists."""
    from app.accounts.models import Membership, Tenant
    from app.accounts.services import create_organisation, create_user
    from app.contacts.models import Contact, RecipientRole
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
    # The demo's addresses are local, so no confirmation link could reach them: the demo can send at once.
    admin.email_verified_at = utcnow()
    agent = create_user(name="Sam Rivera", email="sam.rivera@turnaround.localhost", password=DEMO_PASSWORD)
    with tenant_context(tenant.id):
        db.session.add(Membership(user_id=agent.id, role=Role.AGENT))
        roles = {r.name: r for r in db.session.execute(select(RecipientRole)).scalars()}
        survey = surveys.default_survey()
        for name, email, phone, account, role_names, score in DEMO_CONTACTS:
            contact = Contact(name=name, email=email, phone=phone, account_name=account,
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
