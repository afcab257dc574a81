"""Password hashing, one-time tokens and response headers."""
from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, g, request, session
from flask_login import login_user

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal which emails are registered.
_DUMMY_HASH = _hasher.hash("turnaround-timing-equaliser")


def _use_fast_hashing() -> None:
    """Cheap argon2id parameters, for the test suite only: hashes stay real, just quicker to compute."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _hasher.hash("turnaround-timing-equaliser")

MIN_PASSWORD_LENGTH = 12
PASSWORD_HINT = f"At least {MIN_PASSWORD_LENGTH} characters, and not a commonly used password."


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's list (from leaked password sets), lower-cased.

    Imported on first use: zxcvbn builds all its dictionaries on import, which web and worker processes that
    never check a password need not pay for."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, in words for the person choosing it; None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(set(password)) < 3 or password.lower() in _common_passwords():
        return "This password is on a list of commonly used passwords. Choose one that is harder to guess."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def start_session(user) -> None:
    """Log ``user`` in with a fresh CSRF secret, so a token seen before login is worthless after it."""
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)
    login_user(user)


def new_token() -> tuple[str, str]:
    """A 256-bit URL-safe token and the SHA-256 hash under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def describe_window(limit) -> str:
    """A rate limit's window in words: "an hour", "a minute", "5 minutes" (``limit`` is a ``limits`` item)."""
    unit = limit.GRANULARITY.name
    if limit.multiples == 1:
        return f"{'an' if unit == 'hour' else 'a'} {unit}"
    return f"{limit.multiples} {unit}s"


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    if app.config["APP_ENV"] == "test":
        _use_fast_hashing()

    @app.before_request
    def _idle_timeout():
        # A permanent session is refreshed on every request and expires after PERMANENT_SESSION_LIFETIME idle.
        session.permanent = True

    production = app.config["APP_ENV"] == "production"

    @app.after_request
    def _headers(response):
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Pages for a logged-in member show personal data (tickets, contacts, the email log): keep them out of
        # every cache, the browser's back-forward and disk caches included. The session says whether someone
        # is logged in without asking the database, which may be the very thing that failed.
        if request.endpoint not in ("static", "asset") and session.get("_user_id"):
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response
