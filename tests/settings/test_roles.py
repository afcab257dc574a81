"""Recipient roles settings: add, rename, retire and bring back; retired roles are not offered for new sends."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.contacts.models import RecipientRole
from app.extensions import db
from app.settings.models import AuditEntry
from app.tenancy import tenant_context
from tests.support.data import login, make_contact

HTMX = {"HX-Request": "true"}


def roles_of(app, tenant_id: int) -> dict[str, bool]:
    """``{role name: retired?}`` for the tenant."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(RecipientRole)).scalars().all()
        result = {role.name: role.retired_at is not None for role in rows}
        db.session.remove()
    return result


def role_id(app, tenant_id: int, name: str) -> int:
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(RecipientRole.id).where(RecipientRole.name == name)).scalar_one()


def audit_entries(app, tenant_id: int, area: str = "roles") -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        entries = db.session.execute(
            select(AuditEntry).where(AuditEntry.area == area).order_by(AuditEntry.id)
        ).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return entries


def url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/roles{path}"


def test_admin_adds_a_role_and_the_change_is_audited(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data={"new-name": "  Practice Manager "})
    assert response.status_code == 303
    assert roles_of(app, org["tenant_id"])["Practice Manager"] is False
    [entry] = audit_entries(app, org["tenant_id"])
    assert entry.actor_id == org["admin"]
    assert entry.summary == "Added recipient role Practice Manager"
    assert entry.changes == {"name": [None, "Practice Manager"]}


def test_adding_a_role_by_htmx_returns_the_updated_list(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data={"new-name": "Office Lead"}, headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>" not in html and "Office Lead" in html and "Added the recipient role Office Lead." in html


def test_duplicate_role_name_is_refused_next_to_the_field_and_nothing_is_saved(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data={"new-name": "signer"}, headers=HTMX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="new-name-error" class="field-error">There is already a role with this name', html)
    assert sorted(roles_of(app, org["tenant_id"])) == ["NPS Recipient", "Signer"]
    assert audit_entries(app, org["tenant_id"]) == []


def test_a_blank_role_name_is_refused(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data={"new-name": "   "})
    assert response.status_code == 422
    assert 'id="new-name-error" class="field-error">Enter the role&#39;s name.' in response.get_data(as_text=True)
    assert len(roles_of(app, org["tenant_id"])) == 2


def test_rename_keeps_the_role_on_its_contacts(app, client, org):
    contact_id = make_contact(app, org["tenant_id"], "Sam Signer", roles=("Signer",))
    signer = role_id(app, org["tenant_id"], "Signer")
    login(client, app, org["admin"])
    response = client.post(url(org, f"/{signer}/rename"), data={f"role-{signer}-name": "Contract Signer"})
    assert response.status_code == 303
    page = client.get(f"/t/{org['slug']}/contacts/{contact_id}").get_data(as_text=True)
    assert "Contract Signer" in page
    [entry] = audit_entries(app, org["tenant_id"])
    assert entry.changes == {"name": ["Signer", "Contract Signer"]}


def test_renaming_to_another_roles_name_is_refused(app, client, org):
    signer = role_id(app, org["tenant_id"], "Signer")
    login(client, app, org["admin"])
    response = client.post(url(org, f"/{signer}/rename"), data={f"role-{signer}-name": "NPS recipient"})
    assert response.status_code == 422
    assert f'id="role-{signer}-name-error" class="field-error">There is already a role with this name' in (
        response.get_data(as_text=True))
    assert "Signer" in roles_of(app, org["tenant_id"])


def test_a_name_held_by_a_retired_role_is_refused_with_a_hint_to_bring_it_back(app, client, org):
    login(client, app, org["admin"])
    client.post(url(org, f"/{role_id(app, org['tenant_id'], 'Signer')}/retire"))
    response = client.post(url(org), data={"new-name": "Signer"})
    assert response.status_code == 422
    assert "A retired role already has this name. Bring it back" in response.get_data(as_text=True)


def test_retired_role_is_not_offered_on_the_send_page_or_contact_form_but_stays_on_its_contact(app, client, org):
    contact_id = make_contact(app, org["tenant_id"], "Sam Signer", roles=("Signer", "NPS Recipient"))
    signer = role_id(app, org["tenant_id"], "Signer")
    login(client, app, org["admin"])
    assert client.post(url(org, f"/{signer}/retire")).status_code == 303
    assert roles_of(app, org["tenant_id"])["Signer"] is True

    send_page = client.get(f"/t/{org['slug']}/surveys/send").get_data(as_text=True)
    assert f'<option value="{signer}"' not in send_page and "NPS Recipient (1 contact)" in send_page
    new_contact_form = client.get(f"/t/{org['slug']}/contacts/new").get_data(as_text=True)
    assert f'value="{signer}"' not in new_contact_form and "NPS Recipient" in new_contact_form
    contact_page = client.get(f"/t/{org['slug']}/contacts/{contact_id}").get_data(as_text=True)
    assert "NPS Recipient, Signer" in contact_page

    roles_page = client.get(url(org)).get_data(as_text=True)
    assert "Retired on" in roles_page and "Bring back Signer" in roles_page
    assert [e.changes for e in audit_entries(app, org["tenant_id"])] == [{"retired": [False, True]}]


def test_a_retired_role_can_be_brought_back_and_is_offered_again(app, client, org):
    make_contact(app, org["tenant_id"], "Sam Signer", roles=("Signer",))
    signer = role_id(app, org["tenant_id"], "Signer")
    login(client, app, org["admin"])
    client.post(url(org, f"/{signer}/retire"))
    assert client.post(url(org, f"/{signer}/restore")).status_code == 303
    assert roles_of(app, org["tenant_id"])["Signer"] is False
    assert "Signer (1 contact)" in client.get(f"/t/{org['slug']}/surveys/send").get_data(as_text=True)
    summaries = [e.summary for e in audit_entries(app, org["tenant_id"])]
    assert summaries == ["Retired recipient role Signer", "Brought back recipient role Signer"]


def test_manager_may_look_but_not_change_roles(app, client, org):
    login(client, app, org["manager"])
    page = client.get(url(org))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Signer" in html and "Add role" not in html and "Only admins can change these settings." in html
    signer = role_id(app, org["tenant_id"], "Signer")
    assert client.post(url(org), data={"new-name": "Sneaky"}).status_code == 403
    assert client.post(url(org, f"/{signer}/retire")).status_code == 403
    assert client.post(url(org, f"/{signer}/rename"), data={f"role-{signer}-name": "X"}).status_code == 403
    assert roles_of(app, org["tenant_id"]) == {"Signer": False, "NPS Recipient": False}


def test_agent_may_not_open_the_roles_settings(app, client, org):
    login(client, app, org["agent"])
    assert client.get(url(org)).status_code == 403
    assert client.post(url(org), data={"new-name": "Sneaky"}).status_code == 403


def test_another_organisations_roles_are_untouched_and_unreachable(app, client, org, other_org):
    other_signer = role_id(app, other_org["tenant_id"], "Signer")
    login(client, app, org["admin"])
    client.post(url(org), data={"new-name": "Practice Manager"})
    client.post(url(org, f"/{role_id(app, org['tenant_id'], 'Signer')}/retire"))
    assert client.post(url(org, f"/{other_signer}/retire")).status_code == 404
    assert client.post(url(org, f"/{other_signer}/rename"), data={f"role-{other_signer}-name": "Mine"}).status_code == 404
    assert roles_of(app, other_org["tenant_id"]) == {"Signer": False, "NPS Recipient": False}
    assert audit_entries(app, other_org["tenant_id"]) == []


def test_new_contacts_have_no_default_role_until_an_admin_chooses_one_and_the_choice_is_audited(app, client, org):
    login(client, app, org["admin"])
    page = client.get(url(org)).get_data(as_text=True)
    assert '<label for="default-default_contact_role_id">Default role for new contacts</label>' in page
    assert re.search(r'<option selected value="0">None \(new contacts start with no role\)</option>', page)

    signer = role_id(app, org["tenant_id"], "Signer")
    response = client.post(url(org, "/default"), data={"default-default_contact_role_id": signer}, headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "New contacts now start with the role Signer." in html
    assert f'<option selected value="{signer}">Signer</option>' in html
    [entry] = audit_entries(app, org["tenant_id"])
    assert entry.summary == "Set the default role for new contacts to Signer"
    assert entry.changes == {"default_role_for_new_contacts": ["None (new contacts start with no role)", "Signer"]}

    assert client.post(url(org, f"/{signer}/retire")).status_code == 303
    page = client.get(url(org)).get_data(as_text=True)
    assert re.search(r'<option selected value="0">None', page), "a retired role is no longer the default"
    assert audit_entries(app, org["tenant_id"])[-1].summary == "Set the default role for new contacts to none"


def test_a_default_role_must_be_a_role_in_use_here(app, client, org, other_org):
    login(client, app, org["admin"])
    for value in (str(role_id(app, other_org["tenant_id"], "Signer")), "999999", "nonsense"):
        response = client.post(url(org, "/default"), data={"default-default_contact_role_id": value})
        assert response.status_code == 422
        assert re.search(r'<small id="default-default_contact_role_id-error" class="field-error">[^<]+</small>',
                         response.get_data(as_text=True))
    assert audit_entries(app, org["tenant_id"]) == []


def test_manager_sees_the_default_role_but_cannot_change_it(app, client, org):
    login(client, app, org["manager"])
    page = client.get(url(org)).get_data(as_text=True)
    assert "Default role for new contacts: none (new contacts start with no role)." in page
    signer = role_id(app, org["tenant_id"], "Signer")
    assert client.post(url(org, "/default"), data={"default-default_contact_role_id": signer}).status_code == 403
