"""Settings → Integrations (admins) and the receiving URL that vendors post to.

The receiving URL is ``/hooks/<token>``: the token is 256 bits of randomness per integration (never an
organisation's id), the only route exempt from CSRF, and rate-limited per URL. It answers with a status word
and nothing else, so it shows no organisation's data.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from sqlalchemy import select

from app.confirm import confirm_page
from app.extensions import csrf, db, limiter
from app.integrations import services
from app.integrations.forms import NewIntegrationForm, credentials_from, settings_form, settings_from
from app.integrations.models import KINDS, Integration, IntegrationDelivery
from app.integrations.sources import SOURCES
from app.rules import RuleError
from app.tenancy import Role, get_or_404, require_role, tenant_context
from app.views import keyset_page, place_error, refused, render_page, saved

bp = Blueprint("integrations", __name__, url_prefix="/t/<tenant_slug>/settings/integrations")
hooks_bp = Blueprint("integration_hooks", __name__)

admins_only = require_role(Role.ADMIN)
INDEX, INDEX_FRAGMENT = "integrations/index.html", "integrations/_new.html"
SHOW, SHOW_FRAGMENT = "integrations/show.html", "integrations/_settings.html"
LOG_PAGE = 25


def _integrations() -> list[Integration]:
    return list(db.session.execute(select(Integration).order_by(Integration.name, Integration.id)).scalars())


@bp.get("/")
@admins_only
def index():
    return render_page(INDEX, INDEX_FRAGMENT, integrations=_integrations(), form=NewIntegrationForm(), kinds=KINDS)


@bp.post("/")
@admins_only
def create():
    form = NewIntegrationForm()

    def context():
        return {"integrations": _integrations(), "form": form, "kinds": KINDS}

    if not form.validate_on_submit():
        return refused(INDEX, INDEX_FRAGMENT, context)
    try:
        integration = services.create_integration(kind=form.kind.data, name=form.name.data or KINDS[form.kind.data])
    except RuleError as error:
        place_error(form, error, "name")
        return refused(INDEX, INDEX_FRAGMENT, context)
    return saved(_connected(integration), url_for("integrations.show", integration_id=integration.id))


def _connected(integration: Integration) -> str:
    """What to do next, said when a source is connected."""
    if integration.kind == "generic":
        return ("Generic webhook connected. Give its receiving URL and signing secret to the system that will send "
                "the answers.")
    if SOURCES[integration.kind].RECEIVES:
        return (f"{integration.kind_label} connected. Copy its receiving URL and signing secret into "
                f"{integration.kind_label}.")
    return f"{integration.kind_label} connected. Add its credentials below so Turnaround can read its answers."


def _show_context(integration: Integration, form=None) -> dict:
    statement = select(IntegrationDelivery).where(IntegrationDelivery.integration_id == integration.id)
    page = keyset_page(statement, [IntegrationDelivery.received_at, IntegrationDelivery.id],
                       after=request.args.get("after"), limit=LOG_PAGE, descending=True)
    if form is None:
        form = settings_form(integration.kind, formdata=None, name=integration.name, enabled=integration.enabled,
                             **{f"set_{key}": value for key, value in (integration.settings or {}).items()})
    keys = services.keys_of(integration)
    return {"integration": integration, "form": form, "deliveries": page,
            "receiving_url": services.receiving_url(integration), "signing_secret": keys.signing_secret,
            "stored": {key for key, value in keys.credentials.items() if value},
            "receives": SOURCES[integration.kind].RECEIVES, "shows_secret": services.shows_signing_secret(integration)}


@bp.get("/<int:integration_id>")
@admins_only
def show(integration_id: int):
    integration = get_or_404(Integration, integration_id)
    return render_page(SHOW, SHOW_FRAGMENT, **_show_context(integration))


@bp.post("/<int:integration_id>")
@admins_only
def update(integration_id: int):
    integration = get_or_404(Integration, integration_id)
    form = settings_form(integration.kind)
    if not form.validate_on_submit():
        return refused(SHOW, SHOW_FRAGMENT, lambda: _show_context(integration, form))
    try:
        services.update_integration(integration, name=form.name.data, enabled=form.enabled.data,
                                    credentials=credentials_from(form), settings=settings_from(form))
    except RuleError as error:
        # The service names fields "settings.<name>" and "credentials.<name>"; the form's carry "set_" / "cred_".
        error.errors = {(key or "").replace("settings.", "set_", 1).replace("credentials.", "cred_", 1) or None:
                        message for key, message in error.errors.items()}
        place_error(form, error, "name")
        return refused(SHOW, SHOW_FRAGMENT, lambda: _show_context(integration, form))
    return saved("Integration saved.", url_for("integrations.show", integration_id=integration.id))


@bp.post("/<int:integration_id>/secret")
@admins_only
def rotate(integration_id: int):
    integration = get_or_404(Integration, integration_id)
    services.rotate_secret(integration)
    return saved("New signing secret made. Deliveries signed with the old one are now refused.",
                 url_for("integrations.show", integration_id=integration.id))


@bp.post("/<int:integration_id>/poll")
@admins_only
def poll(integration_id: int):
    integration = get_or_404(Integration, integration_id)
    if integration.kind != "hubspot":
        abort(404)
    services.poll_now(integration)
    return saved("HubSpot will be read in a moment.", url_for("integrations.show", integration_id=integration.id))


@bp.get("/<int:integration_id>/delete")
@admins_only
def confirm_delete(integration_id: int):
    integration = get_or_404(Integration, integration_id)
    return confirm_page(
        title="Remove integration", question=f"Remove the integration “{integration.name}”?",
        consequence="Its receiving URL stops working at once and its delivery log is deleted. Responses it "
                    "recorded stay.",
        action=url_for("integrations.delete", integration_id=integration.id), button="Remove integration",
        cancel=url_for("integrations.show", integration_id=integration.id))


@bp.post("/<int:integration_id>/delete")
@admins_only
def delete(integration_id: int):
    integration = get_or_404(Integration, integration_id)
    services.delete_integration(integration)
    return saved("Integration removed.", url_for("integrations.index"))


@bp.get("/<int:integration_id>/deliveries/<int:delivery_id>")
@admins_only
def delivery(integration_id: int, delivery_id: int):
    integration = get_or_404(Integration, integration_id)
    row = get_or_404(IntegrationDelivery, delivery_id)
    if row.integration_id != integration.id:
        abort(404)
    return render_page("integrations/delivery.html", None, integration=integration, delivery=row)


def _hook_limit() -> str:
    return current_app.config["INTEGRATION_RATE_LIMIT"]


def _hook_key() -> str:
    return "integration-hook:" + str((request.view_args or {}).get("token", ""))[:64]


@hooks_bp.post("/hooks/<token>")
@csrf.exempt
@limiter.limit(_hook_limit, key_func=_hook_key)
def receive(token: str):
    if request.content_length is not None and request.content_length > services.PAYLOAD_LIMIT:
        return jsonify(status="too_large"), 413
    integration = services.find_by_token(token)
    if integration is None or not SOURCES[integration.kind].RECEIVES:
        return jsonify(status="not_found"), 404
    body = request.get_data(cache=False)[: services.PAYLOAD_LIMIT + 1]
    if len(body) > services.PAYLOAD_LIMIT:
        return jsonify(status="too_large"), 413
    with tenant_context(integration.tenant_id):
        status, outcome = services.receive(integration, request.headers, body, request.args)
        db.session.commit()
    return jsonify(status=outcome), status
