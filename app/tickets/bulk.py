"""Bulk actions on the ticket list: one service verb per ticked ticket, each under the rules of one ticket.

Every ticket goes through the same verb the ticket page uses (:mod:`app.tickets.services`): it locks the row,
checks the rules, writes its timeline entry and its notifications. Each runs in a SAVEPOINT, so a ticket the
rules refuse leaves nothing behind and the others still change; the result says which tickets were skipped
and why.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.accounts.models import User
from app.extensions import db
from app.rules import RuleError
from app.tickets import services
from app.tickets.listing import ids_in_order
from app.tickets.models import STATUSES, Ticket

# The outcome a bulk close gives every ticket.
BULK_CLOSE_OUTCOME = "no_response"


@dataclass
class BulkResult:
    """The references of the tickets that changed, and of those skipped with the reason."""

    changed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, done: str) -> str:
        """A sentence for the flash: how many changed (``done`` is the past participle, e.g. "closed") and
        each skipped ticket with its reason. References and rule messages only: no personal data."""
        count = len(self.changed)
        parts = [f"{count} ticket{'s' if count != 1 else ''} {done}."]
        if self.skipped:
            parts.append("Skipped: " + "; ".join(f"{ref} ({reason.rstrip('.')})" for ref, reason in self.skipped) + ".")
        return " ".join(parts)


def _each(ticket_ids: list[int], change: Callable[[Ticket], str | None]) -> BulkResult:
    """Run ``change`` on each ticket in its own SAVEPOINT. ``change`` returns None when it changed the
    ticket, or why nothing changed; a :class:`RuleError` rolls that ticket back and skips it."""
    result = BulkResult()
    for ticket in ids_in_order(ticket_ids):
        reference = ticket.reference
        savepoint = db.session.begin_nested()
        try:
            unchanged = change(ticket)
        except RuleError as error:
            savepoint.rollback()
            result.skipped.append((reference, error.message))
            continue
        savepoint.commit()
        if unchanged:
            result.skipped.append((reference, unchanged))
        else:
            result.changed.append(reference)
    return result


def assign(ticket_ids: list[int], actor: User, assignee: User) -> BulkResult:
    """Give each ticket to ``assignee`` (:func:`app.tickets.services.reassign`)."""

    def change(ticket: Ticket) -> str | None:
        return None if services.reassign(ticket, actor, assignee) else f"already assigned to {assignee.name}"

    return _each(ticket_ids, change)


def move(ticket_ids: list[int], actor: User, status: str) -> BulkResult:
    """Move each ticket to ``status`` (:func:`app.tickets.services.move_status`), reopening closed ones as
    the ticket page does."""

    def change(ticket: Ticket) -> str | None:
        return None if services.move_status(ticket, actor, status) else f"already in {STATUSES[status]}"

    return _each(ticket_ids, change)


def close_no_response(ticket_ids: list[int], actor: User, note: str, root_cause_ids: list[int]) -> BulkResult:
    """Close each ticket as "No response" with ``note`` and the root causes (:func:`app.tickets.services.close_ticket`)."""

    def change(ticket: Ticket) -> None:
        services.close_ticket(ticket, actor, outcome=BULK_CLOSE_OUTCOME, note=note, root_cause_ids=root_cause_ids)

    return _each(ticket_ids, change)
