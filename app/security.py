"""Password hashing, one-time tokens and response headers."""
from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, session

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal which emails are registered.
_DUMMY_HASH = _hasher.hash("turnaround-timing-equaliser")


def _use_fast_hashing() -> None:
    """Cheap argon2id parameters, for the test suite only: hashes stay real, just quicker to compute."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _hasher.hash("turnaround-timing-equaliser")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A 256-bit URL-safe token and the SHA-256 hash under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response
