"""On a 375 px phone screen no page is wider than the screen, long unbroken words wrap, and "Log out" is
reachable from the header's menu."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.tenancy import tenant_context
from app.tickets import services as tickets
from app.tickets.models import Ticket
from tests.e2e.screens import PHONE, page_width
from tests.support.data import PASSWORD, answer, make_contact, make_invitation, make_org, slug_of

pytestmark = pytest.mark.e2e

CLAIM_NUMBER = "CLM" + "0123456789" * 30
LONG_URL = "https://portal.example/claims/" + "a1b2c3d4e5" * 12


def _note_on_ticket(app, tenant_id: int, author_id: int, body: str) -> int:
    """Add a note to the tenant's only ticket; returns the ticket id."""
    from app.accounts.models import User

    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.execute(db.select(Ticket)).scalar_one()
        tickets.add_note(ticket, db.session.get(User, author_id), body)
        db.session.commit()
        ticket_id = ticket.id
        db.session.remove()
    return ticket_id


def test_no_page_is_wider_than_a_phone_and_log_out_is_in_the_menu(phone, app):
    tenant_id, admin_id = make_org(app, "Acme Billing", email="ada@acme.example")
    slug = slug_of(app, tenant_id)
    contact_id = make_contact(app, tenant_id, "Dana Whitfield", f"dana.{'x' * 60}@lakeside.example",
                              external_id="PAT" + "9" * 77)
    answer(app, tenant_id, contact_id, 2, f"Claim {CLAIM_NUMBER} was denied, see {LONG_URL}")
    ticket_id = _note_on_ticket(app, tenant_id, admin_id, f"Payer says claim {CLAIM_NUMBER} is pending: {LONG_URL}")

    phone.goto("/login")
    phone.get_by_label("Email").fill("ada@acme.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()

    for path in (f"/t/{slug}/", f"/t/{slug}/tickets/{ticket_id}", f"/t/{slug}/contacts/",
                 f"/t/{slug}/contacts/{contact_id}", f"/t/{slug}/settings/", f"/t/{slug}/team/"):
        response = phone.goto(path)
        assert response.ok, path
        assert page_width(phone) <= PHONE["width"], f"{path} is {page_width(phone)} px wide"

    phone.goto(f"/t/{slug}/tickets/{ticket_id}")
    expect(phone.get_by_text(CLAIM_NUMBER, exact=False).first).to_be_visible()
    log_out = phone.get_by_role("button", name=re.compile("Log out"))
    expect(log_out).to_be_hidden()
    phone.get_by_text("Menu", exact=True).click()
    expect(log_out).to_be_visible()
    box = log_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    log_out.click()
    expect(phone.get_by_role("link", name="Log in")).to_be_visible()


def test_the_survey_page_fits_a_phone(phone, app):
    tenant_id, _ = make_org(app, "LakesidePhysicalTherapyAndSportsRehabilitationCentreOfNorthernCalifornia",
                            kind="clinic", email="admin@lakeside.example")
    contact_id = make_contact(app, tenant_id, "Dana Whitfield")
    token = make_invitation(app, tenant_id, contact_id)

    phone.goto(f"/s/{token}?score=3")
    expect(phone.get_by_text("Your score of 3 is saved.")).to_be_visible()
    assert page_width(phone) <= PHONE["width"]


def _logged_message(app, tenant_id: int, text_body: str) -> int:
    from app.mail import queue_email

    with app.app_context(), tenant_context(tenant_id):
        message = queue_email(kind="survey_invitation", to_address="dana@lakeside.example", to_name="Dana Whitfield",
                              subject="How did we do?", text_body=text_body)
        db.session.commit()
        message_id = message.id
        db.session.remove()
    return message_id


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 800}], ids=["phone", "desktop"])
def test_the_email_log_shows_the_whole_text_version(browser, live_server, app, viewport):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    slug = slug_of(app, tenant_id)
    score_link = f"{live_server}/s/{'t0k3n' * 40}?score=10"
    text = f"Hello Dana,\n\nHow likely are you to recommend us?\n\n10: {score_link}\n\nThe Acme team"
    message_id = _logged_message(app, tenant_id, text)
    context = browser.new_context(base_url=live_server, viewport=viewport)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill("ada@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()

    page.goto(f"/t/{slug}/emails/{message_id}")
    body = page.locator("pre", has_text="Hello Dana,")
    expect(body).to_contain_text(score_link)
    expect(body).to_contain_text("The Acme team")
    hidden_sideways = body.evaluate("el => el.scrollWidth - el.clientWidth")
    assert hidden_sideways <= 0, "part of the text is hidden behind a horizontal scroll"
    assert page_width(page) <= viewport["width"]
    context.close()
