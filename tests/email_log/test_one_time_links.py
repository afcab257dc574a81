"""Who reads verification and password-reset emails in the email log: nobody, the recipient included, except
where the log is the mailbox (development). Their link lets whoever holds it act as the recipient, and the
founder who signed up with an address they do not own is the very person a verification link must not reach."""
import pytest

from app.config import load_config
from tests.support.data import add_member, login, make_org, slug_of
from tests.support.mail import link_path, outbox


@pytest.fixture()
def links(app):
    """An unconfirmed founder (Ada), a second admin (Bo), and a verification and a reset email for Ada."""
    tenant_id, founder_id = make_org(app, "Acme Billing", email="ada@acme.example", verified=False)
    other_id = add_member(app, tenant_id, "admin", "Bo Admin", "bo@acme.example")
    client = app.test_client()
    login(client, app, founder_id)
    slug = slug_of(app, tenant_id)
    client.post(f"/t/{slug}/email-verification")
    app.test_client().post("/password/forgot", data={"email": "ada@acme.example"})
    return {"slug": slug, "founder": founder_id, "other": other_id,
            "messages": outbox(app, tenant_id, "email_verification") + outbox(app, tenant_id, "password_reset")}


@pytest.mark.parametrize("reader", ["founder", "other"])
def test_no_admin_reads_a_one_time_link_in_the_log_not_even_its_recipient(app, links, reader):
    client = app.test_client()
    login(client, app, links[reader])
    assert [m.kind for m in links["messages"]] == ["email_verification", "password_reset"]
    for message in links["messages"]:
        page = client.get(f"/t/{links['slug']}/emails/{message.id}").get_data(as_text=True)
        assert message.subject in page
        assert "one-time link for its recipient alone" in page and "in the mailbox of ada@acme.example" in page
        assert link_path(message) not in page and "Text version" not in page
        assert client.get(f"/t/{links['slug']}/emails/{message.id}/html").status_code == 404


def test_where_the_log_is_the_mailbox_it_shows_the_links(app, links, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_LOG_SHOWS_ONE_TIME_LINKS", True)
    client = app.test_client()
    login(client, app, links["founder"])
    for message in links["messages"]:
        page = client.get(f"/t/{links['slug']}/emails/{message.id}").get_data(as_text=True)
        assert link_path(message) in page and "one-time link" not in page
        html = client.get(f"/t/{links['slug']}/emails/{message.id}/html")
        assert html.status_code == 200 and link_path(message) in html.get_data(as_text=True)


@pytest.mark.parametrize(("app_env", "shown"), [("development", True), ("test", False), ("production", False)])
def test_only_development_shows_one_time_links_in_the_log(app_env, shown, monkeypatch):
    monkeypatch.setenv("EMAIL_LOG_SHOWS_ONE_TIME_LINKS", "1")  # not read from the environment: no way to turn it on
    config = load_config({"APP_ENV": app_env, "SECRET_KEY": "k"})
    assert config["EMAIL_LOG_SHOWS_ONE_TIME_LINKS"] is shown
