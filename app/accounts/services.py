"""Organisation sign-up, team invitations and membership changes."""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from sqlalchemy import func, select

from app.accounts.models import Membership, TeamInvitation, Tenant, User
from app.contacts.models import DEFAULT_RECIPIENT_ROLES, RecipientRole
from app.extensions import db
from app.mail import queue_email
from app.security import hash_password, hash_token, new_token
from app.settings.services import seed_workflow_defaults
from app.surveys.models import Survey
from app.tenancy import tenant_context, unscoped
from app.timeutil import utcnow
from app.urls import absolute_url

INVITATION_LIFETIME = timedelta(days=7)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def _slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
    return slug or "org"


def unique_slug(name: str) -> str:
    base = _slugify(name)
    taken = set(db.session.execute(select(Tenant.slug).where(Tenant.slug.like(f"{base}%"))).scalars())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_organisation(*, name: str, kind: str, timezone: str, admin_name: str, email: str, password: str) -> tuple[Tenant, User]:
    """Create a tenant with its first admin, default survey and default recipient roles, in one transaction."""
    tenant = Tenant(name=name.strip(), kind=kind, timezone=timezone, slug=unique_slug(name))
    user = User(name=admin_name.strip(), email=normalise_email(email), password_hash=hash_password(password))
    db.session.add_all([tenant, user])
    db.session.flush()
    with tenant_context(tenant.id):
        seed_tenant_defaults(tenant)
        db.session.add(Membership(user_id=user.id, role="admin"))
        db.session.flush()
    return tenant, user


def seed_tenant_defaults(tenant: Tenant) -> None:
    """Everything a new organisation starts with: the default NPS survey, recipient roles and workflow."""
    db.session.add(Survey())
    for role_name in DEFAULT_RECIPIENT_ROLES:
        db.session.add(RecipientRole(name=role_name))
    seed_workflow_defaults(tenant)


def user_memberships(user: User) -> list[Membership]:
    """The user's active memberships across every tenant, for the organisation switcher."""
    return list(
        db.session.execute(
            unscoped(
                select(Membership)
                .join(Tenant, Tenant.id == Membership.tenant_id)
                .where(Membership.user_id == user.id, Membership.is_active.is_(True))
                .order_by(Tenant.name)
            )
        ).scalars()
    )


def invite_member(*, tenant: Tenant, email: str, role: str, invited_by: User) -> TeamInvitation:
    """Record an invitation and queue its email; any earlier pending invitation for the address is revoked."""
    email = normalise_email(email)
    now = utcnow()
    for earlier in db.session.execute(
        select(TeamInvitation).where(
            TeamInvitation.email == email, TeamInvitation.accepted_at.is_(None), TeamInvitation.revoked_at.is_(None)
        )
    ).scalars():
        earlier.revoked_at = now
    token, token_hash = new_token()
    invitation = TeamInvitation(
        email=email, role=role, token_hash=token_hash, invited_by_id=invited_by.id,
        expires_at=now + INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    db.session.flush()
    link = absolute_url("accounts.accept_invitation", token=token)
    queue_email(
        kind="team_invitation",
        to_address=email,
        to_name=None,
        subject=f"{invited_by.name} invited you to {tenant.name} on Turnaround",
        template="team_invitation",
        context={"tenant": tenant, "inviter": invited_by, "role": role, "link": link,
                 "expires_at": invitation.expires_at},
        reply_to=invited_by.email,
    )
    return invitation


def find_invitation(token: str) -> TeamInvitation | None:
    """The pending, unexpired invitation behind ``token``, looked up across tenants by its hash."""
    invitation = db.session.execute(
        unscoped(select(TeamInvitation).where(TeamInvitation.token_hash == hash_token(token)))
    ).scalar_one_or_none()
    if invitation is None or invitation.state != "pending":
        return None
    return invitation


def accept_invitation(invitation: TeamInvitation, user: User) -> Membership:
    """Join ``user`` to the invitation's tenant (reactivating an old membership) and consume the invitation."""
    with tenant_context(invitation.tenant_id):
        membership = db.session.execute(
            select(Membership).where(Membership.user_id == user.id)
        ).scalar_one_or_none()
        if membership is None:
            membership = Membership(user_id=user.id, role=invitation.role)
            db.session.add(membership)
        else:
            membership.role, membership.is_active = invitation.role, True
        invitation.accepted_at = utcnow()
        db.session.flush()
    return membership


def create_user(*, name: str, email: str, password: str) -> User:
    user = User(name=name.strip(), email=normalise_email(email), password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    return user


def active_admin_count() -> int:
    return db.session.execute(
        select(func.count()).select_from(Membership).where(Membership.role == "admin", Membership.is_active.is_(True))
    ).scalar_one()
