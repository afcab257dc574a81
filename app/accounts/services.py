"""Organisation sign-up, team invitations and membership changes."""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from app import audit
from app.accounts.models import Membership, TeamInvitation, Tenant, User
from app.auth import services as auth
from app.contacts.models import DEFAULT_RECIPIENT_ROLES, RecipientRole
from app.extensions import db
from app.mail import queue_email
from app.rules import RuleError
from app.security import hash_password, hash_token, new_token
from app.settings.services import seed_workflow_defaults
from app.surveys.models import Survey
from app.tenancy import ROLES, ROLE_LABELS, Role, tenant_context, unscoped
from app.tickets import services as tickets
from app.tickets.models import Status, Ticket
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
        db.session.add(Membership(user_id=user.id, role=Role.ADMIN))
        db.session.flush()
    return tenant, user


def sign_up(*, name: str, kind: str, timezone: str, admin_name: str, email: str, password: str) -> Tenant | None:
    """Create the organisation and email its first admin a link to confirm the address; the caller answers
    "check your email" whatever happened.

    When the address already has an account nothing is created and its owner is emailed instead, after the
    same password hashing a new account costs, so neither the page nor its timing says the address is taken.
    """
    existing = find_user_by_email(email)
    if existing is not None:
        hash_password(password)
        auth.tell_owner_about_sign_up(existing)
        return None
    tenant, user = create_organisation(name=name, kind=kind, timezone=timezone, admin_name=admin_name,
                                       email=email, password=password)
    auth.send_verification(user, tenant)
    return tenant


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
        # The invitation's link was emailed to this address, so whoever used it reads mail there.
        auth.mark_verified(user)
        db.session.flush()
    return membership


def create_user(*, name: str, email: str, password: str) -> User:
    user = User(name=name.strip(), email=normalise_email(email), password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    return user


AUDIT_AREA = "team"


def _locked_active_admin_ids() -> list[int]:
    """The active admins' membership ids, row-locked (on PostgreSQL) until the transaction ends, so two
    admins demoting or deactivating each other at the same moment cannot leave the organisation with none."""
    return list(
        db.session.execute(
            select(Membership.id)
            .where(Membership.role == Role.ADMIN, Membership.is_active.is_(True))
            .with_for_update()
        ).scalars()
    )


def _refuse_if_last_admin(membership: Membership, consequence: str) -> None:
    if membership.role != Role.ADMIN or not membership.is_active:
        return
    if not [admin_id for admin_id in _locked_active_admin_ids() if admin_id != membership.id]:
        raise RuleError(
            f"{membership.user.name} is the last active admin, so {consequence}. "
            "Make someone else an admin first."
        )


def active_member_with_email(email: str) -> Membership | None:
    """The current tenant's active membership of the user with ``email``, if any."""
    return db.session.execute(
        select(Membership).join(User, User.id == Membership.user_id)
        .where(User.email == normalise_email(email), Membership.is_active.is_(True))
    ).scalar_one_or_none()


def change_role(membership: Membership, role: str) -> bool:
    """Give an active member another role; returns False when the role is already theirs.

    The last active admin keeps the admin role, even when they ask to step down themselves.
    """
    if role not in ROLES:
        raise RuleError("Choose Admin, Manager, Agent or Viewer.", "role")
    name = membership.user.name
    if not membership.is_active:
        raise RuleError(f"Reactivate {name} before changing their role.", "role")
    if membership.role == role:
        return False
    _refuse_if_last_admin(membership, "they must stay an admin")
    before = audit.snapshot(membership, ["role"])
    membership.role = role
    audit.record(AUDIT_AREA, f"Changed {name}’s role from {ROLE_LABELS[before['role']]} to {ROLE_LABELS[role]}",
                 audit.diff(before, audit.snapshot(membership, ["role"])))
    return True


def deactivate_member(membership: Membership, actor: User) -> bool:
    """Take a member out of the organisation: they can no longer open it, and every session they have
    (in any organisation) ends. Their tickets stay theirs until handed over. Returns False if already inactive."""
    if not membership.is_active:
        return False
    _refuse_if_last_admin(membership, "they can’t be deactivated")
    if membership.user_id == actor.id:
        raise RuleError("You can’t deactivate yourself. Ask another admin to do it.")
    membership.is_active = False
    # An SQL increment, so a concurrent login or logout cannot lose the bump.
    membership.user.session_version = User.session_version + 1
    audit.record(AUDIT_AREA, f"Deactivated {membership.user.name}", {"active": [True, False]})
    return True


def reactivate_member(membership: Membership) -> bool:
    """Let a deactivated member back in with the role they had; returns False if already active."""
    if membership.is_active:
        return False
    membership.is_active = True
    audit.record(AUDIT_AREA, f"Reactivated {membership.user.name} as {ROLE_LABELS[membership.role]}",
                 {"active": [False, True]})
    return True


def open_tickets_statement(user_id: int) -> Select:
    """The tickets still open in ``user_id``’s name, oldest first, with their contact: one query for a list."""
    return (
        select(Ticket)
        .where(Ticket.assignee_id == user_id, Ticket.status != Status.CLOSED)
        .options(joinedload(Ticket.contact))
        .order_by(Ticket.opened_at, Ticket.id)
    )


def open_ticket_counts(user_ids: list[int]) -> dict[int, int]:
    """How many open tickets each of ``user_ids`` holds, in one grouped query."""
    if not user_ids:
        return {}
    return dict(
        db.session.execute(
            select(Ticket.assignee_id, func.count(Ticket.id))
            .where(Ticket.assignee_id.in_(user_ids), Ticket.status != Status.CLOSED)
            .group_by(Ticket.assignee_id)
        ).all()
    )


def handover_candidates(membership: Membership) -> list[User]:
    """Who can take over ``membership``’s tickets: the other active admins, managers and agents."""
    return [user for user in tickets.assignable_members() if user.id != membership.user_id]


def hand_over_tickets(membership: Membership, assignee: User, actor: User, ticket_id: int | None = None) -> list[Ticket]:
    """Reassign ``membership``’s open tickets (all of them, or only ``ticket_id``) to ``assignee``.

    Each ticket’s timeline records the reassignment; the handover is one audit entry.
    Returns the tickets that moved (none when they had already been handed over).
    """
    if assignee.id == membership.user_id:
        raise RuleError(f"Choose someone other than {membership.user.name}.", "assignee_id")
    statement = (
        select(Ticket)
        .where(Ticket.assignee_id == membership.user_id, Ticket.status != Status.CLOSED)
        .options(joinedload(Ticket.assignee))
        .order_by(Ticket.opened_at, Ticket.id)
    )
    if ticket_id is not None:
        statement = statement.where(Ticket.id == ticket_id)
    moved = list(db.session.execute(statement).scalars())
    for ticket in moved:
        tickets.reassign(ticket, actor, assignee)
    if moved:
        what = moved[0].reference if ticket_id is not None else f"{len(moved)} open ticket{'s' if len(moved) != 1 else ''}"
        audit.record(AUDIT_AREA, f"Handed over {what} from {membership.user.name} to {assignee.name}",
                     {"assignee": [membership.user.name, assignee.name],
                      "tickets": [None, [ticket.reference for ticket in moved]]})
    return moved


def send_invitation(*, tenant: Tenant, email: str, role: str, invited_by: User) -> TeamInvitation:
    """Invite someone who is not yet an active member, and record it in the audit log."""
    if role not in ROLES:
        raise RuleError("Choose Admin, Manager, Agent or Viewer.", "role")
    if active_member_with_email(email) is not None:
        raise RuleError("This person is already a member of the team.", "email")
    invitation = invite_member(tenant=tenant, email=email, role=role, invited_by=invited_by)
    audit.record(AUDIT_AREA, f"Invited {invitation.email} as {ROLE_LABELS[role]}",
                 {"email": [None, invitation.email], "role": [None, role]})
    return invitation


def resend_invitation(invitation: TeamInvitation, *, tenant: Tenant, invited_by: User) -> TeamInvitation:
    """Send a pending or expired invitation again with a new link; the old link stops working."""
    if invitation.state not in ("pending", "expired"):
        raise RuleError(f"The invitation to {invitation.email} was {invitation.state}, so it can’t be resent.")
    if active_member_with_email(invitation.email) is not None:
        raise RuleError(f"{invitation.email} is already a member of the team.")
    fresh = invite_member(tenant=tenant, email=invitation.email, role=invitation.role, invited_by=invited_by)
    audit.record(AUDIT_AREA, f"Resent the invitation to {fresh.email}",
                 audit.diff({"expires_at": invitation.expires_at}, {"expires_at": fresh.expires_at}))
    return fresh


def revoke_invitation(invitation: TeamInvitation) -> bool:
    """Stop a pending (or expired) invitation’s link from working; returns False if it was already used or revoked."""
    state = invitation.state
    if state not in ("pending", "expired"):
        return False
    invitation.revoked_at = utcnow()
    audit.record(AUDIT_AREA, f"Revoked the invitation to {invitation.email}", {"invitation": [state, "revoked"]})
    return True
