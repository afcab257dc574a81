"""Settings read from the environment, with safe defaults for development and tests."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised when the app is asked to start with settings that are unsafe for its environment."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(raw: str | None) -> str:
    if not raw:
        instance = ROOT / "instance"
        instance.mkdir(exist_ok=True)
        return f"sqlite:///{instance / 'turnaround.db'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config from environment variables, then apply ``overrides``.

    Outside development and testing the app refuses to start without ``SECRET_KEY``.
    """
    env = os.environ
    app_env = (overrides or {}).get("APP_ENV") or env.get("APP_ENV", "development")
    testing = app_env == "test"
    config: dict = {
        "APP_ENV": app_env,
        "TESTING": testing,
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": _database_url(env.get("DATABASE_URL")),
        # hide_parameters: a failing statement's error and log lines never carry the values bound to it
        # (contact names, emails, phones, identifiers).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Jobs run in the web process after commit when Redis is not available (development only).
        "JOBS_INLINE": _bool(env.get("JOBS_INLINE")),
        # Redis queue names are "<prefix>-mail" and "<prefix>-default": the tests use their own prefix, so
        # a test run never takes (or clears) the jobs of a development server sharing the same Redis.
        "QUEUE_PREFIX": "turnaround-test" if testing else env.get("QUEUE_PREFIX") or "turnaround",
        "SWEEP_INTERVAL_SECONDS": int(env.get("SWEEP_INTERVAL_SECONDS", "30")),
        "OUTBOX_STALE_SECONDS": int(env.get("OUTBOX_STALE_SECONDS", "60")),
        # Messages per delivery job; a job sends its batch over one SMTP connection.
        "MAIL_BATCH_SIZE": int(env.get("MAIL_BATCH_SIZE", "50")),
        # "smtp" is the one transport so far (app.mail.TRANSPORTS).
        "MAIL_TRANSPORT": env.get("MAIL_TRANSPORT", "smtp"),
        # A delivery batch reconnects after this many messages, as many providers limit a connection.
        "SMTP_MAX_MESSAGES_PER_CONNECTION": int(env.get("SMTP_MAX_MESSAGES_PER_CONNECTION", "100")),
        # First retry delay after a transient failure; it doubles with each attempt (capped at an hour).
        "MAIL_RETRY_SECONDS": float(env.get("MAIL_RETRY_SECONDS", "30")),
        # How long a delivery keeps trying to record an outcome while the database is unreachable.
        "MAIL_RECORD_RETRY_SECONDS": float(env.get("MAIL_RECORD_RETRY_SECONDS", "30")),
        "SMTP_HOST": env.get("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": int(env.get("SMTP_PORT", "1025")),
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _bool(env.get("SMTP_STARTTLS")),
        "SMTP_TIMEOUT": float(env.get("SMTP_TIMEOUT", "10")),
        "MAIL_SENDER_ADDRESS": env.get("MAIL_SENDER_ADDRESS", "outreach@turnaround.localhost"),
        "MAIL_SENDER_NAME": env.get("MAIL_SENDER_NAME", "Turnaround"),
        "BASE_URL": env.get("BASE_URL", "http://127.0.0.1:" + env.get("PORT", "5000")).rstrip("/"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": app_env == "production",
        "REMEMBER_COOKIE_SECURE": app_env == "production",
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_IDLE_MINUTES", "480")) * 60,
        "WTF_CSRF_TIME_LIMIT": None,
        # Empty means "the Redis at REDIS_URL" (set below, after overrides), so every web process counts
        # against the same limits; memory:// would give each gunicorn worker its own count.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", ""),
        # If Redis stops answering, limits are counted per process rather than failing every request.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), default=True),
        "RATELIMIT_HEADERS_ENABLED": False,
        "PAGE_SIZE": 25,
        # The REST API (app.api): requests per token, counted like every other limit (Flask-Limiter).
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT", "600 per minute"),
        # Outgoing webhooks (app.notifications.webhooks). Private, loopback and link-local addresses are refused
        # unless this is on (a self-hosted instance posting to its own network; the tests' local receiver).
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": _bool(env.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES")),
        "WEBHOOK_TIMEOUT_SECONDS": float(env.get("WEBHOOK_TIMEOUT_SECONDS", "10")),
        # First retry delay after a failed attempt; it doubles with each attempt (capped at an hour).
        "WEBHOOK_RETRY_SECONDS": float(env.get("WEBHOOK_RETRY_SECONDS", "30")),
        "WEBHOOK_MAX_ATTEMPTS": int(env.get("WEBHOOK_MAX_ATTEMPTS", "8")),
        # Encrypts integration credentials at rest (app.integrations.crypto); derived from SECRET_KEY when unset.
        "INTEGRATIONS_ENCRYPTION_KEY": env.get("INTEGRATIONS_ENCRYPTION_KEY") or None,
        # Requests a receiving URL accepts per minute, and how often HubSpot is polled.
        "INTEGRATION_RATE_LIMIT": env.get("INTEGRATION_RATE_LIMIT", "1200 per minute"),
        "HUBSPOT_POLL_SECONDS": int(env.get("HUBSPOT_POLL_SECONDS", "300")),
        # Vendor API base URLs must be public https addresses unless this is on (a local fake vendor in tests).
        "INTEGRATIONS_ALLOW_LOCAL_API": _bool(env.get("INTEGRATIONS_ALLOW_LOCAL_API")),
        # The email log shows the text of verification and password-reset emails only where it is the mailbox:
        # in development (the local sink keeps no messages). Deliberately no environment variable.
        "EMAIL_LOG_SHOWS_ONE_TIME_LINKS": app_env == "development",
    }
    if overrides:
        config.update(overrides)
    if not config["RATELIMIT_STORAGE_URI"]:
        config["RATELIMIT_STORAGE_URI"] = "memory://" if config["JOBS_INLINE"] else config["REDIS_URL"]
    if not config["SECRET_KEY"]:
        if config["APP_ENV"] in {"development", "test"}:
            config["SECRET_KEY"] = "dev-" + secrets.token_hex(16) if testing else "turnaround-development-key"
        else:
            raise ConfigError("SECRET_KEY must be set outside development and test")
    return config
