"""Turnaround: close the loop on unhappy customers."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError

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
    from app.auth.routes import bp as auth_bp
    from app.contacts.routes import bp as contacts_bp
    from app.email_log.routes import bp as email_log_bp
    from app.surveys.public import public_bp as survey_public_bp
    from app.surveys.routes import bp as surveys_bp
    from app.settings.routes import bp as settings_bp
    from app.tickets.routes import bp as tickets_bp
    from app.workflow.routes import bp as workflow_bp

    for blueprint in (auth_bp, accounts_bp, team_bp, contacts_bp, surveys_bp, survey_public_bp, tickets_bp, email_log_bp,
                      settings_bp, workflow_bp):
        app.register_blueprint(blueprint)

    from app import filters

    filters.init_app(app)
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


def _register_error_pages(app: Flask) -> None:
    messages = {
        400: ("Bad request", "Something in that request was not right. Go back and try again."),
        403: ("Not allowed", "Your role in this organisation does not allow this. Ask an admin if you need it."),
        404: ("Not found", "There is nothing here. It may have been moved, or the link is mistyped."),
        405: ("Not allowed", "That action cannot be done this way."),
        429: ("Too many attempts", "Please wait a minute and try again."),
        500: ("Something went wrong", "We have logged the problem. Please try again in a moment."),
    }

    def render(code: int):
        title, message = messages[code]
        template = "errors/_error.html" if request.headers.get("HX-Request") == "true" else "errors/error.html"
        return render_template(template, code=code, title=title, message=message), code

    for code in messages:
        app.register_error_handler(code, lambda exc, code=code: render(code))

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
        app.logger.exception("Unhandled error")
        db.session.rollback()
        return render(500)
