"""The one error a service raises when a rule refuses a change.

A service raises :class:`RuleError` with the message a person reads and, when the message is about one
form field, that field's name; nothing has been written that the caller must keep (the route rolls back).
Routes turn it into a 422 with the message next to its field through :func:`app.views.place_error`.
"""
from __future__ import annotations

from collections.abc import Mapping


class RuleError(ValueError):
    """A change the rules refuse. ``field`` names the form field the message belongs next to (None: the
    message is about the whole form or object). ``errors`` maps every field at fault to its message, for a
    service that checks several fields at once (see :meth:`on_fields`)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors: dict[str | None, str] = {field: message}

    @classmethod
    def on_fields(cls, errors: Mapping[str, str]) -> RuleError:
        """One error carrying a message for each of several fields (``errors`` is not empty)."""
        field, message = next(iter(errors.items()))
        error = cls(" ".join(errors.values()), field)
        error.errors = dict(errors)
        return error
