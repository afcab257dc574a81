"""Sign-up, log in, log out, and the front page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services
from app.accounts.models import User
from app.auth.forms import LoginForm, SignupForm
from app.extensions import db, limiter, login_manager
from app.security import verify_password
from app.timeutil import utcnow

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Sessions carry ``id:session_version``; a bumped version ends every older session."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        user = db.session.get(User, int(raw_id))
    except (ValueError, TypeError):
        return None
    if user is None or str(user.session_version) != raw_version:
        return None
    return user


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _home_for(user: User) -> str:
    memberships = services.user_memberships(user)
    if len(memberships) == 1:
        return url_for("tickets.board", tenant_slug=memberships[0].tenant.slug)
    return url_for("accounts.organisations")


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    return render_template("auth/index.html")


def _account_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@limiter.limit("10 per 5 minutes", methods=["POST"], key_func=_account_key)
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.find_user_by_email(form.email.data)
        if user is not None and verify_password(user.password_hash, form.password.data) and services.user_memberships(user):
            user.last_login_at = utcnow()
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or _home_for(user))
        if user is None:
            verify_password(None, form.password.data or "")
        form.password.errors.append("That email and password do not match an account.")
    return render_template("auth/login.html", form=form), 422 if request.method == "POST" else 200


@bp.post("/logout")
@login_required
def logout():
    current_user.session_version += 1
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        if services.find_user_by_email(form.email.data) is not None:
            form.email.errors.append(
                "An account with this email already exists. Log in, or ask your admin to invite you."
            )
        else:
            tenant, user = services.create_organisation(
                name=form.organisation.data, kind=form.kind.data, timezone=form.timezone.data,
                admin_name=form.name.data, email=form.email.data, password=form.password.data,
            )
            db.session.commit()
            login_user(user)
            flash(f"Welcome to Turnaround. {tenant.name} is ready: add contacts, then send your first survey.", "success")
            return redirect(url_for("tickets.board", tenant_slug=tenant.slug), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/signup.html", form=form), status
