"""Turnaround: close the loop on unhappy customers."""
from __future__ import annotations

import logging
import traceback
from pathlib import Path

from flask import Flask, abort, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import BadRequest

from app.config import ROOT, load_config
from app.extensions import csrf, db, htmx, limiter, login_manager, migrate

DATABASE_RETRY_AFTER_SECONDS = 30

# Front-end packages installed by npm and served from node_modules: name -> (package dir, file).
ASSETS = {
    "htmx.js": ("htmx.org/dist", "htmx.min.js"),
    "pico.css": ("@picocss/pico/css", "pico.min.css"),
}


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.update(load_config(config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)

    from app import (
        models,  # noqa: F401  (registers every table on the metadata)
        security,
        tenancy,
    )

    tenancy.init_app(app)
    security.init_app(app)

    from app.accounts.routes import bp as accounts_bp
    from app.accounts.routes import team_bp
    from app.api.routes import bp as api_bp
    from app.api.docs import docs_bp as api_docs_bp
    from app.api.settings import tokens_bp as api_tokens_bp
    from app.auth.routes import bp as auth_bp
    from app.contacts.routes import bp as contacts_bp
    from app.customers.routes import bp as customers_bp
    from app.accounts.profile import bp as profile_bp
    from app.email_log.routes import bp as email_log_bp
    from app.imports.routes import bp as imports_bp
    from app.integrations.routes import bp as integrations_bp
    from app.integrations.routes import hooks_bp as integration_hooks_bp
    from app.feedback.routes import bp as feedback_bp
    from app.surveys.public import public_bp as survey_public_bp
    from app.surveys.routes import bp as surveys_bp
    from app.reports.routes import bp as reports_bp
    from app.settings.routes import bp as settings_bp
    from app.teams.routes import bp as teams_bp
    from app.tickets.list_routes import bp as ticket_list_bp
    from app.tickets.routes import bp as tickets_bp
    from app.workflow.routes import bp as workflow_bp

    for blueprint in (auth_bp, accounts_bp, team_bp, contacts_bp, surveys_bp, survey_public_bp, tickets_bp, email_log_bp,
                      settings_bp, workflow_bp, customers_bp, profile_bp, teams_bp, ticket_list_bp, imports_bp, api_bp,
                      api_docs_bp, api_tokens_bp, integrations_bp, integration_hooks_bp, reports_bp,
                      feedback_bp):
        app.register_blueprint(blueprint)

    from app import filters

    filters.init_app(app)
    _refuse_nul_characters(app)
    _register_error_pages(app)
    _register_assets(app)

    from app.cli import init_app as init_cli

    init_cli(app)
    return app


def _register_assets(app: Flask) -> None:
    node_modules = Path(ROOT) / "node_modules"

    @app.get("/assets/<name>")
    def asset(name: str):
        if name not in ASSETS:
            abort(404)
        folder, filename = ASSETS[name]
        return send_from_directory(node_modules / folder, filename, max_age=3600)


class NulCharacter(BadRequest):
    """A request whose URL, query string or form carries a NUL character, which no text column can store."""

    description = ("Text cannot contain the NUL character (\\0), which usually comes from a copy and paste "
                   "out of another program. Remove it and try again.")


def _refuse_nul_characters(app: Flask) -> None:
    """Answer 400 to any request with a NUL in a path value, a query or form name or value, before a view
    runs: PostgreSQL text cannot hold one, so every field of every form is covered here once."""

    def carries_nul(values) -> bool:
        return any("\x00" in key or any("\x00" in value for value in values.getlist(key)) for key in values)

    @app.before_request
    def _refuse():
        path_values = (v for v in (request.view_args or {}).values() if isinstance(v, str))
        # The receiving URL of integrations reads its body as raw bytes (signatures are over them): parsing it
        # as a form here would consume it. Its payloads are stored with NULs replaced.
        reads_form = request.method != "GET" and request.endpoint != "integration_hooks.receive"
        if (any("\x00" in value for value in path_values) or carries_nul(request.args)
                or (reads_form and carries_nul(request.form))):
            raise NulCharacter()


def _register_error_pages(app: Flask) -> None:
    from app.security import describe_window

    messages = {
        400: ("Bad request", "Something in that request was not right. Go back and try again."),
        403: ("Not allowed", "Your role in this organisation does not allow this. Ask an admin if you need it."),
        404: ("Not found", "There is nothing here. It may have been moved, or the link is mistyped."),
        405: ("Not allowed", "That action cannot be done this way."),
        429: ("Too many attempts", "Please wait a minute and try again."),
        500: ("Something went wrong", "We have logged the problem. Please try again in a moment."),
    }

    def render(code: int, message: str | None = None):
        if request.path.startswith("/api/"):
            from app.api.core import api_error_for_app

            return api_error_for_app(code, message)
        title, message = messages[code][0], message or messages[code][1]
        template = "errors/_error.html" if request.headers.get("HX-Request") == "true" else "errors/error.html"
        return render_template(template, code=code, title=title, message=message), code

    for code in messages:
        if code != 429:
            app.register_error_handler(code, lambda exc, code=code: render(code))

    @app.errorhandler(429)
    def _too_many(exc):
        # A view may answer its own breach (the sign-up form keeps what was typed); else say the real window.
        if getattr(exc, "response", None) is not None:
            return exc.response
        limit = getattr(getattr(exc, "limit", None), "limit", None)
        if limit is None:
            return render(429)
        return render(429, f"Please wait up to {describe_window(limit)} and try again.")

    @app.errorhandler(NulCharacter)
    def _nul(exc):
        return render(400, exc.description)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        title, message = "Form expired", "This form was open too long or came from elsewhere. Reload the page and try again."
        return render_template("errors/error.html", code=400, title=title, message=message), 400

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc):
        """The database is unreachable (restarting, failing over): say so and when to retry. The pool
        pings connections before use, so the next request after it is back simply works."""
        app.logger.error("Database unavailable: %s", exc.orig if getattr(exc, "orig", None) else exc)
        try:
            db.session.rollback()
        except (OperationalError, InterfaceError):
            db.session.close()
        title = "Temporarily unavailable"
        message = "Turnaround cannot reach its database right now. Nothing you entered was saved; please try again in a moment."
        # Rendered without the context processors: they ask the database who is logged in.
        page = app.jinja_env.get_template("errors/unavailable.html").render(
            title=title, message=message, retry_url=request.full_path.rstrip("?") if request.method == "GET" else "/")
        response = app.make_response((page, 503))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc):
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return exc
        _log_unhandled(app, exc)
        db.session.rollback()
        return render(500)


def _log_unhandled(app: Flask, exc: Exception) -> None:
    """Log an unhandled error without the personal data it may carry.

    A database error's own message repeats the values it was given (a unique violation names the key:
    a contact's email, an external id), and the engine hides only the bound parameters, so for those the
    log has the error's class, SQLSTATE, statement and stack, and not its message.
    """
    if not isinstance(exc, DBAPIError):
        app.logger.exception("Unhandled error")
        return
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    app.logger.error(
        "Unhandled database error %s (%s, SQLSTATE %s); values withheld. Statement:\n%s\nTraceback:\n%s",
        type(exc).__name__, type(exc.orig).__name__, code, exc.statement, "".join(traceback.format_tb(exc.__traceback__)),
    )
