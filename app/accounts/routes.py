"""Organisation switcher, team page and invitation acceptance."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import select

from app.accounts import services
from app.accounts.forms import InviteForm
from app.accounts.models import Membership, TeamInvitation, User
from app.auth.forms import AcceptInvitationForm
from app.extensions import db
from app.tenancy import current_tenant, get_or_404, require_role
from app.timeutil import utcnow
from app.views import render_page

bp = Blueprint("accounts", __name__)
team_bp = Blueprint("team", __name__, url_prefix="/t/<tenant_slug>/team")


@bp.get("/orgs")
@login_required
def organisations():
    return render_template("accounts/organisations.html", memberships=services.user_memberships(current_user))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    invitation = services.find_invitation(token)
    if invitation is None:
        return render_template("accounts/invitation_invalid.html"), 404
    existing = services.find_user_by_email(invitation.email)
    form = AcceptInvitationForm()
    if existing is not None:
        if not current_user.is_authenticated or current_user.id != existing.id:
            flash(f"Log in as {invitation.email} to join {invitation.tenant.name}.", "info")
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


def _team_context(form: InviteForm) -> dict:
    members = db.session.execute(
        select(Membership, User).join(User, User.id == Membership.user_id).order_by(User.name)
    ).all()
    invitations = db.session.execute(
        select(TeamInvitation)
        .where(TeamInvitation.accepted_at.is_(None), TeamInvitation.revoked_at.is_(None))
        .order_by(TeamInvitation.created_at.desc())
    ).scalars().all()
    return {"members": members, "invitations": invitations, "form": form}


@team_bp.get("/")
def index():
    return render_page("accounts/team.html", **_team_context(InviteForm()))


@team_bp.post("/invitations")
@require_role("admin")
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        already = db.session.execute(
            select(Membership).join(User, User.id == Membership.user_id)
            .where(User.email == services.normalise_email(form.email.data), Membership.is_active.is_(True))
        ).scalar_one_or_none()
        if already is not None:
            form.email.errors.append("This person is already a member of the team.")
        else:
            services.invite_member(tenant=current_tenant, email=form.email.data, role=form.role.data, invited_by=current_user)
            db.session.commit()
            flash(f"Invitation sent to {form.email.data}. The link works for 7 days.", "success")
            if request.htmx:
                return render_page("accounts/team.html", "accounts/_team.html", **_team_context(InviteForm(formdata=None)))
            return redirect(url_for("team.index"), 303)
    return render_page("accounts/team.html", "accounts/_team.html", status=422, **_team_context(form))


@team_bp.post("/invitations/<int:invitation_id>/revoke")
@require_role("admin")
def revoke(invitation_id: int):
    invitation = get_or_404(TeamInvitation, invitation_id)
    if invitation.state == "pending":
        invitation.revoked_at = utcnow()
        db.session.commit()
        flash(f"Invitation to {invitation.email} revoked.", "info")
    if request.htmx:
        return render_page("accounts/team.html", "accounts/_team.html", **_team_context(InviteForm(formdata=None)))
    return redirect(url_for("team.index"), 303)
