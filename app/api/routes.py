"""The API blueprint with every resource's routes on it."""
from __future__ import annotations

from app.api import accounts, contacts, responses, survey_sends, tickets, webhook_endpoints  # noqa: F401
from app.api.core import bp

__all__ = ["accounts", "bp", "contacts", "responses", "survey_sends", "tickets", "webhook_endpoints"]
