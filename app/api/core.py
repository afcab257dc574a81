"""The REST API's conventions, in one place: the blueprint, bearer-token authentication and tenancy, errors,
the write path (scope, audit, Idempotency-Key, commit), cursor pagination and the per-token rate limit.

* ``Authorization: Bearer <token>``. The token is looked up by its SHA-256 across organisations (the one
  crossing, declared), then the request runs inside :func:`app.tenancy.tenant_context` of the token's
  organisation, so every query is scoped the way a page's is: another organisation's object is a 404.
* A token works while it is not revoked and the admin who created it is still an active admin of the
  organisation; changes made with it are attributed to that admin on the timeline, and to the token in the
  audit log.
* Errors are ``{"error": {"code", "message", "field"}}``: 400 malformed request, 401 no valid token, 403 a
  read-only token writing, 404 not found (or another organisation's), 409 conflict, 422 refused by a rule or a
  validation, 429 rate limited (with ``Retry-After``).
* Every POST, PATCH, PUT and DELETE goes through :func:`writes`: it commits, or rolls back on an error, records
  an audit entry naming the token, and for a POST with ``Idempotency-Key`` keeps the answer, so a repeat with
  the same key and body gets the same answer and changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import re
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any, Callable, Sequence

from flask import Blueprint, current_app, g, request
from pydantic import BaseModel
from spectree import SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app import audit
from app.accounts.models import Membership, Tenant, User
from app.api.models import ApiToken, IdempotentRequest
from app.extensions import csrf, db, limiter
from app.integrations import crypto
from app.rules import RuleError
from app.security import hash_token
from app.tenancy import Role, parse_id, tenant_context, unscoped
from app.timeutil import utcnow
from app.views import KeysetPage, decode_cursor, keyset_page

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
LAST_USED_RESOLUTION = timedelta(minutes=1)
IDEMPOTENCY_KEY_MAX = 255
TOKEN_PREFIX = "ta_"

ERROR_MESSAGES = {
    400: ("bad_request", "The request is malformed."),
    401: ("unauthorized", "Send a valid API token as 'Authorization: Bearer <token>'."),
    403: ("forbidden", "This token may only read."),
    404: ("not_found", "Nothing here: the object does not exist or belongs to another organisation."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    422: ("invalid", "The request was refused."),
    429: ("rate_limited", "Too many requests for this token. Wait and try again."),
    500: ("server_error", "Something went wrong on our side. It has been logged."),
}


class ApiError(Exception):
    """An error answer: ``status`` with ``{"error": {"code", "message", "field"}}``."""

    def __init__(self, status: int, code: str | None = None, message: str | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None):
        default_code, default_message = ERROR_MESSAGES.get(status, ("error", "Error."))
        super().__init__(message or default_message)
        self.status, self.code, self.message = status, code or default_code, message or default_message
        self.field, self.headers = field, headers or {}


def error_body(status: int, code: str | None = None, message: str | None = None, field: str | None = None) -> dict:
    default_code, default_message = ERROR_MESSAGES.get(status, ("error", "Error."))
    return {"error": {"code": code or default_code, "message": message or default_message, "field": field}}


def error_response(error: ApiError):
    return error_body(error.status, error.code, error.message, error.field), error.status, error.headers


def not_found() -> ApiError:
    return ApiError(404)


def rule_error(error: RuleError, status: int = 422) -> ApiError:
    """A service's refusal as an API error: its first message and field."""
    field, message = next(iter(error.errors.items()), (None, str(error)))
    return ApiError(status, "conflict" if status == 409 else "rule", message, field)


# --- The OpenAPI document is generated from the decorated views ------------------------------------------

def _before(req, resp, req_validation_error, instance, *args):
    """Spectree's hook after request validation: malformed JSON is a 400, a validation error a 422 naming
    the first field that failed."""
    if req.method in WRITE_METHODS and req.get_data(cache=True) and req.get_json(silent=True) is None:
        raise ApiError(400, "invalid_json", "The body is not valid JSON (send Content-Type: application/json).")
    if req_validation_error is not None:
        problems = req_validation_error.errors()
        where = _location(problems[0]) if problems else ""
        # A value that may be one of several kinds (a word or an id) fails once per kind: say them all.
        message = "; ".join(dict.fromkeys(problem.get("msg", "Invalid value.") for problem in problems
                                          if _location(problem) == where)) or "Invalid value."
        raise ApiError(422, "invalid", f"{where or 'body'}: {message}", where or None)


_UNION_TAG = re.compile(r"[\[\]'(),]|^(int|str|float|bool|date|datetime|none)$")


def _location(problem: dict) -> str:
    """The dotted name of the field a validation problem is about (list positions and the names pydantic
    gives the members of a union left out)."""
    return ".".join(str(part) for part in problem.get("loc", ())
                    if not isinstance(part, int) and not _UNION_TAG.search(str(part)))


spec = SpecTree(
    "flask", mode="strict", annotations=False, before=_before, title="Turnaround API", version="1.0.0",
    description=(
        "Contacts, accounts, survey sends, responses, tickets, outgoing webhooks, integrations and reports of one "
        "organisation. "
        "Authenticate with `Authorization: Bearer <token>` (Settings → API). Lists page by cursor: pass the "
        "`next_cursor` of a page as `cursor` for the next; `limit` is 1–100 (25 by default). Errors are "
        "`{\"error\": {\"code\", \"message\", \"field\"}}`. POST honours `Idempotency-Key`. Each token is rate "
        "limited; a 429 says how long to wait in `Retry-After`. Times are ISO 8601 in UTC."
    ),
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []},
    naming_strategy=lambda model: model.__name__, nested_naming_strategy=lambda _parent, child: child,
)


# --- Authentication and tenancy ---------------------------------------------------------------------------

def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_rate_key() -> str:
    """Rate limits count per token (by its hash; an unauthenticated caller by address)."""
    token = _bearer()
    return "api:" + (hash_token(token)[:32] if token else (request.remote_addr or "unknown"))


@bp.before_request
def _authenticate():
    token_value = _bearer()
    if not token_value or len(token_value) > 200:
        raise ApiError(401)
    row = db.session.execute(unscoped(
        select(ApiToken, Tenant)
        .join(Tenant, Tenant.id == ApiToken.tenant_id)
        .join(Membership, (Membership.tenant_id == ApiToken.tenant_id)
              & (Membership.user_id == ApiToken.created_by_id) & Membership.is_active.is_(True)
              & (Membership.role == Role.ADMIN))
        .where(ApiToken.token_hash == hash_token(token_value), ApiToken.revoked_at.is_(None))
    )).first()
    if row is None:
        raise ApiError(401)
    token, tenant = row
    stack = ExitStack()
    stack.enter_context(tenant_context(tenant.id))
    g._api_tenant_context = stack
    g.api_token, g.tenant = token, tenant
    now = utcnow()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    if request.method in WRITE_METHODS and not token.can_write:
        raise ApiError(403, "read_only_token", "This token may only read: create a read-write token to make changes.")
    return None


@bp.after_request
def _private(response):
    """Answers carry an organisation's data: no cache keeps them."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.teardown_request
def _leave_tenant(exc):
    stack = g.pop("_api_tenant_context", None)
    if stack is not None:
        stack.close()


def actor() -> User | None:
    """Who changes made with the current token are attributed to on timelines: the admin who created it."""
    return db.session.get(User, g.api_token.created_by_id)


# --- Errors ------------------------------------------------------------------------------------------------

@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    db.session.rollback()
    return error_response(error)


@bp.errorhandler(RuleError)
def _rule_error(error: RuleError):
    db.session.rollback()
    return error_response(rule_error(error))


@bp.errorhandler(429)
def _rate_limited(exc):
    current = limiter.current_limit
    wait = max(1, int(current.reset_at - datetime.now(timezone.utc).timestamp()) + 1) if current else 60
    return error_response(ApiError(429, headers={"Retry-After": str(wait)}))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    db.session.rollback()
    status = exc.code or 500
    return error_body(status if status in ERROR_MESSAGES else 400), status if status in ERROR_MESSAGES else 400


def api_error_for_app(status: int, message: str | None = None):
    """The JSON answer the app's own error handlers give under ``/api/`` (no route matched, NUL characters,
    unexpected errors). An id too large for any row makes the router answer 405 for a method other than GET
    (the GET route's converter refuses it last); that is a 404, like the same id on a GET."""
    if status == 405 and request.url_rule is None:
        try:
            current_app.url_map.bind_to_environ(request.environ).match(request.path, method="GET")
        except HTTPException:
            status = 404
    return error_body(status, message=None if status == 404 else message), status


# --- The write path -----------------------------------------------------------------------------------------

def audit_change(summary: str, changes: dict | None = None) -> None:
    """What the audit entry of the current write says (set by the view; the default names the route)."""
    g.api_audit = (summary[:300], changes)


def _fingerprint() -> str:
    return hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(),
                                      request.get_data(cache=True)])).hexdigest()


def _kept_body(stored: str):
    """The kept answer of an idempotent POST. It is stored encrypted (an answer can carry a signing secret shown
    once); an answer kept in plain JSON before that is read as it is."""
    try:
        return json.loads(crypto.decrypt(stored))
    except crypto.InvalidToken:
        return json.loads(stored)


def writes(view: Callable) -> Callable:
    """Run a view that changes something: commit its work with an audit entry naming the token, or roll it
    all back when it raises. A POST with ``Idempotency-Key`` is answered once: a repeat with the same key and
    body gets the first answer, with another body a 422; two at once, a 409 for the second."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        fingerprint = None
        if key is not None:
            key = key.strip()
            if not key or len(key) > IDEMPOTENCY_KEY_MAX:
                raise ApiError(400, "invalid_idempotency_key",
                               f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters.", "Idempotency-Key")
            fingerprint = _fingerprint()
            kept = db.session.execute(select(IdempotentRequest).where(
                IdempotentRequest.token_id == g.api_token.id, IdempotentRequest.key == key)).scalar_one_or_none()
            if kept is not None:
                if kept.fingerprint != fingerprint:
                    raise ApiError(422, "idempotency_key_reused",
                                   "This Idempotency-Key was used with another request.", "Idempotency-Key")
                return _kept_body(kept.body), kept.status_code, {"Idempotent-Replayed": "true"}
        try:
            body, status = view(*args, **kwargs)
        except RuleError as error:
            raise rule_error(error) from None
        summary, changes = g.pop("api_audit", (f"{request.method} {request.path}", None))
        audit.record("api", summary, changes if changes else None)
        if key is not None:
            db.session.add(IdempotentRequest(token_id=g.api_token.id, key=key, fingerprint=fingerprint,
                                             status_code=status, body=crypto.encrypt(json.dumps(body))))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise ApiError(409, "conflict", "Another request changed this at the same moment (or used the same "
                                            "Idempotency-Key). Read it again and retry.") from None
        return body, status

    return wrapped


# --- Reading ----------------------------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment is not None else None


def page(statement: Select, order: Sequence[ColumnElement], serialise: Callable[[Any], dict], query, *,
         descending: bool = False) -> dict:
    """One page of a list as ``{"data": [...], "next_cursor": ...}``, by keyset on ``order``."""
    check_cursor(query.cursor, len(order))
    result = keyset_page(statement, order, after=query.cursor, limit=query.limit, descending=descending)
    return paged(result, serialise)


def check_cursor(cursor: str | None, width: int) -> None:
    """A cursor this API did not give (for an order of ``width`` keys) is a 400."""
    if cursor is not None and decode_cursor(cursor, width) is None:
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave.", "cursor")


def paged(result: KeysetPage, serialise: Callable[[Any], dict]) -> dict:
    return {"data": [serialise(item) for item in result.items], "next_cursor": result.next_cursor}


def get_or_404(model, object_id: Any):
    """The current organisation's ``model`` with ``object_id``; anything else (another organisation's too) 404s."""
    object_id = parse_id(object_id)
    if object_id is None:
        raise not_found()
    found = db.session.execute(select(model).where(model.id == object_id)).scalar_one_or_none()
    if found is None:
        raise not_found()
    return found


def responses(ok: type[BaseModel] | None, status: int = 200, *, reads_id: bool = False, write: bool = False,
              extra: tuple[int, ...] = (), also: tuple[int, ...] = ()):
    """The spectree ``Response`` of an operation: its success model (for ``status`` and the ``also`` statuses)
    and every error it may give (``extra`` adds error statuses)."""
    from spectree import Response

    from app.api.schemas import ErrorBody

    codes = {400, 401, 422, 429, *extra}
    if reads_id:
        codes.add(404)
    if write:
        codes |= {403, 409}
    kwargs = {f"HTTP_{code}": ErrorBody for code in sorted(codes)}
    for code in (status, *also):
        kwargs[f"HTTP_{code}"] = ok
    return Response(**kwargs)


def rate_limit_value() -> str:
    return current_app.config["API_RATE_LIMIT"]


limiter.limit(rate_limit_value, key_func=token_rate_key)(bp)
