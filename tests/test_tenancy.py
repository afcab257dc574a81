"""Tenant isolation: another organisation's objects are 404 on every route that takes an id."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, insert, select, text, update

from app.accounts.models import TeamInvitation
from app.extensions import db
from app.mail import OutboxMessage
from app.tenancy import (TenantContextMissing, UnscopedStatement, all_tenants, scoped_by_hand, tenant_context,
                         unscoped)
from app.tickets.models import Ticket
from tests.imports.helpers import make_import
from tests.support.data import add_member, answer, login, make_account, make_contact, make_org, managers_list_id, slug_of
from tests.support.workflow import item_id, task_id

# How to make one object of organisation A for each kind of id a URL can take.
ID_FACTORIES = {
    "contact_id": lambda app, t: make_contact(app, t, "Zed Zero"),
    "ticket_id": lambda app, t: _ticket(app, t),
    "invitation_id": lambda app, t: _team_invitation(app, t),
    "message_id": lambda app, t: _message(app, t),
    "notification_list_id": managers_list_id,
    "membership_id": lambda app, t: _membership(app, t),
    "task_id": task_id,
    "item_id": item_id,
    "recipient_role_id": lambda app, t: _setup_row(app, t, "recipient_role"),
    "holiday_id": lambda app, t: _setup_row(app, t, "holiday"),
    "plan_template_id": lambda app, t: _setup_row(app, t, "plan_template"),
    "root_cause_id": lambda app, t: _setup_row(app, t, "root_cause"),
    "question_id": lambda app, t: _survey_question(app, t),
    "send_id": lambda app, t: _survey_send(app, t),
    "account_id": lambda app, t: make_account(app, t, "Zed Account"),
    "member_id": lambda app, t: _account_team_seat(app, t),
    "function_id": lambda app, t: _setup_row(app, t, "account_function"),
    "team_id": lambda app, t: _team(app, t),
    "view_id": lambda app, t: _saved_view(app, t),
    "import_id": lambda app, t: make_import(app, t),
    "token_id": lambda app, t: _api_row(app, t, "token"),
    "endpoint_id": lambda app, t: _api_row(app, t, "endpoint"),
    "response_id": lambda app, t: answer(app, t, make_contact(app, t, "Rae Response"), 9),
    "integration_id": lambda app, t: _integration_delivery(app, t)[0],
    "delivery_id": lambda app, t: _integration_delivery(app, t)[1],
    "theme_id": lambda app, t: _theme(app, t),
}


def _account_team_seat(app, tenant_id):
    """A place on the team of the tenant's account (made when missing), held by one of its members."""
    from app.accounts.models import Membership
    from app.customers.models import AccountTeamMember

    account_id = make_account(app, tenant_id, "Zed Account")
    with app.app_context(), tenant_context(tenant_id):
        user_id = db.session.execute(select(Membership.user_id).limit(1)).scalar_one()
        seat = AccountTeamMember(account_id=account_id, user_id=user_id)
        db.session.add(seat)
        db.session.commit()
        return seat.id


def _saved_view(app, tenant_id):
    """A saved ticket-list view of the tenant's first admin."""
    from app.accounts.models import Membership
    from app.tickets.models import SavedView

    with app.app_context(), tenant_context(tenant_id):
        admin_id = db.session.execute(select(Membership.user_id).where(Membership.role == "admin")
                                      .order_by(Membership.id).limit(1)).scalar_one()
        view = SavedView(user_id=admin_id, name="Open tickets", query="status=open")
        db.session.add(view)
        db.session.commit()
        view_id = view.id
        db.session.remove()
    return view_id


def _api_row(app, tenant_id, kind):
    """An API token (made by the organisation's first admin) or a webhook endpoint."""
    from app.accounts.models import Membership
    from app.api.models import WebhookEndpoint
    from app.api.tokens import create_token

    with app.app_context(), tenant_context(tenant_id):
        if kind == "token":
            admin = db.session.execute(select(Membership.user_id).order_by(Membership.id).limit(1)).scalar_one()
            row, _ = create_token(name="Outside sync", scope="read_write", created_by_id=admin)
        else:
            row = WebhookEndpoint(url="https://hooks.example.com/t", events=[], secret_salt="salt")
            db.session.add(row)
        db.session.commit()
        return row.id


def _integration_delivery(app, tenant_id):
    from app.integrations.models import IntegrationDelivery
    from app.integrations.services import create_integration

    with app.app_context(), tenant_context(tenant_id):
        integration = create_integration(kind="hubspot", name="HubSpot")
        delivery = IntegrationDelivery(integration_id=integration.id, outcome="accepted", payload="{}")
        db.session.add(delivery)
        db.session.commit()
        return integration.id, delivery.id


def _theme(app, tenant_id):
    from app.feedback.models import Theme

    with app.app_context(), tenant_context(tenant_id):
        theme = Theme(label="Billing")
        db.session.add(theme)
        db.session.commit()
        theme_id = theme.id
        db.session.remove()
    return theme_id


def _setup_row(app, tenant_id, kind):
    """A recipient role, holiday, action-plan template or root cause of the tenant (the defaults, or a new holiday)."""
    from datetime import date

    from app.contacts.models import RecipientRole
    from app.customers.models import AccountFunction
    from app.settings.models import ActionPlanTemplate, Holiday, RootCause

    model = {"recipient_role": RecipientRole, "holiday": Holiday, "plan_template": ActionPlanTemplate,
             "root_cause": RootCause, "account_function": AccountFunction}[kind]
    with app.app_context(), tenant_context(tenant_id):
        if kind == "holiday":
            db.session.add(Holiday(day=date(2030, 1, 1), name="New Year"))
            db.session.commit()
        return db.session.execute(select(model.id).limit(1)).scalar_one()


def _survey_question(app, tenant_id):
    from app.surveys.models import SurveyQuestion
    from app.surveys.services import default_survey

    with app.app_context(), tenant_context(tenant_id):
        question = SurveyQuestion(survey_id=default_survey().id, prompt="Would you renew?", position=1)
        db.session.add(question)
        db.session.commit()
        return question.id


def _team(app, tenant_id):
    from app.teams.models import Team

    with app.app_context(), tenant_context(tenant_id):
        team = Team(name="Customer Success")
        db.session.add(team)
        db.session.commit()
        return team.id


def _survey_send(app, tenant_id):
    from app.surveys.models import SurveySend
    from app.surveys.services import default_survey

    with app.app_context(), tenant_context(tenant_id):
        send = SurveySend(survey_id=default_survey().id, contact_ids=[], status="done", total=0, queued=0,
                          skipped_throttled=0, throttle_days=30, last_contact_id=0)
        db.session.add(send)
        db.session.commit()
        return send.id


def _ticket(app, tenant_id):
    answer(app, tenant_id, make_contact(app, tenant_id, "Tia Ticket"), 2, "bad")
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(Ticket.id)).scalar_one()


def _message(app, tenant_id):
    _team_invitation(app, tenant_id)
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(OutboxMessage.id).limit(1)).scalar_one()


def _team_invitation(app, tenant_id):
    from app.accounts.models import Tenant, User
    from app.accounts.services import invite_member

    with app.app_context(), tenant_context(tenant_id):
        tenant = db.session.get(Tenant, tenant_id)
        inviter = db.session.execute(select(User).limit(1)).scalar_one()
        invitation = invite_member(tenant=tenant, email="newbie@example.com", role="agent", invited_by=inviter)
        db.session.commit()
        return invitation.id


def _membership(app, tenant_id):
    from app.accounts.models import Membership

    user_id = add_member(app, tenant_id, "agent", "Mo Member", "mo@acme.example")
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(Membership.id).where(Membership.user_id == user_id)).scalar_one()


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        if "tenant_slug" not in rule.arguments:
            continue
        ids = [a for a in rule.arguments if a.endswith("_id")]
        if ids:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, ids, method


def test_every_route_with_an_id_has_a_factory(app):
    missing = {a for rule, ids, _ in _id_routes(app) for a in ids if a not in ID_FACTORIES}
    assert not missing, f"add a factory to ID_FACTORIES for {missing}"


def test_outsider_gets_404_for_every_object_route(app):
    """Generated from the URL map: a member of B asking for A's object, under either slug, gets 404."""
    a_id, _ = make_org(app, "Acme Billing")
    b_id, b_admin = make_org(app, "Bayside Clinic", kind="clinic", email="boss@bayside.example")
    a_slug, b_slug = slug_of(app, a_id), slug_of(app, b_id)
    objects = {name: factory(app, a_id) for name, factory in ID_FACTORIES.items()}
    client = app.test_client()
    login(client, app, b_admin)
    checked = 0
    for rule, ids, method in _id_routes(app):
        values = {name: objects[name] for name in ids}
        for slug in (b_slug, a_slug):
            url = _build(rule.rule, tenant_slug=slug, **values)
            response = client.open(url, method=method, data={})
            assert response.status_code == 404, f"{method} {url} gave {response.status_code}"
            assert "Acme" not in response.get_data(as_text=True)
            checked += 1
    assert checked >= 2


def _build(pattern: str, **values) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), pattern)


def test_member_of_a_tenant_cannot_open_another_tenants_pages(app):
    a_id, _ = make_org(app, "Acme Billing")
    _, b_admin = make_org(app, "Bayside Clinic", kind="clinic", email="boss@bayside.example")
    client = app.test_client()
    login(client, app, b_admin)
    assert client.get(f"/t/{slug_of(app, a_id)}/").status_code == 404
    assert client.get("/t/no-such-org/").status_code == 404


def test_deactivated_member_gets_404(app):
    a_id, _ = make_org(app, "Acme Billing")
    agent = add_member(app, a_id, "agent", "Al Agent", "al@acme.example")
    from app.accounts.models import Membership

    with app.app_context(), tenant_context(a_id):
        db.session.execute(select(Membership).where(Membership.user_id == agent)).scalar_one().is_active = False
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "al@acme.example", "password": "correct-horse-battery"})
    assert client.get(f"/t/{slug_of(app, a_id)}/").status_code in (302, 404)


def test_queries_are_scoped_to_the_current_tenant(app):
    a_id, _ = make_org(app, "Acme Billing")
    b_id, _ = make_org(app, "Bayside Clinic", email="boss@bayside.example")
    make_contact(app, a_id, "Only In A")
    make_contact(app, b_id, "Only In B")
    from app.contacts.models import Contact

    with app.app_context():
        with tenant_context(a_id):
            assert db.session.execute(select(Contact.name)).scalars().all() == ["Only In A"]
        with tenant_context(b_id):
            assert db.session.execute(select(Contact.name)).scalars().all() == ["Only In B"]


def test_tenant_owned_query_without_a_tenant_raises(app):
    from app.contacts.models import Contact

    with app.app_context():
        with pytest.raises(TenantContextMissing):
            db.session.execute(select(Contact)).all()
        db.session.rollback()


def test_new_rows_take_the_current_tenant(app):
    a_id, _ = make_org(app, "Acme Billing")
    from app.contacts.models import Contact

    with app.app_context(), tenant_context(a_id):
        contact = Contact(name="New Person", email="new@example.com")
        db.session.add(contact)
        db.session.flush()
        assert contact.tenant_id == a_id
        db.session.rollback()


def test_team_invitation_is_scoped(app):
    a_id, _ = make_org(app, "Acme Billing")
    invitation_id = _team_invitation(app, a_id)
    b_id, _ = make_org(app, "Bayside Clinic", email="boss@bayside.example")
    with app.app_context(), tenant_context(b_id):
        assert db.session.execute(select(TeamInvitation).where(TeamInvitation.id == invitation_id)).first() is None


def _two_orgs_with_contacts(app) -> tuple[int, int]:
    a_id, _ = make_org(app, "Acme Billing")
    b_id, _ = make_org(app, "Bayside Clinic", email="boss@bayside.example")
    make_contact(app, a_id, "Only In A")
    make_contact(app, b_id, "Only In B")
    return a_id, b_id


def test_a_core_select_on_a_tenant_owned_table_inside_another_tenant_shows_nothing_of_the_first(app):
    from app.accounts.models import Tenant
    from app.contacts.models import Contact

    a_id, b_id = _two_orgs_with_contacts(app)
    with app.app_context(), tenant_context(b_id):
        with pytest.raises(UnscopedStatement):
            db.session.execute(select(Contact.__table__.c.name)).all()
        db.session.rollback()
        with pytest.raises(UnscopedStatement):
            db.session.execute(select(Tenant.name).where(Tenant.id.in_(select(Contact.__table__.c.tenant_id)))).all()
        db.session.rollback()
        table = Contact.__table__
        for statement in (update(table).values(name="Hijacked"), delete(table),
                          insert(table).values(tenant_id=a_id, name="Planted", email="planted@example.com")):
            with pytest.raises(UnscopedStatement):
                db.session.execute(statement)
            db.session.rollback()
    with app.app_context(), tenant_context(a_id):
        assert db.session.execute(select(Contact.name)).scalars().all() == ["Only In A"]


def test_a_core_select_on_a_tenant_owned_table_outside_any_tenant_raises(app):
    from app.contacts.models import Contact

    _two_orgs_with_contacts(app)
    with app.app_context():
        with pytest.raises(TenantContextMissing):
            db.session.execute(select(Contact.__table__.c.name)).all()
        db.session.rollback()


def test_core_statements_that_say_how_they_are_scoped_run(app):
    from app.accounts.models import Tenant
    from app.contacts.models import Contact

    a_id, b_id = _two_orgs_with_contacts(app)
    table = Contact.__table__
    with app.app_context():
        assert len(db.session.execute(select(Tenant.__table__.c.slug)).all()) == 2  # not tenant-owned
        assert sorted(db.session.execute(unscoped(select(table.c.name))).scalars()) == ["Only In A", "Only In B"]
        with all_tenants():
            assert len(db.session.execute(select(table.c.name)).all()) == 2
            with tenant_context(b_id):  # narrows back to one tenant
                assert db.session.execute(select(Contact.name)).scalars().all() == ["Only In B"]
        with tenant_context(b_id):
            mine = scoped_by_hand(select(table.c.name).where(table.c.tenant_id == b_id))
            assert db.session.execute(mine).scalars().all() == ["Only In B"]
        db.session.rollback()


def test_raw_sql_needs_a_marker(app):
    a_id, _ = _two_orgs_with_contacts(app)
    with app.app_context(), tenant_context(a_id):
        with pytest.raises(UnscopedStatement):
            db.session.execute(text("SELECT name FROM contact"))
        db.session.rollback()
        assert db.session.execute(unscoped(text("SELECT count(*) FROM contact"))).scalar_one() == 2
        db.session.rollback()


def _postgresql(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.fixture()
def pg(app):
    if not _postgresql(app):
        pytest.skip("row-level security is PostgreSQL's")
    return app


def _count(table: str, tenant_id: int) -> int:
    return db.session.execute(
        scoped_by_hand(text(f'SELECT count(*) FROM "{table}" WHERE tenant_id = :t')), {"t": tenant_id}
    ).scalar_one()


def test_the_app_acts_as_the_row_level_security_role(pg):
    from app.tenancy import APP_DB_ROLE

    with pg.app_context():
        who = db.session.execute(scoped_by_hand(text(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))).one()
        db.session.rollback()
    assert tuple(who) == (APP_DB_ROLE, False, False)


def test_row_level_security_hides_every_tenant_owned_table_of_another_tenant(pg):
    """Raw SQL that forgets its tenant filter, with tenant B set, sees no row of tenant A in any
    tenant-owned table; every such table of the metadata has the policy."""
    from app.tenancy import tenant_owned_tables

    a_id, _ = make_org(pg, "Acme Billing")
    for factory in ID_FACTORIES.values():
        factory(pg, a_id)
    b_id, _ = make_org(pg, "Bayside Clinic", email="boss@bayside.example")
    names = sorted(t.name for t in tenant_owned_tables())
    with pg.app_context():
        guarded = set(db.session.execute(unscoped(text(
            "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
            "AND p.policyname = 'tenant_isolation' WHERE c.relrowsecurity AND c.relname = ANY(:names)")),
            {"names": names}).scalars())
        assert set(names) - guarded == set(), "tenant-owned tables without row-level security"
        with tenant_context(a_id):
            seen_by_a = {name: _count(name, a_id) for name in names}
        with tenant_context(b_id):
            assert {name: _count(name, a_id) for name in names} == dict.fromkeys(names, 0)
        with all_tenants():
            assert {name: _count(name, a_id) for name in names} == seen_by_a
        db.session.rollback()
    assert sum(1 for n in seen_by_a.values() if n) >= 15, seen_by_a


def test_row_level_security_refuses_writing_into_another_tenant(pg):
    import sqlalchemy.exc

    a_id, b_id = _two_orgs_with_contacts(pg)
    with pg.app_context(), tenant_context(b_id):
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="row-level security"):
            db.session.execute(scoped_by_hand(text(
                "INSERT INTO contact (tenant_id, name, email, created_at) VALUES (:a, 'Planted', 'p@x.example', now())"
            )), {"a": a_id})
        db.session.rollback()
        assert db.session.execute(scoped_by_hand(text("UPDATE contact SET name = 'Hijacked' WHERE tenant_id = :a")),
                                  {"a": a_id}).rowcount == 0
        db.session.rollback()


def test_row_level_security_follows_the_tenant_through_savepoints_and_transactions(pg):
    a_id, b_id = _two_orgs_with_contacts(pg)
    with pg.app_context():
        with tenant_context(a_id):
            assert _count("contact", a_id) == 1
            savepoint = db.session.begin_nested()
            with tenant_context(b_id):
                assert _count("contact", a_id) == 0
            assert _count("contact", a_id) == 1
            savepoint.rollback()
        with tenant_context(b_id):
            assert _count("contact", a_id) == 0
            savepoint = db.session.begin_nested()
            assert _count("contact", b_id) == 1
            savepoint.rollback()  # the setting made inside the savepoint is gone; B is set again
            assert _count("contact", a_id) == 0
        db.session.commit()
        with tenant_context(a_id):  # a new transaction starts with nothing set
            assert _count("contact", a_id) == 1
        assert _count("contact", a_id) == 0  # no tenant and no all_tenants: nothing
        db.session.rollback()


def test_search_views_show_only_the_tenant_the_transaction_is_set_to(pg):
    """The search views (app.search) stand outside the policies; each shows its table's rows of the current
    tenant only, whatever tenant id a query names, and answers searches through the trigram indexes."""
    from app.search import SEARCHABLE, matching_ids
    from app.contacts.models import Contact

    a_id, b_id = _two_orgs_with_contacts(pg)
    with pg.app_context():
        with tenant_context(a_id):
            own = db.session.execute(matching_ids(Contact, ["name", "email"], "a")).scalars().all()
            assert own
        with tenant_context(b_id):
            for view in SEARCHABLE:
                assert db.session.execute(scoped_by_hand(text(
                    f'SELECT count(*) FROM "{view}_search" WHERE tenant_id = :a')), {"a": a_id}).scalar_one() == 0
            planted = db.session.execute(scoped_by_hand(text(
                "SELECT count(*) FROM contact_search WHERE id = ANY(:ids)")), {"ids": own}).scalar_one()
            assert planted == 0
        with all_tenants():
            assert db.session.execute(scoped_by_hand(text("SELECT count(*) FROM contact_search"))).scalar_one() == 0
        db.session.rollback()
