"""Organisation switcher, team page and invitation acceptance.

The team page is readable by every member; only admins change it. Each change is a POST that works as
a plain form (303 back with a flash) and through htmx (the ``#team`` region is re-rendered in place).
A refused change (a bad value, the last admin) comes back with status 422 and the message next to the form.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from app.accounts import services
from app.accounts.forms import HandoverForm, InviteForm, MemberRoleForm
from app.accounts.models import Membership, TeamInvitation, User
from app.confirm import confirm_page
from app.auth.forms import AcceptInvitationForm
from app.extensions import db
from app.rules import RuleError
from app.tenancy import (
    ROLE_LABELS, WORKING_ROLES, Role, all_tenants, current_membership, current_tenant, get_or_404, require_role,
)
from app.tickets.models import Ticket
from app.views import paginate, place_error, refused, render_page, saved

bp = Blueprint("accounts", __name__)
team_bp = Blueprint("team", __name__, url_prefix="/t/<tenant_slug>/team")


@bp.get("/orgs")
@login_required
def organisations():
    return render_template("accounts/organisations.html", memberships=services.user_memberships(current_user))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@all_tenants()  # the invitation is found by its token, before anyone is in its tenant
def accept_invitation(token: str):
    invitation = services.find_invitation(token)
    if invitation is None:
        return render_template("accounts/invitation_invalid.html"), 404
    existing = services.find_user_by_email(invitation.email)
    form = AcceptInvitationForm()
    if existing is not None:
        if not current_user.is_authenticated or current_user.id != existing.id:
            flash(f"Log in with the invited address to join {invitation.tenant.name}.", "info")
            return redirect(url_for("auth.login", next=request.path))
        if request.method == "POST":
            services.accept_invitation(invitation, existing)
            db.session.commit()
            flash(f"You joined {invitation.tenant.name}.", "success")
            return redirect(url_for("tickets.board", tenant_slug=invitation.tenant.slug), 303)
    elif form.validate_on_submit():
        user = services.create_user(name=form.name.data, email=invitation.email, password=form.password.data)
        services.accept_invitation(invitation, user)
        db.session.commit()
        login_user(user)
        flash(f"Welcome to {invitation.tenant.name}.", "success")
        return redirect(url_for("tickets.board", tenant_slug=invitation.tenant.slug), 303)
    status = 422 if request.method == "POST" and existing is None else 200
    return render_template("accounts/accept_invitation.html", invitation=invitation, form=form, existing=existing), status


TEAM_PAGE, TEAM_FRAGMENT, HANDOVER_FRAGMENT = "accounts/team.html", "accounts/_team.html", "accounts/_team_handover.html"
MEMBERS_PER_PAGE = 50
TICKETS_PER_PAGE = 50

change_team = require_role(Role.ADMIN)


def _team_context(form: InviteForm | None = None, role_form: MemberRoleForm | None = None,
                  member_errors: dict[int, str] | None = None) -> dict:
    """The team region: members (active first, by name) with their role forms, and pending invitations.

    Three queries whatever the team size: the page of members with their users, the open-ticket counts of
    the deactivated ones on the page (so their tickets can be handed over), and the invitations.
    """
    members = paginate(
        select(Membership).join(Membership.user).options(contains_eager(Membership.user))
        .order_by(Membership.is_active.desc(), User.name, Membership.id),
        per_page=MEMBERS_PER_PAGE,
    )
    inactive_ids = [m.user_id for m in members.items if not m.is_active]
    invitations = db.session.execute(
        select(TeamInvitation)
        .where(TeamInvitation.accepted_at.is_(None), TeamInvitation.revoked_at.is_(None))
        .order_by(TeamInvitation.created_at.desc())
    ).scalars().all()
    role_forms = {
        m.id: MemberRoleForm.for_member(m.id, m.user.name, formdata=None, role=m.role)
        for m in members.items if m.is_active
    }
    if role_form is not None:
        role_forms[role_form.member_id] = role_form
    return {
        "members": members, "invitations": invitations, "form": form or InviteForm(formdata=None),
        "role_forms": role_forms, "member_errors": member_errors or {},
        "open_counts": services.open_ticket_counts(inactive_ids),
        "can_change": current_membership.role == Role.ADMIN,
    }


def _team(status: int = 200, **context):
    return render_page(TEAM_PAGE, TEAM_FRAGMENT, status=status, **_team_context(**context))


def _back_to_team(message: str, category: str = "success"):
    """After a change: the re-rendered team region for htmx, else a redirect to the team page."""
    return saved(message, url_for("team.index"), _team, category)


def _refused(**context):
    """A change that was refused: nothing is saved and the team region comes back with the message."""
    return refused(TEAM_PAGE, TEAM_FRAGMENT, lambda: _team_context(**context))


@team_bp.get("/")
def index():
    return _team()


@team_bp.post("/invitations")
@change_team
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            services.send_invitation(tenant=current_tenant, email=form.email.data, role=form.role.data,
                                     invited_by=current_user)
        except RuleError as error:
            place_error(form, error, default_field="email")
        else:
            return _back_to_team("Invitation sent. The link works for 7 days.")
    return _refused(form=form)


@team_bp.post("/invitations/<int:invitation_id>/revoke")
@change_team
def revoke(invitation_id: int):
    invitation = get_or_404(TeamInvitation, invitation_id)
    if services.revoke_invitation(invitation):
        return _back_to_team("Invitation revoked.", "info")
    return _back_to_team(f"The invitation was already {invitation.state}.", "info")


@team_bp.post("/invitations/<int:invitation_id>/resend")
@change_team
def resend(invitation_id: int):
    invitation = get_or_404(TeamInvitation, invitation_id)
    try:
        services.resend_invitation(invitation, tenant=current_tenant, invited_by=current_user)
    except RuleError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _refused()
    return _back_to_team("A new invitation was sent. The earlier link no longer works.")


def _member(membership_id: int) -> Membership:
    return get_or_404(Membership, membership_id)


def _handover_or_team(membership: Membership, message: str):
    """When a member stops working tickets but still holds some, go straight to handing them over."""
    held = services.open_ticket_counts([membership.user_id]).get(membership.user_id, 0)
    if not held:
        return _back_to_team(message)
    url = url_for("team.handover", membership_id=membership.id)

    def handover_region():
        html, status, headers = _handover(membership)
        return html, status, {**headers, "HX-Push-Url": url}

    return saved(f"{message} They still have {held} open ticket{'s' if held != 1 else ''}: "
                 f"choose who takes {'them' if held != 1 else 'it'} over.", url, handover_region)


@team_bp.post("/members/<int:membership_id>/role")
@change_team
def change_role(membership_id: int):
    membership = _member(membership_id)
    name = membership.user.name
    form = MemberRoleForm.for_member(membership.id, name)
    if not form.validate_on_submit():
        return _refused(role_form=form)
    try:
        changed = services.change_role(membership, form.role.data)
    except RuleError as error:
        place_error(form, error, default_field="role")
        return _refused(role_form=form)
    label = ROLE_LABELS[form.role.data]
    article = "an" if label[0] in "AEIOU" else "a"
    if not changed:
        return _back_to_team(f"That member is already {article} {label}.", "info")
    message = f"Role changed to {label}."
    if form.role.data not in WORKING_ROLES:
        return _handover_or_team(membership, message)
    return _back_to_team(message)


@team_bp.get("/members/<int:membership_id>/deactivate")
@change_team
def deactivate_confirm(membership_id: int):
    membership = _member(membership_id)
    name = membership.user.name
    held = services.open_ticket_counts([membership.user_id]).get(membership.user_id, 0)
    handover = f" You then choose who takes over their {held} open ticket{'s' if held != 1 else ''}." if held else ""
    return confirm_page(
        title=f"Deactivate {name} · Team", question=f"Deactivate {name}?",
        consequence=f"They are logged out everywhere and can no longer open {current_tenant.name}.{handover} "
                    "You can reactivate them later.",
        action=url_for("team.deactivate", membership_id=membership.id), button=f"Deactivate {name}",
        cancel=url_for("team.index"))


@team_bp.post("/members/<int:membership_id>/deactivate")
@change_team
def deactivate(membership_id: int):
    membership = _member(membership_id)
    try:
        changed = services.deactivate_member(membership, current_user)
    except RuleError as error:
        return _refused(member_errors={membership.id: str(error)})
    if not changed:
        return _back_to_team("That member was already deactivated.", "info")
    return _handover_or_team(membership, "Member deactivated and logged out.")


@team_bp.post("/members/<int:membership_id>/reactivate")
@change_team
def reactivate(membership_id: int):
    membership = _member(membership_id)
    if not services.reactivate_member(membership):
        return _back_to_team("That member is already active.", "info")
    return _back_to_team(f"Member active again as {ROLE_LABELS[membership.role]}.")


def _handover_context(membership: Membership, form: HandoverForm | None = None,
                      ticket_form: HandoverForm | None = None) -> dict:
    """The page that lists a member's open tickets (one query for the page of them) with the forms that
    give them all, or each, to an active admin, manager or agent."""
    page = paginate(services.open_tickets_statement(membership.user_id), per_page=TICKETS_PER_PAGE)
    can_change = current_membership.role == Role.ADMIN
    candidates = services.handover_candidates(membership) if can_change else []
    if form is None:
        form = HandoverForm(formdata=None)
        form.set_candidates(candidates)
    ticket_forms = {}
    if candidates:
        ticket_forms = {t.id: HandoverForm.for_ticket(t.id, t.reference, candidates, formdata=None) for t in page.items}
        if ticket_form is not None:
            ticket_forms[ticket_form.ticket_id] = ticket_form
    return {"handover": membership, "tickets": page, "form": form, "ticket_forms": ticket_forms,
            "candidates": candidates, "can_change": can_change}


def _handover(membership: Membership):
    return render_page(TEAM_PAGE, HANDOVER_FRAGMENT, **_handover_context(membership))


@team_bp.get("/members/<int:membership_id>/tickets")
def handover(membership_id: int):
    return _handover(_member(membership_id))


def _hand_over(membership: Membership, form: HandoverForm, ticket: Ticket | None):
    """Validate ``form`` and move the tickets; on a refusal re-render the handover region with a 422."""
    candidates = {user.id: user for user in services.handover_candidates(membership)}
    form.set_candidates(candidates.values())
    failed = {"ticket_form": form} if ticket is not None else {"form": form}
    if not form.validate_on_submit():
        return refused(TEAM_PAGE, HANDOVER_FRAGMENT, lambda: _handover_context(membership, **failed))
    assignee = candidates[form.assignee_id.data]
    try:
        moved = services.hand_over_tickets(membership, assignee, current_user,
                                           ticket_id=ticket.id if ticket is not None else None)
    except RuleError as error:
        place_error(form, error, default_field="assignee_id")
        return refused(TEAM_PAGE, HANDOVER_FRAGMENT, lambda: _handover_context(membership, **failed))
    if not moved:
        message, category = "There are no such open tickets any more.", "info"
    elif ticket is not None:
        message, category = f"{ticket.reference} reassigned.", "success"
    else:
        message, category = f"{len(moved)} ticket{'s' if len(moved) != 1 else ''} handed over.", "success"
    return saved(message, url_for("team.handover", membership_id=membership.id), lambda: _handover(membership),
                 category)


@team_bp.post("/members/<int:membership_id>/tickets")
@change_team
def hand_over_all(membership_id: int):
    membership = _member(membership_id)
    return _hand_over(membership, HandoverForm(), None)


@team_bp.post("/members/<int:membership_id>/tickets/<int:ticket_id>")
@change_team
def hand_over_one(membership_id: int, ticket_id: int):
    membership = _member(membership_id)
    ticket = get_or_404(Ticket, ticket_id)
    return _hand_over(membership, HandoverForm.for_ticket(ticket.id, ticket.reference, []), ticket)
