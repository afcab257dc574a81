"""The SLA clock: business hours, weekends, holidays, daylight saving, calendar mode, pause and resume."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.business_time import Calendar

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(timezone.utc)


def local(moment: datetime) -> datetime:
    return moment.astimezone(NY).replace(tzinfo=None)


BUSINESS = Calendar(timezone="America/New_York")
CALENDAR = Calendar(timezone="America/New_York", business_hours=False)


def test_detractor_at_1730_on_friday_with_24_business_hours_is_due_tuesday_morning():
    due = BUSINESS.add(ny(2026, 11, 20, 17, 30), 24)
    assert local(due) == datetime(2026, 11, 24, 9, 0)


def test_same_detractor_in_calendar_mode_is_due_saturday():
    assert local(CALENDAR.add(ny(2026, 11, 20, 17, 30), 24)) == datetime(2026, 11, 21, 17, 30)


def test_48_hour_breach_from_friday_evening_is_wednesday_opening():
    assert local(BUSINESS.add(ny(2026, 11, 20, 17, 30), 48)) == datetime(2026, 11, 25, 9, 0)


def test_a_weekday_detractor_is_due_the_next_working_day_at_the_same_time():
    assert local(BUSINESS.add(ny(2026, 11, 23, 10, 15), 24)) == datetime(2026, 11, 24, 10, 15)


def test_friday_morning_skips_the_weekend():
    assert local(BUSINESS.add(ny(2026, 11, 20, 10, 0), 24)) == datetime(2026, 11, 23, 10, 0)


def test_weekend_detractor_starts_the_clock_on_monday_opening():
    assert local(BUSINESS.add(ny(2026, 11, 22, 14, 0), 4)) == datetime(2026, 11, 23, 13, 0)


def test_holidays_are_skipped():
    thanksgiving = Calendar(timezone="America/New_York", holidays=frozenset({date(2026, 11, 26), date(2026, 11, 27)}))
    assert local(thanksgiving.add(ny(2026, 11, 25, 13, 0), 24)) == datetime(2026, 11, 30, 13, 0)


def test_daylight_saving_change_counts_real_time():
    # Clocks went back at 02:00 on Sunday 1 November 2026 (a non-working day here).
    due = BUSINESS.add(ny(2026, 10, 30, 12, 0), 24)
    assert local(due) == datetime(2026, 11, 2, 12, 0)
    assert BUSINESS.elapsed(ny(2026, 10, 30, 12, 0), due) == timedelta(hours=24)


def test_daylight_saving_change_on_a_working_day():
    sundays = Calendar(timezone="America/New_York", hours={7: [(time(0), time(23, 59))]})
    start = ny(2026, 11, 1, 0, 0)
    due = sundays.add(start, 10)
    assert due - start == timedelta(hours=10)
    assert local(due) == datetime(2026, 11, 1, 9, 0), "the 25-hour day gives one more real hour before 09:00"


def test_calendar_mode_across_dst_is_real_elapsed_time():
    due = CALENDAR.add(ny(2026, 10, 31, 12, 0), 24)
    assert due - ny(2026, 10, 31, 12, 0) == timedelta(hours=24)
    assert local(due) == datetime(2026, 11, 1, 11, 0)


def test_elapsed_skips_weekends_and_time_before_opening():
    assert BUSINESS.elapsed(ny(2026, 11, 20, 16, 0), ny(2026, 11, 23, 10, 0)) == timedelta(hours=18)
    assert BUSINESS.elapsed(ny(2026, 11, 20, 17, 30), ny(2026, 11, 23, 10, 0)) == timedelta(hours=1)
    assert BUSINESS.elapsed(ny(2026, 11, 23, 10, 0), ny(2026, 11, 20, 16, 0)) == timedelta(0)


def test_add_and_elapsed_agree():
    start = ny(2026, 11, 20, 15, 45)
    for hours in (1, 7.5, 24, 36, 48, 14 * 24):
        assert BUSINESS.elapsed(start, BUSINESS.add(start, hours)) == timedelta(hours=hours)


def test_pause_and_resume_push_the_due_time_by_the_paused_working_time():
    opened = ny(2026, 11, 23, 9, 0)
    paused, resumed = ny(2026, 11, 23, 11, 0), ny(2026, 11, 25, 11, 0)
    used = BUSINESS.elapsed(opened, paused)
    due = BUSINESS.add(resumed, 24 - used.total_seconds() / 3600)
    assert local(due) == datetime(2026, 11, 26, 9, 0)


def test_custom_weekdays_and_split_shifts():
    saturdays = Calendar(timezone="America/New_York", hours={6: [(time(10), time(12)), (time(13), time(15))]})
    assert local(saturdays.next_working_moment(ny(2026, 11, 21, 12, 30))) == datetime(2026, 11, 21, 13, 0)
    assert local(saturdays.add(ny(2026, 11, 21, 16, 0), 1)) == datetime(2026, 11, 28, 11, 0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        Calendar().add(datetime(2026, 1, 1), 1)


def test_a_schedule_with_no_working_time_is_refused():
    with pytest.raises(ValueError):
        Calendar(hours={})
