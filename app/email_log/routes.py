"""The tenant's email log: every message the outbox holds, its state, and why a failed one failed.

Admins only. The HTML body of a message is served by its own route, framed by the detail page,
under a sandboxing CSP: no scripts, no requests, links may only navigate the whole window on a click.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, make_response, render_template, request
from sqlalchemy import select

from app.auth.services import ONE_TIME_LINK_KINDS
from app.email_log.queries import message_page
from app.extensions import db
from app.mail import STATES, DeliveryAttempt, OutboxMessage
from app.tenancy import Role, get_or_404, require_role
from app.views import render_page

bp = Blueprint("email_log", __name__, url_prefix="/t/<tenant_slug>/emails")

HTML_PREVIEW_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; "
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
)
# In production a click in the preview would answer a customer's survey for them: links stay inert there.
HTML_PREVIEW_CSP_PRODUCTION = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML_OPEN = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_BASE_TOP = '<base target="_top">'


@bp.get("/")
@require_role(Role.ADMIN)
def index():
    state = request.args.get("state", "")
    if state not in STATES:
        state = ""
    messages = message_page(state, request.args.get("after"), current_app.config["PAGE_SIZE"])
    return render_page("email_log/index.html", "email_log/_list.html", messages=messages, state=state, states=STATES)


def _withheld(message: OutboxMessage) -> bool:
    """Whether the log keeps this message's text (and HTML) back: the one rule for who reads one-time links.

    A verification or reset link lets whoever holds it act as the recipient, so the log never shows it to
    anyone, the recipient included: the founder who signed up with an address they do not own must not be able
    to confirm it here, and a borrowed session must not become a new password. Only where the log is the
    mailbox (``EMAIL_LOG_SHOWS_ONE_TIME_LINKS``: development, and the browser tests) is every message shown.
    """
    return message.kind in ONE_TIME_LINK_KINDS and not current_app.config["EMAIL_LOG_SHOWS_ONE_TIME_LINKS"]


@bp.get("/<int:message_id>")
@require_role(Role.ADMIN)
def show(message_id: int):
    message = get_or_404(OutboxMessage, message_id)
    attempts = db.session.execute(
        select(DeliveryAttempt).where(DeliveryAttempt.message_id == message.id)
        .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    ).scalars().all()
    return render_template("email_log/show.html", message=message, attempts=attempts, withheld=_withheld(message))


@bp.get("/<int:message_id>/html")
@require_role(Role.ADMIN)
def html(message_id: int):
    """The stored HTML body, for the detail page's iframe only."""
    message = get_or_404(OutboxMessage, message_id)
    if not message.html_body or _withheld(message):
        abort(404)
    response = make_response(_links_open_in_top_window(message.html_body))
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    production = current_app.config["APP_ENV"] == "production"
    response.headers["Content-Security-Policy"] = HTML_PREVIEW_CSP_PRODUCTION if production else HTML_PREVIEW_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def _links_open_in_top_window(html: str) -> str:
    """Insert ``<base target="_top">`` at the start of <head> so a clicked link replaces the whole page."""
    match = _HEAD_OPEN.search(html)
    if match:
        return html[: match.end()] + _BASE_TOP + html[match.end():]
    match = _HTML_OPEN.search(html)
    if match:
        return html[: match.end()] + "<head>" + _BASE_TOP + "</head>" + html[match.end():]
    return "<head>" + _BASE_TOP + "</head>" + html
