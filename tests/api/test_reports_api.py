"""Reports through the API: the NPS overview and follow-up performance of chosen days, for any token (read-only
too), computed by the reports' metrics (the hand-computed figures are checked in tests/reports), with bad
periods refused naming the parameter, and only the token's organisation counted."""
from __future__ import annotations

from tests.api.conftest import Api
from tests.support.data import answer, make_contact
from tests.support.tickets import open_ticket


def test_a_read_only_token_reads_both_reports_of_the_last_30_days_by_default(app, read_api, org):
    open_ticket(app, org, "Ann Client", 2)
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Pia Promoter"), 10)
    nps = read_api.get("/reports/nps")
    assert nps.status_code == 200, nps.get_json()
    body = nps.get_json()
    assert body["period"]["days"] == 30 and body["period"]["timezone"] == "America/New_York"
    assert (body["responses"], body["promoters"], body["detractors"], body["nps"]) == (2, 1, 1, 0.0)
    assert body["group_by"] == "week" and sum(point["responses"] for point in body["series"]) == 2
    follow_up = read_api.get("/reports/follow-up")
    assert follow_up.status_code == 200, follow_up.get_json()
    figures = follow_up.get_json()
    assert (figures["opened"], figures["open_now"], figures["closed"]) == (1, 1, 0)
    assert {member["name"] for member in figures["members"]} >= {"Alex Agent", "Mia Manager"}
    assert figures["recovery"] == {"resurveyed": 0, "now_passive": 0, "now_promoter": 0, "recovery_rate": None,
                                   "average_change": None}
    assert read_api.post("/reports/nps", json={}).status_code == 405
    assert Api(app.test_client(), None).get("/reports/nps").status_code == 401


def test_bad_periods_are_refused_naming_the_parameter(app, read_api):
    for path in ("/reports/nps", "/reports/follow-up"):
        for query, field, message in [
            ("from=2026-11-01", "to", "Give both from and to, or neither (the last 30 days)."),
            ("to=2026-11-01", "from", None),
            ("from=2026-13-01&to=2026-12-01", "from", None),
            ("from=2026-11-30&to=2026-11-01", "to", "The last day must not be before the first day."),
            ("from=2020-01-01&to=2026-01-01", "to", "Choose a period of at most three years."),
            ("from=1999-12-01&to=2000-01-31", "from", "Enter the first day as a date, e.g. 2026-01-31."),
        ]:
            refused = read_api.get(f"{path}?{query}")
            assert refused.status_code == 422, (path, query, refused.get_json())
            error = refused.get_json()["error"]
            assert error["field"] == field, (path, query, error)
            if message:
                assert error["message"] == message
    refused = read_api.get("/reports/nps?group_by=day")
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "group_by"


def test_only_the_tokens_organisation_is_counted(app, api, other_api, org, other_org):
    open_ticket(app, other_org, "Otto Other", 1)
    for name in ("Bea One", "Bea Two"):
        answer(app, other_org["tenant_id"], make_contact(app, other_org["tenant_id"], name), 10)
    mine = api.get("/reports/nps?group_by=source").get_json()
    assert (mine["responses"], mine["nps"], mine["series"]) == (0, None, [])
    theirs = other_api.get("/reports/nps").get_json()
    assert (theirs["responses"], theirs["promoters"]) == (3, 2)
    follow_up = api.get("/reports/follow-up").get_json()
    assert (follow_up["opened"], follow_up["open_now"]) == (0, 0)
    assert "Bo Agent" not in {member["name"] for member in follow_up["members"]}
    assert other_api.get("/reports/follow-up").get_json()["opened"] == 1
