"""In Chromium, an admin names the organisation as the survey's sender, then sends to a recipient role: the
page first says how many contacts it will email and who it skips, and sends only on confirmation."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.data import PASSWORD, make_contact, make_invitation, make_org, slug_of

pytestmark = pytest.mark.e2e


def test_admin_sets_the_sender_and_confirms_a_send_to_a_role(page, app, live_server, smtp_sink, worker_process):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    slug = slug_of(app, tenant_id)
    make_contact(app, tenant_id, "Sam Signer", roles=("Signer",))
    make_contact(app, tenant_id, "Bea Both", roles=("Signer", "NPS Recipient"))
    make_invitation(app, tenant_id, make_contact(app, tenant_id, "Rita Recent", roles=("Signer",)))
    smtp_sink.clear()
    page.goto("/login")
    page.get_by_label("Email").fill("ada@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"/t/{slug}/settings/survey-content")
    page.get_by_label("Sender name").fill("Acme Customer Success")
    page.get_by_label("Reply-to address").fill("success@acme.example")
    page.get_by_role("button", name="Save sender").click()
    expect(page.locator("#flashes")).to_contain_text("Sender saved.")

    page.get_by_role("link", name="Send survey", exact=True).click()
    page.get_by_label("Recipient role", exact=True).select_option(label="Signer (3 contacts)")
    page.get_by_role("button", name="Send survey to everyone with this role").click()
    expect(page.get_by_role("status").filter(has_text="This will email")).to_have_text(
        "This will email 2 contacts (1 skipped: surveyed in the last 30 days — Rita Recent).")
    assert not smtp_sink.messages
    page.get_by_role("button", name="Send to 2 contacts").click()
    expect(page.get_by_text(re.compile("Survey sent to 2 contacts."))).to_be_visible()

    messages = smtp_sink.wait_for(2, timeout=20)
    assert {str(m["From"]) for m in messages} == {"Acme Customer Success <outreach@turnaround.localhost>"}
    assert {str(m["Reply-To"]) for m in messages} == {"success@acme.example"}
