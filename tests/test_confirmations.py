"""Deleting a notification list, retiring a recipient role, resetting an email template and deactivating a
member each ask first, on a page that works without JavaScript: the control is a link to a page that says
what will happen, whose button makes the change and whose Cancel changes nothing."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.accounts.models import Membership
from app.contacts.models import RecipientRole
from app.extensions import db
from app.settings.models import EmailTemplate, NotificationList
from app.tenancy import tenant_context
from tests.support.data import login


def _scalar(app, tenant_id: int, statement):
    with app.app_context(), tenant_context(tenant_id):
        value = db.session.execute(statement).scalar_one_or_none()
        db.session.remove()
    return value


def _link(page: str, text: str) -> str:
    """The href of the link (a button-looking ``<a>``) whose text is ``text``."""
    match = re.search(rf'<a href="([^"]+)"[^>]*>\s*{re.escape(text)}\s*</a>', page)
    assert match, f"no link “{text}”"
    return html.unescape(match.group(1))


def _confirm(client, page_url: str, control: str) -> tuple[str, str]:
    """Follow the control on ``page_url`` to its confirmation page; returns (that page, its form's action)."""
    page = client.get(page_url).get_data(as_text=True)
    assert f'<button type="submit" class="secondary outline small">{control}</button>' not in page, \
        "the change is one click away"
    response = client.get(_link(page, control))
    assert response.status_code == 200
    confirmation = response.get_data(as_text=True)
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)" class="confirm-buttons"',
                                     confirmation).group(1))
    assert "Cancel" in confirmation
    return confirmation, action


def test_deleting_a_notification_list_asks_first_and_cancel_keeps_it(app, client, org):
    login(client, app, org["admin"])
    lists_url = f"/t/{org['slug']}/settings/notifications"
    confirmation, action = _confirm(client, lists_url, "Delete list Managers")
    assert "Delete the list “Managers”?" in confirmation and "stop getting these emails" in confirmation
    assert _link(confirmation, "Cancel") == lists_url
    assert _scalar(app, org["tenant_id"], select(NotificationList.id)) is not None, "asking deleted nothing"

    response = client.post(action)
    assert response.status_code == 303
    assert "Deleted the list “Managers”." in client.get(lists_url).get_data(as_text=True)
    assert _scalar(app, org["tenant_id"], select(NotificationList.id)) is None


def test_retiring_a_recipient_role_asks_first_and_says_who_keeps_it(app, client, org):
    login(client, app, org["admin"])
    confirmation, action = _confirm(client, f"/t/{org['slug']}/settings/roles", "Retire Signer")
    assert "Retire the recipient role Signer?" in confirmation and "You can bring it back later." in confirmation
    signer = select(RecipientRole.retired_at).where(RecipientRole.name == "Signer")
    assert _scalar(app, org["tenant_id"], signer) is None

    assert client.post(action).status_code == 303
    assert _scalar(app, org["tenant_id"], signer) is not None


def test_resetting_an_email_template_asks_first_and_only_when_there_is_wording_to_lose(app, client, org):
    login(client, app, org["admin"])
    editor_url = f"/t/{org['slug']}/settings/email-templates/detractor_intro"
    already = client.get(f"{editor_url}/reset", follow_redirects=True).get_data(as_text=True)
    assert "The detractor introduction email already uses the default wording." in already

    client.post(editor_url, data={"subject": "Custom subject", "body": "Custom body"})
    confirmation, action = _confirm(client, editor_url, "Reset to default")
    assert "Go back to the default wording of the detractor introduction email?" in confirmation
    assert _scalar(app, org["tenant_id"], select(EmailTemplate.id)) is not None

    assert client.post(action).status_code == 303
    assert _scalar(app, org["tenant_id"], select(EmailTemplate.id)) is None


def test_deactivating_a_member_asks_first_and_says_what_happens(app, client, org):
    login(client, app, org["admin"])
    confirmation, action = _confirm(client, f"/t/{org['slug']}/team/", "Deactivate Alex Agent")
    assert "Deactivate Alex Agent?" in confirmation
    assert "can no longer open Acme Billing" in confirmation and "reactivate them later" in confirmation
    active = select(Membership.is_active).where(Membership.user_id == org["agent"])
    assert _scalar(app, org["tenant_id"], active) is True

    assert client.post(action).status_code == 303
    assert _scalar(app, org["tenant_id"], active) is False


@pytest.mark.parametrize("path", ["/settings/notifications/lists/{list_id}/delete",
                                  "/settings/email-templates/detractor_intro/reset",
                                  "/team/members/{membership_id}/deactivate"])
def test_only_admins_reach_a_confirmation_page(app, client, org, path):
    list_id = _scalar(app, org["tenant_id"], select(NotificationList.id))
    membership_id = _scalar(app, org["tenant_id"], select(Membership.id).where(Membership.user_id == org["agent"]))
    login(client, app, org["manager"])
    url = f"/t/{org['slug']}" + path.format(list_id=list_id, membership_id=membership_id)
    assert client.get(url).status_code == 403
