"""The API blueprint with every resource's routes on it."""
from __future__ import annotations

from app.api import (accounts, contacts, integrations, reports, responses, survey_sends, tickets,  # noqa: F401
                     webhook_endpoints)
from app.api.core import bp

__all__ = ["accounts", "bp", "contacts", "integrations", "reports", "responses", "survey_sends", "tickets",
           "webhook_endpoints"]
