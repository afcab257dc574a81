"""Settings → API (admins): create a token with a name and a scope, see its secret once, revoke it, and see
when each was last used."""
from __future__ import annotations

import json
import secrets

import redis
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.api import tokens as services
from app.api.models import DELIVERY_STATES, SCOPES, WEBHOOK_EVENTS, ApiToken, WebhookEndpoint
from app.confirm import confirm_page
from app.extensions import db
from app.forms import strip
from app.jobs import key_name, redis_connection
from app.rules import RuleError
from app.tenancy import Role, get_or_404, require_role
from app.views import place_error, refused, saved

tokens_bp = Blueprint("api_tokens", __name__, url_prefix="/t/<tenant_slug>/settings/api")

PAGE = "api/tokens.html"


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(message="Give the token a name."),
                                                 Length(max=80, message="Use at most 80 characters.")],
                       filters=[strip], description="What will use it, e.g. “HubSpot sync”.")
    scope = SelectField("What it may do", choices=list(SCOPES.items()), default="read")


def _context(form: TokenForm | None = None, created: tuple[ApiToken, str] | None = None) -> dict:
    return {"form": form or TokenForm(formdata=None), "tokens": services.tokens(), "created": created,
            "scopes": SCOPES, "endpoints": services.webhook_endpoints()}


SHOWN_SECONDS = 300


def _shown_key(nonce: str) -> str:
    return key_name(f"api-token-shown:{nonce}")


def _hand_over(token: ApiToken, secret: str):
    """Show the new secret once, on the page the post redirects to: it waits in Redis for a few minutes under
    a random name that only the redirect carries, and reading it deletes it. (Never in a flash: flashes ride in
    the readable session cookie.) Without Redis the post's own answer shows it."""
    nonce = secrets.token_urlsafe(16)
    try:
        redis_connection().set(_shown_key(nonce), json.dumps({"user": current_user.id, "token": token.id,
                                                              "secret": secret}), ex=SHOWN_SECONDS)
    except redis.RedisError:
        return render_template(PAGE, **_context(created=(token, secret))), 201, {"Cache-Control": "no-store"}
    return redirect(url_for("api_tokens.index", shown=nonce), 303)


def _take_shown(nonce: str | None) -> tuple[ApiToken, str] | None:
    if not nonce or len(nonce) > 64:
        return None
    try:
        raw = redis_connection().getdel(_shown_key(nonce))
    except redis.RedisError:
        return None
    if raw is None:
        return None
    shown = json.loads(raw)
    token = db.session.get(ApiToken, shown["token"])
    if token is None or shown["user"] != current_user.id:
        return None
    return token, shown["secret"]


@tokens_bp.get("/")
@require_role(Role.ADMIN)
def index():
    created = _take_shown(request.args.get("shown"))
    return render_template(PAGE, **_context(created=created)), 200, {"Cache-Control": "no-store"}


@tokens_bp.post("/")
@require_role(Role.ADMIN)
def create():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, secret = services.create_token(name=form.name.data, scope=form.scope.data,
                                                  created_by_id=current_user.id)
        except RuleError as error:
            place_error(form, error)
        else:
            db.session.commit()
            return _hand_over(token, secret)
    return refused(PAGE, None, lambda: _context(form))


@tokens_bp.get("/webhooks/<int:endpoint_id>")
@require_role(Role.ADMIN)
def webhook_deliveries(endpoint_id: int):
    """An endpoint's delivery log: the latest deliveries, their attempts and the last answer of each."""
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    return render_template("api/webhook_deliveries.html", endpoint=endpoint,
                           deliveries=services.recent_deliveries(endpoint), states=DELIVERY_STATES,
                           events=WEBHOOK_EVENTS)


@tokens_bp.get("/<int:token_id>/revoke")
@require_role(Role.ADMIN)
def confirm_revoke(token_id: int):
    token = get_or_404(ApiToken, token_id)
    return confirm_page(
        title="Revoke API token", question=f"Revoke the token “{token.name}”?",
        consequence="Programs using it are refused from the next request on. This cannot be undone: "
                    "create a new token to give access again.",
        action=url_for("api_tokens.revoke", token_id=token.id), button="Revoke token",
        cancel=url_for("api_tokens.index"))


@tokens_bp.post("/<int:token_id>/revoke")
@require_role(Role.ADMIN)
def revoke(token_id: int):
    token = get_or_404(ApiToken, token_id)
    changed = services.revoke_token(token)
    return saved(f"Token “{token.name}” revoked." if changed else "That token was already revoked.",
                 url_for("api_tokens.index"))
