"""Confirmation pages for changes that delete or end something (a notification list, a retired role, an
organisation's own email wording, a member's access).

The control on the list is a link to a page that says what will happen, with a button that posts the
change and a way back. It works without JavaScript (``hx-confirm`` needs it, and the CSP allows no inline
script), and the POST route that makes the change stays the only place that makes it.
"""
from __future__ import annotations

from flask import render_template


def confirm_page(*, title: str, question: str, consequence: str, action: str, button: str, cancel: str) -> str:
    """The confirmation page: ``question`` as its heading, ``consequence`` below it, a form posting to
    ``action`` whose submit button says ``button``, and a Cancel link back to ``cancel``."""
    return render_template("confirm.html", title=title, question=question, consequence=consequence,
                           action=action, button=button, cancel=cancel)
