"""Bad input is never a 500: generated requests to every route of the URL map, as an admin with real data.

Each request picks a route and one of its methods, fills the path with a real id or a random value (huge,
negative, unicode, NUL), adds a random query string, a form body of the route's real field names (read
from the forms on the app's own pages) and random ones, and random htmx headers. Any 5xx fails the test
with the logged traceback. The run is derandomized, so CI sends the same requests every time.
"""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Rule

import app as app_package
from app.extensions import db
from app.tenancy import tenant_context
from app.views import encode_cursor
from tests.support.data import PASSWORD, add_member, login, make_contact, make_invitation, make_org, slug_of
from tests.support.tickets import HTMX, close, open_ticket, ticket_url
from tests.test_tenancy import ID_FACTORIES

EXAMPLES = 5000
TEMPLATE_KEYS = ("detractor_intro", "survey_invitation", "no-such-template")
QUERY_NAMES = ["page", "after", "q", "who", "cause", "sort", "state", "draft", "holidays", "list", "next", "score",
               "actor", "setting", "since", "until"]
# Text from an alphabet of troublemakers (drawing from a short list is far cheaper than any Unicode character).
ALPHABET = [*"aZ09 -_.,;:/?&=%+#@'\"<>{}[]\\\t\n\r", "\x00", "\x01", "\x7f", "\u0085", "\u2028", "\u202e", "\ufeff",
            "é", "ß", "中", "\U0001f600"]
TEXT = st.text(st.sampled_from(ALPHABET), max_size=10)
NASTY_TEXT = st.sampled_from(["", " ", "\x00", "a\x00b", "-1", "0", "1", str(2**31), str(2**63), "9" * 400, "1e309",
                              "nan", "9999-12-31", "9999-12-31T23:00", "0000-00-00", "2030-02-30", "25:61", "<script>",
                              "{{ x }}", "{unknown}", "%00", "../", "true", "on", "y"])
VALUE = st.one_of(NASTY_TEXT, TEXT, st.integers(-(2**70), 2**70).map(str))
INT_PATH = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63]))
HEADER_SETS = st.fixed_dictionaries({}, optional={
    "HX-Request": st.sampled_from(["true", "false"]),
    "HX-Target": st.sampled_from(["main", "ticket-actions", "task-list", "x"]),
    "HX-History-Restore-Request": st.just("true"),
    "HX-Boosted": st.just("true"),
})


@pytest.fixture()
def world(app):
    """An organisation with one object of every kind a URL can name, an admin client, and each route's forms."""
    tenant_id, admin_id = make_org(app, "Acme Billing")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@acme.example")
    objects = {name: factory(app, tenant_id) for name, factory in ID_FACTORIES.items()}
    org = {"tenant_id": tenant_id, "slug": slug_of(app, tenant_id)}
    closed_ticket = open_ticket(app, org, "Cleo Closed")
    close(app, tenant_id, closed_ticket, admin_id)
    token = make_invitation(app, tenant_id, make_contact(app, tenant_id, "Tom Token"))
    client = app.test_client()
    login(client, app, admin_id)
    routes = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    world = {"client": client, "login": lambda: login(client, app, admin_id), "routes": routes,
             "values": {**{k: [v] for k, v in objects.items()}, "ticket_id": [objects["ticket_id"], closed_ticket],
                        "tenant_slug": [org["slug"]], "token": [token], "key": list(TEMPLATE_KEYS),
                        "status": ["new", "contacted", "action_plan", "closed"], "name": ["htmx.js"],
                        "email": ["zed@example.com"]}}
    world["fields"] = _form_fields(app, world)
    return world


def _form_fields(app, world) -> dict[str, list[str]]:
    """The field names of the forms on every GET page, by the endpoint each form posts to."""
    adapter = app.url_map.bind("localhost")
    fields: dict[str, set[str]] = {}
    for rule in world["routes"]:
        if "GET" not in rule.methods:
            continue
        html = world["client"].get(_url(rule, {k: v[0] for k, v in world["values"].items()})).get_data(as_text=True)
        for action, body in re.findall(r'<form[^>]*?action="([^"]*)"[^>]*>(.*?)</form>', html, re.S):
            try:
                endpoint, _ = adapter.match(urlsplit(unescape(action)).path, method="POST")
            except (NotFound, MethodNotAllowed):
                continue
            fields.setdefault(endpoint, set()).update(re.findall(r'\bname="([^"]+)"', body))
    return {endpoint: sorted(names) for endpoint, names in fields.items()}


def _url(rule: Rule, values: dict) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: quote(str(values[m.group(1)]), safe=""), rule.rule)


QUERY = st.dictionaries(st.sampled_from(QUERY_NAMES) | TEXT, VALUE, max_size=3)


def request_strategy(world) -> st.SearchStrategy:
    """Requests as (method, url, query, form, headers), over every route of ``world``. The strategies of
    each route are built once here: building them per example would cost more than sending the request."""
    per_route = []
    for rule in world["routes"]:
        methods = st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        parts = {}
        for name in rule.arguments:
            real = world["values"].get(name, [])
            choices = [st.sampled_from(real)] if real else []
            if name != "tenant_slug":
                choices.append(INT_PATH if name.endswith("_id") else NASTY_TEXT | TEXT)
            parts[name] = st.one_of(*choices)
        urls = st.fixed_dictionaries(parts).map(lambda values, rule=rule: _url(rule, values))
        real_fields = world["fields"].get(rule.endpoint, [])
        names = st.sampled_from(real_fields) | TEXT if real_fields else TEXT
        forms = st.dictionaries(names, st.lists(VALUE, min_size=1, max_size=2), max_size=len(real_fields) + 2)
        per_route.append(st.tuples(methods, urls, QUERY, forms, HEADER_SETS))

    @st.composite
    def requests(draw):
        return draw(per_route[draw(st.integers(0, len(per_route) - 1))])

    return requests()


def test_no_request_is_a_server_error(app, world, monkeypatch):
    """5,000 generated requests over the whole URL map: each is answered below 500."""
    failures: list[str] = []
    monkeypatch.setattr(app_package, "_log_unhandled", lambda app, exc: failures.append(_describe(exc)))
    client = world["client"]
    sent = []

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(request_strategy(world))
    def send(request):
        method, url, query, form, headers = request
        failures.clear()
        response = client.open(url, method=method, query_string=query, data=form, headers=headers)
        sent.append(1)
        assert response.status_code < 500, f"{method} {url} {query} {form} {headers}: {response.status_code}\n" + \
            "\n".join(failures)
        if url == "/logout" or response.headers.get("Location", "").startswith("/login"):
            world["login"]()

    send()
    assert len(sent) >= EXAMPLES


def _describe(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


# --- Each cause the fuzzing found, one test apiece --------------------------------------------------------

NUL_MESSAGE = "Text cannot contain the NUL character"


def test_ids_and_pages_beyond_the_databases_range_are_not_found(app, org, as_member):
    client = as_member("admin")
    slug = org["slug"]
    for url in (f"/t/{slug}/tickets/{2**31}", f"/t/{slug}/tickets/{2**63 - 1}", f"/t/{slug}/contacts/{2**40}/edit"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/t/{slug}/tickets/{2**31}/notes", data={"note-body": "Hi"}).status_code == 404
    assert client.get(f"/t/{slug}/", query_string={"cause": 2**31}).status_code == 200
    for url in ("settings/roles", "settings/root_causes", "settings/action_plans", "team/"):
        assert client.get(f"/t/{slug}/{url}", query_string={"page": 2**63}).status_code == 200, url
    for url, cursor in (("contacts/", ["Zed", 2**31]), ("emails/", [{"t": "2030-01-01T00:00:00"}, 1]),
                        ("tasks", ["2030-01-01", "x"])):
        raw = encode_cursor(cursor).replace("eyJ0IjoiMjAzMC0wMS0wMVQwMDowMDowMCJ9", "")
        assert client.get(f"/t/{slug}/{url}", query_string={"after": raw}).status_code == 200, url


def test_an_id_no_row_can_have_in_a_form_is_an_invalid_choice(app, org, as_member):
    response = as_member("admin").post(f"/t/{org['slug']}/settings/roles/default",
                                       data={"default-default_contact_role_id": str(-(2**40))})
    assert response.status_code == 422
    assert "Choose one of the roles in use, or none." in response.get_data(as_text=True)


def test_a_nul_character_is_refused_before_anything_is_written(app, org, as_member):
    client = app.test_client()
    response = client.post("/login", data={"email": "admin@acme-billing.example\x00", "password": PASSWORD})
    assert response.status_code == 400 and NUL_MESSAGE in response.get_data(as_text=True)
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Nora Nul"))
    response = client.post(f"/s/{token}", data={"score": "3", "comment": "Slow\x00 replies"})
    assert response.status_code == 400 and NUL_MESSAGE in response.get_data(as_text=True)
    member = as_member("admin")
    response = member.post(f"/t/{org['slug']}/contacts/new", data={"name": "Nul\x00 Person", "email": "n@x.example"},
                           headers=HTMX)
    assert response.status_code == 400 and NUL_MESSAGE in response.get_data(as_text=True)
    assert member.get(f"/t/{org['slug']}/contacts/", query_string={"q": "a\x00"}).status_code == 400
    from app.contacts.models import Contact
    from app.surveys.models import Response

    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.scalar(db.select(db.func.count()).select_from(Response)) == 0
        assert db.session.scalar(db.select(Contact.id).where(Contact.name.like("Nul%"))) is None


@pytest.mark.parametrize("path, data", [
    ("tasks", {"task-title": "", "task-due_at": ""}),
    ("action-plan/items", {"item-title": ""}),
    ("action-plan", {"plan-template_id": "x"}),
])
def test_a_panel_form_posted_to_a_closed_ticket_says_it_is_closed(app, org, as_member, path, data):
    ticket_id = open_ticket(app, org)
    close(app, org["tenant_id"], ticket_id, org["admin"])
    response = as_member("admin").post(ticket_url(org, ticket_id, path), data=data, headers=HTMX)
    assert response.status_code == 200
    assert "This ticket is closed. Reopen it to make changes." in response.get_data(as_text=True)


@pytest.mark.parametrize("page, data", [
    ("sla", {"first_contact_target": "9" * 400, "first_contact_target_unit": "hours"}),
    ("cadence", {"call_attempts": "9" * 400, "email_attempts": "1", "attempt_gap_hours": "9" * 400}),
    ("throttling", {"days": "9" * 400}),
    ("scoring", {"detractor_max": "9" * 400, "passive_max": "8", "ticket_trigger_max": "6"}),
])
def test_a_huge_number_in_a_settings_field_is_a_message(app, org, as_member, page, data):
    response = as_member("admin").post(f"/t/{org['slug']}/settings/{page}", data=data)
    assert response.status_code == 422, response.status_code


def test_blank_numbers_in_the_scoring_check_are_asked_for(app, org, as_member):
    response = as_member("admin").post(f"/t/{org['slug']}/settings/scoring/check", headers=HTMX,
                                       data={"detractor_max": " ", "passive_max": "8", "ticket_trigger_max": " "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter the detractor max." in page and "Enter the ticket trigger." in page


@pytest.mark.parametrize("path, data, field", [
    ("tasks", {"task-title": "Call back", "task-due_at": "9999-12-31T23:00"}, "task-due_at"),
    ("action-plan/items", {"item-title": "Refund", "item-owner_team": "Billing", "item-due_date": "9999-12-31"},
     "item-due_date"),
])
def test_a_date_at_the_end_of_the_calendar_is_refused_next_to_its_field(app, org, as_member, path, data, field):
    ticket_id = open_ticket(app, org)  # the organisation is in New York: 9999-12-31 23:00 there is year 10000 in UTC
    response = as_member("admin").post(ticket_url(org, ticket_id, path), data=data, headers=HTMX)
    assert response.status_code == 422
    assert "Choose a date before the year 3000." in response.get_data(as_text=True)


def test_a_holiday_at_the_end_of_the_calendar_is_refused(app, org, as_member):
    response = as_member("admin").post(f"/t/{org['slug']}/settings/sla/holidays",
                                       data={"holiday-day": "9999-12-31", "holiday-name": "Last day"})
    assert response.status_code == 422
    assert "Choose a date before the year 3000." in response.get_data(as_text=True)


def test_the_template_preview_restored_from_history_is_the_whole_page(app, org, as_member):
    response = as_member("admin").post(
        f"/t/{org['slug']}/settings/email-templates/detractor_intro/preview",
        data={"subject": "Hello", "body": "Hi"}, headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert response.status_code == 200
    assert "<html" in response.get_data(as_text=True)
