"""SLA windows settings: targets, business hours, clock mode, holidays and the breach reassignee, and the due
times new tickets get from them."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.settings.models import AuditEntry, Holiday, WorkflowSettings
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.support.data import answer, login, make_contact
from tests.support.html import options

NY = ZoneInfo("America/New_York")
FRIDAY_1730 = datetime(2026, 11, 20, 17, 30, tzinfo=NY)
HTMX = {"HX-Request": "true"}


def url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/sla{path}"


def sla_form(**changes) -> dict:
    """The SLA form as the page submits it with the defaults, with ``changes`` applied (None drops a field)."""
    data = {
        "first_contact_target": "1", "first_contact_target_unit": "business_days",
        "first_contact_breach": "2", "first_contact_breach_unit": "business_days",
        "resolution_target": "10", "resolution_target_unit": "business_days",
        "first_contact_stopped_by": "call_or_email", "business_hours_only": "business", "breach_reassign_to_id": "0",
    }
    for day in range(1, 8):
        data[f"day{day}_start"] = "09:00" if day <= 5 else ""
        data[f"day{day}_end"] = "17:00" if day <= 5 else ""
        if day <= 5:
            data[f"day{day}_open"] = "y"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def settings_of(app, tenant_id: int) -> dict:
    with app.app_context(), tenant_context(tenant_id):
        row = db.session.execute(select(WorkflowSettings)).scalar_one()
        state = {
            "target": (row.first_contact_target, row.first_contact_target_unit),
            "breach": (row.first_contact_breach, row.first_contact_breach_unit),
            "resolution": (row.resolution_target, row.resolution_target_unit),
            "stopped_by": row.first_contact_stopped_by, "business_only": row.business_hours_only,
            "hours": row.business_hours, "reassign": row.breach_reassign_to_id,
        }
        db.session.remove()
    return state


DEFAULTS = {"target": (1, "business_days"), "breach": (2, "business_days"), "resolution": (10, "business_days"),
            "stopped_by": "call_or_email", "business_only": True,
            "hours": {str(d): [["09:00", "17:00"]] for d in range(1, 6)}, "reassign": None}


def audit_entries(app, tenant_id: int) -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        entries = db.session.execute(
            select(AuditEntry).where(AuditEntry.area == "sla").order_by(AuditEntry.id)
        ).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return entries


def detractor_ticket(app, tenant_id: int, name: str = "Casey Client") -> dict:
    """A detractor answers now; returns the ticket's due times in New York local time (naive)."""
    answer(app, tenant_id, make_contact(app, tenant_id, name), 2, "Not happy")
    return due_times(app, tenant_id, name)


def due_times(app, tenant_id: int, name: str) -> dict:
    """The due times of ``name``'s ticket, in New York local time (naive)."""
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.execute(
            select(Ticket).join(Ticket.contact).where(Ticket.contact.has(name=name))
        ).scalar_one()
        due = {key: getattr(ticket, f"{key}_at").astimezone(NY).replace(tzinfo=None)
               for key in ("first_contact_due", "first_contact_breach", "resolution_due")}
        db.session.remove()
    return due


def error_of(html: str, field_id: str) -> str:
    match = re.search(rf'<small id="{field_id}-error" class="field-error">(.*?)</small>', html, re.S)
    assert match, f"no error next to {field_id}"
    return match.group(1)


def test_friday_1730_detractor_with_a_one_business_day_target_is_due_at_tuesday_opening(app, org):
    with time_machine.travel(FRIDAY_1730, tick=False):
        due = detractor_ticket(app, org["tenant_id"])
    assert due["first_contact_due"] == datetime(2026, 11, 24, 9, 0)
    assert due["first_contact_breach"] == datetime(2026, 11, 25, 9, 0)


def test_in_calendar_mode_the_same_detractor_is_due_saturday_1730(app, client, org):
    login(client, app, org["admin"])
    assert client.post(url(org), data=sla_form(business_hours_only="calendar")).status_code == 303
    with time_machine.travel(FRIDAY_1730, tick=False):
        due = detractor_ticket(app, org["tenant_id"])
    assert due["first_contact_due"] == datetime(2026, 11, 21, 17, 30)
    assert due["resolution_due"] == datetime(2026, 11, 30, 17, 30)


def test_a_holiday_moves_the_due_time(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org, "/holidays"), data={"holiday-day": "2026-11-23", "holiday-name": "Founders' Day"})
    assert response.status_code == 303
    with time_machine.travel(FRIDAY_1730, tick=False):
        due = detractor_ticket(app, org["tenant_id"])
    assert due["first_contact_due"] == datetime(2026, 11, 25, 9, 0)


def test_changed_business_hours_change_new_tickets_due_times(app, client, org):
    login(client, app, org["admin"])
    assert client.post(url(org), data=sla_form(day1_start="08:00", day1_end="16:00", first_contact_target="4",
                                               first_contact_target_unit="hours")).status_code == 303
    assert settings_of(app, org["tenant_id"])["hours"]["1"] == [["08:00", "16:00"]]
    with time_machine.travel(FRIDAY_1730, tick=False):
        due = detractor_ticket(app, org["tenant_id"])
    assert due["first_contact_due"] == datetime(2026, 11, 23, 12, 0)


def test_tickets_already_open_keep_their_deadlines_after_a_settings_change(app, client, org):
    with time_machine.travel(FRIDAY_1730, tick=False):
        before = detractor_ticket(app, org["tenant_id"], "Early Bird")
    login(client, app, org["admin"])
    assert client.post(url(org), data=sla_form(
        first_contact_target="4", first_contact_target_unit="hours",
        first_contact_breach="8", first_contact_breach_unit="hours", business_hours_only="calendar")).status_code == 303
    with time_machine.travel(FRIDAY_1730, tick=False):
        assert due_times(app, org["tenant_id"], "Early Bird") == before
        after = detractor_ticket(app, org["tenant_id"], "Late Comer")
    assert before["first_contact_due"] == datetime(2026, 11, 24, 9, 0)
    assert after["first_contact_due"] == datetime(2026, 11, 20, 21, 30)


def test_the_page_shows_times_in_the_organisations_timezone(app, client, org):
    with time_machine.travel(FRIDAY_1730, tick=False):
        login(client, app, org["admin"])
        html = client.get(url(org)).get_data(as_text=True)
    assert "America/New_York" in html
    assert "It is now Friday 20 Nov 2026, 17:30" in html
    assert re.search(r"First contact due \(1 business day\)</dt><dd>Tuesday 24 Nov 2026, 09:00 EST", html)
    assert re.search(r'<label for="day1_start">Monday opens at</label>\s*<input id="day1_start"[^>]*value="09:00"', html)


def test_saving_sla_windows_records_each_changed_field_before_and_after(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(first_contact_target="8", first_contact_target_unit="hours",
                                                   day6_open="y",
                                                   day6_start="10:00", day6_end="14:00",
                                                   breach_reassign_to_id=str(org["manager"])))
    assert response.status_code == 303
    state = settings_of(app, org["tenant_id"])
    assert state["target"] == (8, "hours") and state["hours"]["6"] == [["10:00", "14:00"]] and state["reassign"] == org["manager"]
    [entry] = audit_entries(app, org["tenant_id"])
    assert entry.actor_id == org["admin"] and entry.summary == "Changed SLA windows"
    assert entry.changes == {
        "first_contact_target": ["1 business day", "8 hours"],
        "saturday_hours": ["Closed", "10:00–14:00"],
        "on_breach_reassign_to": ["Nobody (the assignee keeps it)", "Mia Manager"],
    }


def test_saving_unchanged_settings_records_nothing(app, client, org):
    login(client, app, org["admin"])
    assert client.post(url(org), data=sla_form()).status_code == 303
    assert audit_entries(app, org["tenant_id"]) == []


def test_breach_not_after_the_target_is_refused_next_to_the_breach_field(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(first_contact_target="2", first_contact_breach="16",
                                                   first_contact_breach_unit="hours"),
                           headers=HTMX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The breach must come after the first-contact target (2 business days)." in error_of(
        html, "first_contact_breach")
    assert settings_of(app, org["tenant_id"]) == DEFAULTS
    assert audit_entries(app, org["tenant_id"]) == []


def test_targets_must_be_positive_whole_numbers(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(first_contact_target="0", first_contact_target_unit="hours",
                                                   first_contact_breach="1.5", resolution_target="-3"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_of(html, "first_contact_target") == "Enter a whole number of hours from 1 to 2000."
    assert error_of(html, "first_contact_breach") == "Enter a whole number of business days from 1 to 365."
    assert error_of(html, "resolution_target") == "Enter a whole number of business days from 1 to 365."
    assert settings_of(app, org["tenant_id"]) == DEFAULTS


def test_a_day_that_closes_before_it_opens_is_refused_next_to_its_closing_time(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(day3_start="17:00", day3_end="09:00"))
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "day3_end") == "Wednesday must close after it opens."
    assert settings_of(app, org["tenant_id"]) == DEFAULTS


def test_an_open_day_needs_both_times(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(day2_start=""))
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "day2_start") == "Enter when Tuesday opens."
    assert settings_of(app, org["tenant_id"]) == DEFAULTS


def test_counting_business_hours_needs_at_least_one_open_day(app, client, org):
    closed = {f"day{d}_open": None for d in range(1, 8)}
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(**closed))
    assert response.status_code == 422
    assert "Open at least one day" in error_of(response.get_data(as_text=True), "business_hours_only")
    assert settings_of(app, org["tenant_id"]) == DEFAULTS

    assert client.post(url(org), data=sla_form(business_hours_only="calendar", **closed)).status_code == 303
    state = settings_of(app, org["tenant_id"])
    assert state["business_only"] is False and state["hours"] == {}


def test_deadlines_more_than_three_years_away_are_refused(app, client, org):
    only_sunday = {f"day{d}_open": None for d in range(1, 6)}
    only_sunday.update(day7_open="y", day7_start="10:00", day7_end="12:00", resolution_target="365")
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(**only_sunday))
    assert response.status_code == 422
    assert "more than three years" in error_of(response.get_data(as_text=True), "resolution_target")
    assert settings_of(app, org["tenant_id"]) == DEFAULTS


def test_breached_tickets_can_only_go_to_an_active_admin_manager_or_agent(app, client, org, other_org):
    login(client, app, org["admin"])
    for person in (org["viewer"], other_org["admin"], 999999):
        response = client.post(url(org), data=sla_form(breach_reassign_to_id=str(person)))
        assert response.status_code == 422
        assert error_of(response.get_data(as_text=True), "breach_reassign_to_id") == (
            "Choose an active admin, manager or agent.")
    assert settings_of(app, org["tenant_id"])["reassign"] is None
    assert client.post(url(org), data=sla_form(breach_reassign_to_id=str(org["agent"]))).status_code == 303
    assert settings_of(app, org["tenant_id"])["reassign"] == org["agent"]


def test_holidays_are_added_and_removed_with_audit_entries(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org, "/holidays"), data={"holiday-day": "2026-12-25", "holiday-name": "Christmas Day"},
                           headers=HTMX)
    assert response.status_code == 200
    assert "Christmas Day" in response.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        holiday_id = db.session.execute(select(Holiday.id)).scalar_one()
    assert client.post(url(org, f"/holidays/{holiday_id}/remove")).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(Holiday)).first() is None
    assert [e.changes for e in audit_entries(app, org["tenant_id"])] == [
        {"holiday": [None, "2026-12-25 Christmas Day"]},
        {"holiday": ["2026-12-25 Christmas Day", None]},
    ]


def test_a_second_holiday_on_the_same_date_is_refused_next_to_the_date(app, client, org):
    login(client, app, org["admin"])
    client.post(url(org, "/holidays"), data={"holiday-day": "2026-12-25", "holiday-name": "Christmas Day"})
    response = client.post(url(org, "/holidays"), data={"holiday-day": "2026-12-25", "holiday-name": "Again"})
    assert response.status_code == 422
    assert "25 Dec 2026 is already a holiday (Christmas Day)." in error_of(response.get_data(as_text=True), "holiday-day")
    response = client.post(url(org, "/holidays"), data={"holiday-day": "not a date", "holiday-name": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and error_of(html, "holiday-day") and error_of(html, "holiday-name")
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(Holiday.name)).scalars().all() == ["Christmas Day"]
    assert len(audit_entries(app, org["tenant_id"])) == 1


def test_past_holidays_are_listed_apart_from_upcoming_ones(app, client, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add_all([Holiday(day=date(2026, 1, 1), name="New Year 2026"),
                            Holiday(day=date(2027, 1, 1), name="New Year 2027")])
        db.session.commit()
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=timezone.utc), tick=False):
        login(client, app, org["admin"])
        upcoming = client.get(url(org)).get_data(as_text=True)
        past = client.get(url(org, "?holidays=past")).get_data(as_text=True)
    assert "New Year 2027" in upcoming and "New Year 2026" not in upcoming
    assert "New Year 2026" in past and "New Year 2027" not in past


def test_manager_sees_the_sla_windows_but_cannot_change_them(app, client, org):
    login(client, app, org["manager"])
    page = client.get(url(org))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Save SLA windows" not in html and "Add holiday" not in html and "<fieldset disabled>" in html
    assert client.post(url(org), data=sla_form(first_contact_target="1")).status_code == 403
    assert client.post(url(org, "/holidays"), data={"holiday-day": "2026-12-25", "holiday-name": "X"}).status_code == 403
    assert settings_of(app, org["tenant_id"]) == DEFAULTS


def test_agent_may_not_open_the_sla_settings(app, client, org):
    login(client, app, org["agent"])
    assert client.get(url(org)).status_code == 403
    assert client.post(url(org), data=sla_form()).status_code == 403


def test_another_organisations_sla_windows_and_holidays_are_untouched(app, client, org, other_org):
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        db.session.add(Holiday(day=date(2026, 12, 25), name="Bayside Christmas"))
        db.session.commit()
        other_holiday = db.session.execute(select(Holiday.id)).scalar_one()
    login(client, app, org["admin"])
    client.post(url(org), data=sla_form(first_contact_target="2", first_contact_target_unit="hours",
                                        business_hours_only="calendar"))
    assert client.post(url(org, "/holidays"), data={"holiday-day": "2026-12-25", "holiday-name": "Christmas"}).status_code == 303
    assert client.post(url(org, f"/holidays/{other_holiday}/remove")).status_code == 404
    assert "Bayside Christmas" not in client.get(url(org)).get_data(as_text=True)
    assert settings_of(app, other_org["tenant_id"]) == DEFAULTS
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        assert db.session.execute(select(Holiday.name)).scalars().all() == ["Bayside Christmas"]
    assert audit_entries(app, other_org["tenant_id"]) == []


def test_the_page_warns_when_the_breach_reassignee_can_no_longer_work_tickets(app, client, org):
    from app.accounts.models import Membership

    login(client, app, org["admin"])
    assert client.post(url(org), data=sla_form(breach_reassign_to_id=str(org["agent"]))).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(select(Membership).where(Membership.user_id == org["agent"])).scalar_one().is_active = False
        db.session.commit()
    html = client.get(url(org)).get_data(as_text=True)
    assert "Breached tickets were set to go to Alex Agent, who can no longer work tickets here." in html
    assert "Alex Agent" not in options(html, "breach_reassign_to_id")


TUESDAY_1538 = datetime(2026, 11, 24, 15, 38, tzinfo=NY)


def test_a_4_hour_business_target_counts_opening_hours_only_and_the_preview_says_when(app, client, org):
    login(client, app, org["admin"])
    assert client.post(url(org), data=sla_form(first_contact_target="4", first_contact_target_unit="hours",
                                               first_contact_breach="8", first_contact_breach_unit="hours",
                                               resolution_target="14")).status_code == 303
    with time_machine.travel(TUESDAY_1538, tick=False):
        login(client, app, org["admin"])
        html = client.get(url(org)).get_data(as_text=True)
        due = detractor_ticket(app, org["tenant_id"])
    assert re.search(r"First contact due \(4 hours\)</dt><dd>Wednesday 25 Nov 2026, 11:38 EST", html)
    assert re.search(r"First contact breached \(8 hours\)</dt><dd>Wednesday 25 Nov 2026, 15:38 EST", html)
    assert re.search(r"Resolution due \(14 business days\)</dt><dd>Monday 14 Dec 2026, 15:38 EST", html)
    assert due == {"first_contact_due": datetime(2026, 11, 25, 11, 38),
                   "first_contact_breach": datetime(2026, 11, 25, 15, 38),
                   "resolution_due": datetime(2026, 12, 14, 15, 38)}


def test_a_response_within_30_minutes_can_be_set_and_runs_into_the_next_opening(app, client, org):
    login(client, app, org["admin"])
    response = client.post(url(org), data=sla_form(first_contact_target="30", first_contact_target_unit="minutes",
                                                   first_contact_breach="1", first_contact_breach_unit="hours"))
    assert response.status_code == 303
    assert settings_of(app, org["tenant_id"])["target"] == (30, "minutes")
    with time_machine.travel(datetime(2026, 11, 24, 16, 45, tzinfo=NY), tick=False):
        due = detractor_ticket(app, org["tenant_id"])
    assert due["first_contact_due"] == datetime(2026, 11, 25, 9, 15)
    assert due["first_contact_breach"] == datetime(2026, 11, 25, 9, 45)


def test_the_page_offers_minutes_hours_and_business_days_for_every_target_and_what_stops_the_clock(app, client, org):
    login(client, app, org["admin"])
    html = client.get(url(org)).get_data(as_text=True)
    for name in ("first_contact_target", "first_contact_breach", "resolution_target"):
        assert re.search(rf'<label for="{name}_unit">[^<]+unit</label>', html)
        select_html = re.search(rf'<select id="{name}_unit".*?</select>', html, re.S).group(0)
        assert re.findall(r">([^<]+)</option>", select_html) == ["minutes", "hours", "business days"]
    assert '<label for="first_contact_stopped_by">First contact is made by</label>' in html
    assert "What stops the first-contact clock: a logged call or a personal email." in html

    assert client.post(url(org), data=sla_form(first_contact_stopped_by="call")).status_code == 303
    assert settings_of(app, org["tenant_id"])["stopped_by"] == "call"
    [entry] = audit_entries(app, org["tenant_id"])
    assert entry.changes == {"first_contact_stopped_by": ["A logged call or a personal email", "A logged call only"]}
    response = client.post(url(org), data=sla_form(first_contact_stopped_by="smoke signal",
                                                   first_contact_target_unit="fortnights"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_of(html, "first_contact_stopped_by") and error_of(html, "first_contact_target_unit")
    assert settings_of(app, org["tenant_id"])["stopped_by"] == "call"
