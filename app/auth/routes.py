"""Sign-up, log in, log out, email verification, password reset, and the front page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user

from app.accounts import services
from app.accounts.models import User
from app.auth import services as auth
from app.auth.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm
from app.auth.models import RESET_PASSWORD, VERIFY_EMAIL
from app.extensions import db, limiter, login_manager
from app.security import describe_window, start_session, verify_password
from app.tenancy import ROLES, current_tenant, require_role
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
            start_session(user)
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


SIGNUP_LIMIT = "10 per hour"


def _signup_limited(limit) -> Response:
    """The sign-up form again, with what was typed (never the password) and the limit's real window."""
    form = SignupForm(formdata=request.form)
    window = describe_window(limit.limit)
    message = (f"Too many sign-ups from your network: at most {limit.limit.amount} in {window}. "
               f"Please try again within {window}; what you typed is kept below.")
    return make_response(render_template("auth/signup.html", form=form, limited=message), 429)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(SIGNUP_LIMIT, methods=["POST"], on_breach=_signup_limited)
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        services.sign_up(
            name=form.organisation.data, kind=form.kind.data, timezone=form.timezone.data,
            admin_name=form.name.data, email=form.email.data, password=form.password.data,
        )
        db.session.commit()
        return redirect(url_for("auth.signup_sent"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/signup.html", form=form), status


@bp.get("/signup/sent")
def signup_sent():
    return render_template("auth/check_email.html", reason="signup")


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """GET asks to confirm (a mail scanner that only fetches the link confirms nothing); POST confirms and logs in."""
    if request.method == "GET":
        valid = auth.find_token(token, VERIFY_EMAIL) is not None
        return render_template("auth/verify_email.html", valid=valid), 200 if valid else 404
    user = auth.verify_email(token)
    if user is None:
        db.session.rollback()
        return render_template("auth/verify_email.html", valid=False), 404
    db.session.commit()
    if not (current_user.is_authenticated and current_user.id == user.id):
        start_session(user)
    flash("Your email address is confirmed: surveys can now be sent.", "success")
    return redirect(_home_for(user), 303)


def _resend_key() -> str:
    return f"verification:{current_user.get_id() if current_user.is_authenticated else request.remote_addr}"


@bp.post("/t/<tenant_slug>/email-verification")
@require_role(*ROLES)
@limiter.limit("5 per hour", key_func=_resend_key)
def resend_verification():
    """Send the organisation's first admin a new confirmation link (the earlier one stops working)."""
    founder = auth.unverified_founder(current_tenant.id)
    if founder is None:
        flash("The email address is already confirmed.", "info")
    else:
        auth.send_verification(founder, current_tenant._get_current_object())
        db.session.commit()
        flash("A new confirmation link is on its way. The earlier link no longer works.", "success")
    return redirect(url_for("surveys.send"), 303)


def _reset_key() -> str:
    return "reset:" + (request.form.get("email") or "").strip().lower()


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("3 per hour", methods=["POST"], key_func=_reset_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        auth.request_password_reset(services.find_user_by_email(form.email.data))
        db.session.commit()
        return redirect(url_for("auth.reset_sent"), 303)
    return render_template("auth/forgot_password.html", form=form), 422 if request.method == "POST" else 200


@bp.get("/password/sent")
def reset_sent():
    return render_template("auth/check_email.html", reason="reset")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def reset_password(token: str):
    if auth.find_token(token, RESET_PASSWORD) is None:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user = auth.reset_password(token, form.password.data)
        if user is None:
            db.session.rollback()
            return render_template("auth/reset_invalid.html"), 404
        db.session.commit()
        logout_user()
        start_session(user)
        flash("Your password has been changed, and every other session has been logged out.", "success")
        return redirect(_home_for(user), 303)
    return render_template("auth/reset_password.html", form=form), 422 if request.method == "POST" else 200
