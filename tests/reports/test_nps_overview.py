"""The NPS overview: a known set of responses checked against figures worked out by hand."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.reports.support import respond, roll_up, unanswered_invitation
from tests.support.html import table_rows
from tests.support.data import add_member, login, make_contact

NY = ZoneInfo("America/New_York")
NOVEMBER = "?period=custom&from=2026-11-01&to=2026-11-30"


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture()
def known_responses(app, org, other_org, clock):
    """November 2026 in New York (the organisation's timezone), worked out by hand:

    in the period: A 10 and B 9 (Alpha), C 7, D 3 amended to 9, E 2 (Beta), F 5 (no account) →
    6 responses, promoters A B D = 3, passive C = 1, detractors E F = 2, NPS (3 − 2) / 6 = +16.7;
    the previous 30 days (2 Oct – 31 Oct): H 0 at 23:30 on 31 October (already 1 November in UTC) and I 9 → 0;
    G 10 at 00:30 on 1 December is outside; the other organisation's promoters never count.
    Invitations sent in November: the six answered, one unanswered and open, one expired → 6 of 8 = 75 %.
    It is now 2 December 2026, noon in New York; a link lasts 30 days.
    """
    clock.move_to(ny(2026, 12, 2, 12))
    t = org["tenant_id"]
    alpha = [make_contact(app, t, f"Alpha {n}", account="Alpha Clinic") for n in "AB"]
    beta = [make_contact(app, t, f"Beta {n}", account="Beta Practice") for n in "CDE"]
    loner, outside, earlier, before = (make_contact(app, t, name) for name in ("Fay Loner", "Gus Late", "Hal Early",
                                                                             "Ida Before"))
    respond(app, t, alpha[0], 10, ny(2026, 11, 2, 10))
    respond(app, t, alpha[1], 9, ny(2026, 11, 3, 10))
    respond(app, t, beta[0], 7, ny(2026, 11, 10, 10))
    respond(app, t, beta[1], (3, 9), ny(2026, 11, 17, 10))
    respond(app, t, beta[2], 2, ny(2026, 11, 1, 12))
    respond(app, t, loner, 5, ny(2026, 11, 29, 23, 30), source="csv")
    respond(app, t, outside, 10, ny(2026, 12, 1, 0, 30))
    respond(app, t, earlier, 0, ny(2026, 10, 31, 23, 30))
    respond(app, t, before, 9, ny(2026, 10, 15, 12))
    unanswered_invitation(app, t, loner, ny(2026, 11, 20, 9))
    unanswered_invitation(app, t, outside, ny(2026, 11, 1, 9))
    unanswered_invitation(app, t, outside, ny(2026, 12, 2, 9))
    stranger = make_contact(app, other_org["tenant_id"], "Stan Stranger")
    for day in (5, 6, 7):
        respond(app, other_org["tenant_id"], stranger, 10, ny(2026, 11, day, 10))
    roll_up(app)
    return org


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">(.*?)</dd>', html, re.S)
    assert match, name
    return re.sub(r"\s+", " ", match.group(1)).strip()


def test_nps_counts_and_percentages_match_the_hand_computed_figures(app, known_responses, as_member):
    html = as_member("viewer").get(f"/t/{known_responses['slug']}/reports/{NOVEMBER}").get_data(as_text=True)
    assert "01 Nov 2026 – 30 Nov 2026 (30 days)" in html
    assert figure(html, "nps") == "+16.7"
    assert figure(html, "responses") == "6"
    assert figure(html, "change").startswith("+16.7 (was 0)")
    assert figure(html, "response-rate") == "75% (6 of 8 invitations answered)"
    assert figure(html, "still-open") == "1"
    bands = {row[0]: row[1:] for row in table_rows(html, "band-table") if row}
    assert bands == {"Promoters": ["3", "50%"], "Passives": ["1", "16.7%"], "Detractors": ["2", "33.3%"]}


def test_the_api_gives_the_same_hand_computed_figures(app, known_responses, client):
    from tests.api.conftest import Api, make_token

    api = Api(client, make_token(app, known_responses["tenant_id"], known_responses["admin"], scope="read"))
    answer = api.get("/reports/nps?from=2026-11-01&to=2026-11-30")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["period"] == {"first_day": "2026-11-01", "last_day": "2026-11-30", "days": 30,
                              "timezone": "America/New_York"}
    assert (body["nps"], body["responses"], body["promoters"], body["passives"], body["detractors"]) == (
        16.7, 6, 3, 1, 2)
    assert (body["promoters_percent"], body["passives_percent"], body["detractors_percent"]) == (50.0, 16.7, 33.3)
    assert (body["previous_nps"], body["change"]) == (0.0, 16.7)
    assert (body["invitations_sent"], body["invitations_answered"], body["invitations_open"],
            body["response_rate"]) == (8, 6, 1, 75.0)
    assert body["group_by"] == "week"
    assert [(p["key"], p["nps"], p["responses"], p["promoters"], p["passives"], p["detractors"])
            for p in body["series"]] == [
        ("2026-10-26", -100.0, 1, 0, 0, 1), ("2026-11-02", 100.0, 2, 2, 0, 0), ("2026-11-09", 0.0, 1, 0, 1, 0),
        ("2026-11-16", 100.0, 1, 1, 0, 0), ("2026-11-23", -100.0, 1, 0, 0, 1), ("2026-11-30", None, 0, 0, 0, 0)]
    by_account = api.get("/reports/nps?from=2026-11-01&to=2026-11-30&group_by=account").get_json()["series"]
    assert [(p["label"], p["nps"], p["responses"]) for p in by_account] == [
        ("Beta Practice", 0.0, 3), ("Alpha Clinic", 100.0, 2), ("No account", -100.0, 1)]
    assert by_account[-1]["key"] is None
    by_source = api.get("/reports/nps?from=2026-11-01&to=2026-11-30&group_by=source").get_json()["series"]
    assert [(p["key"], p["label"], p["nps"], p["responses"]) for p in by_source] == [
        ("hosted", "Hosted survey", 40.0, 5), ("csv", "Import", -100.0, 1)]
    by_role = api.get("/reports/nps?from=2026-11-01&to=2026-11-30&group_by=role").get_json()["series"]
    assert [(p["label"], p["nps"], p["responses"]) for p in by_role] == [("NPS Recipient", 16.7, 6)]
    by_month = api.get("/reports/nps?from=2026-11-01&to=2026-11-30&group_by=month").get_json()["series"]
    assert [(p["key"], p["responses"]) for p in by_month] == [("2026-11-01", 6)]


def test_the_responses_csv_of_the_period_gives_the_same_hand_computed_figures(app, known_responses, as_member):
    from tests.feedback.helpers import csv_rows

    download = as_member("viewer").get(f"/t/{known_responses['slug']}/feedback/responses.csv{NOVEMBER}")
    assert download.status_code == 200
    rows = csv_rows(download.get_data(as_text=True))
    assert len(rows) == 6, "the amended answer is one row, the answers outside November and elsewhere none"
    bands = [row["Band"] for row in rows]
    assert (bands.count("promoter"), bands.count("passive"), bands.count("detractor")) == (3, 1, 2)
    promoters, detractors = bands.count("promoter"), bands.count("detractor")
    assert round(100 * (promoters - detractors) / len(rows), 1) == 16.7
    assert sorted(int(row["Score"]) for row in rows) == [2, 5, 7, 9, 9, 10], "D counts with its latest score, 9"
    assert {row["Source"] for row in rows} == {"hosted", "csv"}


def test_the_weekly_series_counts_each_response_in_its_local_week(app, known_responses, as_member):
    html = as_member("agent").get(f"/t/{known_responses['slug']}/reports/{NOVEMBER}").get_data(as_text=True)
    # Weeks start on Monday; F (Sunday 29 November 23:30 in New York, Monday in UTC) belongs to 23 November.
    assert table_rows(html, "trend-table") == [
        ["26 Oct", "-100", "1", "0", "0", "1"],
        ["02 Nov", "100", "2", "2", "0", "0"],
        ["09 Nov", "0", "1", "0", "1", "0"],
        ["16 Nov", "100", "1", "1", "0", "0"],
        ["23 Nov", "-100", "1", "0", "0", "1"],
        ["30 Nov", "–", "0", "0", "0", "0"],
    ]
    assert "n=2" in html and "<svg" in html


def test_breakdowns_by_account_and_source_sort_and_link(app, known_responses, as_member):
    client = as_member("manager")
    base = f"/t/{known_responses['slug']}/reports/{NOVEMBER}"
    html = client.get(base + "&by=account").get_data(as_text=True)
    assert table_rows(html, "breakdown-table") == [
        ["Beta Practice", "0", "3", "1", "1", "1"],
        ["Alpha Clinic", "100", "2", "2", "0", "0"],
        ["No account", "-100", "1", "0", "0", "1"],
    ]
    # Each row leads to its responses in the feedback inbox, for the same days.
    assert re.search(r'<a href="/t/[^/]+/feedback/\?account=\d+&amp;period=custom&amp;from=[-\d]+&amp;to=[-\d]+">'
                     r'Alpha Clinic</a>', html)
    html = client.get(base + "&by=account&sort=nps&dir=desc").get_data(as_text=True)
    assert [row[0] for row in table_rows(html, "breakdown-table")] == ["Alpha Clinic", "Beta Practice", "No account"]
    html = client.get(base + "&by=account&sort=name&dir=asc").get_data(as_text=True)
    assert [row[0] for row in table_rows(html, "breakdown-table")][:2] == ["Alpha Clinic", "Beta Practice"]
    html = client.get(base + "&by=source").get_data(as_text=True)
    assert table_rows(html, "breakdown-table") == [
        ["Hosted survey", "40", "5", "3", "1", "1"],
        ["Import", "-100", "1", "0", "0", "1"],
    ]
    html = client.get(base + "&by=role").get_data(as_text=True)
    assert table_rows(html, "breakdown-table") == [["NPS Recipient", "16.7", "6", "3", "1", "2"]]


def test_the_htmx_period_change_returns_only_the_report(app, known_responses, as_member):
    response = as_member("viewer").get(f"/t/{known_responses['slug']}/reports/{NOVEMBER}",
                                       headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Reports</h1>" not in html and 'aria-label="Report period"' not in html
    assert 'href="/t/acme-billing/reports/follow-up?period=custom&amp;from=2026-11-01&amp;to=2026-11-30"' in html
    assert 'data-figure="nps">+16.7' in html


def test_bad_custom_dates_are_named_next_to_the_field_and_the_last_30_days_shown(app, org, as_member):
    client = as_member("viewer")
    html = client.get(f"/t/{org['slug']}/reports/?period=custom&from=2026-13-01&to=2026-11-30").get_data(as_text=True)
    assert 'id="from-error">Enter the first day as a date' in html
    assert "(30 days). The dates were not understood" in html
    html = client.get(f"/t/{org['slug']}/reports/?period=custom&from=2026-11-30&to=2026-11-01").get_data(as_text=True)
    assert "The last day must not be before the first day." in html
    assert client.get(f"/t/{org['slug']}/reports/?period=%00").status_code == 400
    for junk in ("?period=custom&from=x&to=y&by=nope&sort=x&dir=z", "?by=role&sort=nps"):
        assert client.get(f"/t/{org['slug']}/reports/{junk}").status_code == 200


def test_every_report_page_is_open_to_viewers_and_closed_to_outsiders(app, org, other_org, client):
    viewer = add_member(app, org["tenant_id"], "viewer", "Vic Viewer", "vic@acme.example")
    login(client, app, viewer)
    for page in ("", "follow-up", "root-causes"):
        assert client.get(f"/t/{org['slug']}/reports/{page}").status_code == 200
    assert b">Reports</a>" in client.get(f"/t/{org['slug']}/reports/").data
    outsider = app.test_client()
    login(outsider, app, other_org["admin"])
    for page in ("", "follow-up", "root-causes"):
        assert outsider.get(f"/t/{org['slug']}/reports/{page}").status_code == 404


def test_the_other_organisation_sees_only_its_own_responses(app, known_responses, other_org, client):
    login(client, app, other_org["admin"])
    html = client.get(f"/t/{other_org['slug']}/reports/{NOVEMBER}").get_data(as_text=True)
    assert figure(html, "responses") == "3"
    assert figure(html, "nps") == "+100"
