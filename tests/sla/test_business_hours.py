"""The SLA clock: each unit, opening hours, weekends, holidays, daylight saving, calendar mode, pause and resume."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.business_time import Calendar, Duration

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(timezone.utc)


def local(moment: datetime) -> datetime:
    return moment.astimezone(NY).replace(tzinfo=None)


BUSINESS = Calendar(timezone="America/New_York")  # Monday to Friday, 09:00–17:00
CALENDAR = Calendar(timezone="America/New_York", business_hours=False)
TUESDAY = (2026, 11, 24)


def minutes(n): return Duration(n, "minutes")
def hours(n): return Duration(n, "hours")
def days(n): return Duration(n, "business_days")


def test_a_4_hour_target_set_late_on_tuesday_counts_only_opening_hours_and_is_due_wednesday_morning():
    assert local(BUSINESS.due(ny(*TUESDAY, 15, 38), hours(4))) == datetime(2026, 11, 25, 11, 38)


def test_the_same_target_in_calendar_mode_is_due_that_evening():
    assert local(CALENDAR.due(ny(*TUESDAY, 15, 38), hours(4))) == datetime(*TUESDAY, 19, 38)


def test_a_30_minute_response_target_runs_within_opening_hours():
    assert local(BUSINESS.due(ny(*TUESDAY, 10, 0), minutes(30))) == datetime(*TUESDAY, 10, 30)
    assert local(BUSINESS.due(ny(*TUESDAY, 16, 45), minutes(30))) == datetime(2026, 11, 25, 9, 15)
    assert local(CALENDAR.due(ny(*TUESDAY, 16, 45), minutes(30))) == datetime(*TUESDAY, 17, 15)


def test_a_target_that_ends_exactly_at_closing_is_due_at_closing():
    assert local(BUSINESS.due(ny(*TUESDAY, 9, 0), hours(8))) == datetime(*TUESDAY, 17, 0)


def test_one_business_day_is_the_same_time_on_the_next_working_day():
    assert local(BUSINESS.due(ny(*TUESDAY, 15, 38), days(1))) == datetime(2026, 11, 25, 15, 38)
    assert local(BUSINESS.due(ny(*TUESDAY, 15, 38), days(2))) == datetime(2026, 11, 26, 15, 38)


def test_a_detractor_at_1730_on_friday_with_one_business_day_is_due_tuesday_at_opening():
    assert local(BUSINESS.due(ny(2026, 11, 20, 17, 30), days(1))) == datetime(*TUESDAY, 9, 0)
    assert local(BUSINESS.due(ny(2026, 11, 20, 17, 30), days(2))) == datetime(2026, 11, 25, 9, 0)


def test_business_days_skip_the_weekend():
    assert local(BUSINESS.due(ny(2026, 11, 20, 10, 0), days(1))) == datetime(2026, 11, 23, 10, 0)
    assert local(BUSINESS.due(ny(2026, 11, 20, 10, 0), days(10))) == datetime(2026, 12, 4, 10, 0)


def test_opening_hours_skip_the_weekend():
    assert local(BUSINESS.due(ny(2026, 11, 20, 15, 0), hours(4))) == datetime(2026, 11, 23, 11, 0)
    assert local(BUSINESS.due(ny(2026, 11, 22, 14, 0), hours(4))) == datetime(2026, 11, 23, 13, 0)


def test_a_business_day_lands_within_the_opening_hours_of_the_day_it_falls_on():
    short_wednesday = Calendar(timezone="America/New_York", hours={
        2: [(time(9), time(17))], 3: [(time(12), time(14))]})
    assert local(short_wednesday.due(ny(*TUESDAY, 10, 0), days(1))) == datetime(2026, 11, 25, 12, 0)
    assert local(short_wednesday.due(ny(*TUESDAY, 16, 30), days(1))) == datetime(2026, 11, 25, 14, 0)


def test_holidays_are_skipped_in_every_unit():
    thanksgiving = Calendar(timezone="America/New_York", holidays=frozenset({date(2026, 11, 26), date(2026, 11, 27)}))
    assert local(thanksgiving.due(ny(2026, 11, 25, 13, 0), days(1))) == datetime(2026, 11, 30, 13, 0)
    assert local(thanksgiving.due(ny(2026, 11, 25, 15, 0), hours(4))) == datetime(2026, 11, 30, 11, 0)
    assert local(thanksgiving.due(ny(2026, 11, 25, 16, 50), minutes(30))) == datetime(2026, 11, 30, 9, 20)


def test_a_business_day_across_the_daylight_saving_change_keeps_the_local_time():
    # Clocks went back at 02:00 on Sunday 1 November 2026: Friday noon to Monday noon is 73 real hours.
    start = ny(2026, 10, 30, 12, 0)
    due = BUSINESS.due(start, days(1))
    assert local(due) == datetime(2026, 11, 2, 12, 0)
    assert due - start == timedelta(hours=73)
    assert BUSINESS.elapsed(start, due) == timedelta(hours=8)


def test_opening_hours_across_the_daylight_saving_change_are_real_hours():
    # Clocks went forward at 02:00 on Sunday 8 March 2026.
    assert local(BUSINESS.due(ny(2026, 3, 6, 15, 0), hours(4))) == datetime(2026, 3, 9, 11, 0)
    sundays = Calendar(timezone="America/New_York", hours={7: [(time(0), time(23, 59))]})
    start = ny(2026, 11, 1, 0, 0)
    due = sundays.due(start, hours(10))
    assert due - start == timedelta(hours=10)
    assert local(due) == datetime(2026, 11, 1, 9, 0), "the 25-hour day gives one more real hour before 09:00"


def test_calendar_mode_counts_every_hour_and_a_day_is_24_real_hours():
    assert local(CALENDAR.due(ny(2026, 11, 20, 17, 30), days(1))) == datetime(2026, 11, 21, 17, 30)
    due = CALENDAR.due(ny(2026, 10, 31, 12, 0), days(1))
    assert due - ny(2026, 10, 31, 12, 0) == timedelta(hours=24)
    assert local(due) == datetime(2026, 11, 1, 11, 0)
    assert CALENDAR.due(ny(2026, 10, 31, 12, 0), hours(24)) == due


def test_elapsed_counts_opening_hours_only():
    assert BUSINESS.elapsed(ny(2026, 11, 20, 16, 0), ny(2026, 11, 23, 10, 0)) == timedelta(hours=2)
    assert BUSINESS.elapsed(ny(2026, 11, 20, 17, 30), ny(2026, 11, 23, 10, 0)) == timedelta(hours=1)
    assert BUSINESS.elapsed(ny(2026, 11, 23, 10, 0), ny(2026, 11, 20, 16, 0)) == timedelta(0)


def test_add_and_elapsed_agree():
    start = ny(2026, 11, 20, 15, 45)
    for n in (0.5, 1, 7.5, 8, 24, 36, 80):
        assert BUSINESS.elapsed(start, BUSINESS.add(start, n)) == timedelta(hours=n)


def test_pause_and_resume_push_the_due_time_by_the_paused_opening_hours():
    opened = ny(2026, 11, 23, 9, 0)
    paused, resumed = ny(2026, 11, 23, 11, 0), ny(2026, 11, 25, 11, 0)
    used = BUSINESS.elapsed(opened, paused)
    due = BUSINESS.add(resumed, 8 - used.total_seconds() / 3600)
    assert local(due) == datetime(2026, 11, 25, 17, 0)


def test_custom_weekdays_and_split_shifts():
    saturdays = Calendar(timezone="America/New_York", hours={6: [(time(10), time(12)), (time(13), time(15))]})
    assert local(saturdays.next_working_moment(ny(2026, 11, 21, 12, 30))) == datetime(2026, 11, 21, 13, 0)
    assert local(saturdays.due(ny(2026, 11, 21, 11, 30), hours(1))) == datetime(2026, 11, 21, 13, 30)
    assert local(saturdays.due(ny(2026, 11, 21, 16, 0), hours(1))) == datetime(2026, 11, 28, 11, 0)


def test_a_cadence_gap_in_whole_days_of_hours_is_business_days():
    assert Duration.from_hours(48) == days(2)
    assert Duration.from_hours(4) == hours(4)


def test_units_read_as_people_say_them():
    assert [str(days(1)), str(days(2)), str(minutes(30)), str(hours(1))] == [
        "1 business day", "2 business days", "30 minutes", "1 hour"]


def test_unknown_units_naive_datetimes_and_schedules_without_working_time_are_refused():
    with pytest.raises(ValueError):
        Duration(1, "fortnights")
    with pytest.raises(ValueError):
        Calendar().due(datetime(2026, 1, 1), hours(1))
    with pytest.raises(ValueError):
        Calendar(hours={})
