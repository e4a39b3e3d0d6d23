"""The plan's calendar rules: occurrences, completion keys, health and the family's "today".

Pure functions, so no app fixtures. A day-by-day oracle written straight from the product's
definitions cross-checks the arithmetic implementation.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.services.schedule import (
    Health,
    Schedule,
    current_occurrence,
    health,
    is_occurrence,
    missed_turns,
    next_occurrence,
    occurrence_key,
    occurrences,
    ticks_matter_since,
    today_in,
)

D = date.fromisoformat


def days(*isos: str) -> list[date]:
    return [D(x) for x in isos]


# --- oracle -----------------------------------------------------------------------------------


def oracle_is_occurrence(s: Schedule, day: date) -> bool:
    """Membership straight from the definitions, one day at a time."""
    if day < s.start or (s.end is not None and day > s.end):
        return False
    if s.kind == "weekly":
        return day.weekday() in s.weekdays
    if s.kind == "every_n_weeks":
        return (day - s.start).days % (7 * s.interval) == 0
    if s.kind == "monthly":
        last = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
        return day.day == min(s.start.day, last)
    raise AssertionError(s.kind)


def oracle_occurrences(s: Schedule, since: date, until: date) -> list[date]:
    out = []
    day = since
    while day <= until:
        if oracle_is_occurrence(s, day):
            out.append(day)
        day += timedelta(days=1)
    return out


ORACLE_SCHEDULES = [
    Schedule("weekly", D("2026-01-01"), weekdays=frozenset({0, 3})),
    Schedule("weekly", D("2026-01-06"), D("2026-05-17"), weekdays=frozenset({6})),
    Schedule("weekly", D("2026-02-27"), weekdays=frozenset(range(7))),
    Schedule("weekly", D("2026-03-03"), D("2026-09-30"), weekdays=frozenset({1, 2, 5})),
    Schedule("every_n_weeks", D("2026-01-05"), interval=1),
    Schedule("every_n_weeks", D("2026-01-07"), interval=2),
    Schedule("every_n_weeks", D("2026-01-10"), D("2026-12-05"), interval=3),
    Schedule("every_n_weeks", D("2025-12-29"), interval=52),
    Schedule("monthly", D("2026-01-31")),
    Schedule("monthly", D("2027-11-30"), D("2028-08-29")),
    Schedule("monthly", D("2026-01-29")),
    Schedule("monthly", D("2026-02-15"), D("2026-06-15")),
]
ORACLE_RANGES = [
    (D("2025-06-01"), D("2026-01-01")),  # ends on / before the start
    (D("2026-01-01"), D("2026-01-31")),
    (D("2026-02-10"), D("2026-04-03")),
    (D("2025-11-15"), D("2028-12-31")),  # spans a leap February and every end
    (D("2027-12-20"), D("2028-03-05")),
    (D("2026-05-17"), D("2026-05-17")),  # a single day
]


@pytest.mark.parametrize("s", ORACLE_SCHEDULES, ids=lambda s: f"{s.kind}-{s.start}")
def test_repeating_kinds_match_day_by_day_definition(s):
    for since, until in ORACLE_RANGES:
        expected = oracle_occurrences(s, since, until)
        assert occurrences(s, since, until) == expected, (since, until)
    # Every day's "this turn" and "next" agree with the oracle too.
    everything = oracle_occurrences(s, s.start, D("2030-12-31"))
    day = D("2025-12-01")
    while day <= D("2028-12-31"):
        past = [d for d in everything if d <= day]
        future = [d for d in everything if d > day]
        expected_current = past[-1] if past else (everything[0] if everything else None)
        assert current_occurrence(s, day) == expected_current, day
        assert next_occurrence(s, day) == (future[0] if future else None), day
        assert is_occurrence(s, day) == oracle_is_occurrence(s, day), day
        day += timedelta(days=1)


# --- occurrences per kind ---------------------------------------------------------------------


def test_once_has_a_single_occurrence_on_its_date():
    s = Schedule("once", D("2026-12-01"))
    assert occurrences(s, D("2026-11-01"), D("2026-12-31")) == [D("2026-12-01")]
    assert occurrences(s, D("2026-12-01"), D("2026-12-01")) == [D("2026-12-01")]  # inclusive
    assert occurrences(s, D("2026-11-01"), D("2026-11-30")) == []
    assert occurrences(s, D("2026-12-02"), D("2027-01-31")) == []


def test_period_appears_once_keyed_by_its_start():
    s = Schedule("period", D("2026-10-17"), D("2026-10-25"))
    assert occurrences(s, D("2026-10-01"), D("2026-10-31")) == [D("2026-10-17")]
    assert occurrences(s, D("2026-10-17"), D("2026-10-17")) == [D("2026-10-17")]
    # A window inside the period (but after its start) does not repeat it every day.
    assert occurrences(s, D("2026-10-18"), D("2026-10-31")) == []


def test_weekly_on_several_days_in_order():
    s = Schedule("weekly", D("2026-01-01"), weekdays=frozenset({3, 0}))  # Thu 1 Jan; Mon+Thu
    assert occurrences(s, D("2025-12-01"), D("2026-01-15")) == days(
        "2026-01-01", "2026-01-05", "2026-01-08", "2026-01-12", "2026-01-15"
    )


def test_weekly_starts_on_the_first_matching_weekday_after_start():
    s = Schedule("weekly", D("2026-01-06"), weekdays=frozenset({0}))  # Tuesday start, Mondays
    assert occurrences(s, D("2026-01-01"), D("2026-01-20")) == days("2026-01-12", "2026-01-19")


def test_weekly_end_is_inclusive_and_bounds_the_range():
    s = Schedule("weekly", D("2026-01-05"), D("2026-01-19"), weekdays=frozenset({0}))
    assert occurrences(s, D("2026-01-01"), D("2026-12-31")) == days(
        "2026-01-05", "2026-01-12", "2026-01-19"
    )
    assert next_occurrence(s, D("2026-01-19")) is None


def test_every_n_weeks_stays_aligned_to_start():
    s = Schedule("every_n_weeks", D("2026-01-05"), interval=2)  # Monday
    assert occurrences(s, D("2026-01-01"), D("2026-02-10")) == days(
        "2026-01-05", "2026-01-19", "2026-02-02"
    )
    # A window starting between occurrences jumps to the aligned one, not to since + 14.
    assert occurrences(s, D("2026-01-06"), D("2026-01-31")) == [D("2026-01-19")]
    far = occurrences(s, D("2031-03-01"), D("2031-04-30"))
    assert far and all(d.weekday() == 0 and (d - s.start).days % 14 == 0 for d in far)
    assert len(far) in (4, 5)


def test_every_n_weeks_end_bound():
    s = Schedule("every_n_weeks", D("2026-01-05"), D("2026-02-01"), interval=2)
    assert occurrences(s, D("2026-01-01"), D("2026-12-31")) == days("2026-01-05", "2026-01-19")


def test_monthly_clamps_to_month_end_without_drifting():
    s = Schedule("monthly", D("2027-01-31"))
    assert occurrences(s, D("2027-01-01"), D("2027-06-30")) == days(
        "2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30"
    )


def test_monthly_uses_29_february_in_leap_year_2028():
    s = Schedule("monthly", D("2028-01-31"))
    assert occurrences(s, D("2028-02-01"), D("2028-03-31")) == days("2028-02-29", "2028-03-31")
    s30 = Schedule("monthly", D("2027-12-30"))
    assert occurrences(s30, D("2028-02-01"), D("2028-03-31")) == days("2028-02-29", "2028-03-30")
    s29 = Schedule("monthly", D("2027-01-29"))
    assert occurrences(s29, D("2027-02-01"), D("2027-02-28")) == [D("2027-02-28")]
    assert occurrences(s29, D("2028-02-01"), D("2028-02-29")) == [D("2028-02-29")]


def test_monthly_window_starting_mid_month():
    s = Schedule("monthly", D("2027-01-31"))
    assert occurrences(s, D("2027-02-28"), D("2027-03-31")) == days("2027-02-28", "2027-03-31")
    assert occurrences(s, D("2027-03-01"), D("2027-03-30")) == []


def test_monthly_end_bound():
    s = Schedule("monthly", D("2026-01-15"), D("2026-03-15"))
    assert occurrences(s, D("2025-01-01"), D("2030-01-01")) == days(
        "2026-01-15", "2026-02-15", "2026-03-15"
    )


def test_empty_or_reversed_window():
    s = Schedule("weekly", D("2026-01-01"), weekdays=frozenset({0}))
    assert occurrences(s, D("2026-02-01"), D("2026-01-01")) == []
    assert occurrences(s, D("2026-01-06"), D("2026-01-11")) == []  # Tue..Sun, no Monday


def test_ten_year_range_and_far_future_lookups_are_fast():
    start = D("2026-01-01")
    schedules = [
        Schedule("weekly", start, weekdays=frozenset(range(7))),
        Schedule("every_n_weeks", start, interval=1),
        Schedule("monthly", start),
    ]
    t0 = time.perf_counter()
    daily = occurrences(schedules[0], start, D("2035-12-31"))
    weekly = occurrences(schedules[1], start, D("2035-12-31"))
    monthly = occurrences(schedules[2], start, D("2035-12-31"))
    # Far-future questions must jump there by arithmetic; walking from 2026 each time
    # (millions of days per call) would blow far past the limit.
    probe = D("9000-01-01")
    for i in range(300):
        for s in schedules:
            next_occurrence(s, probe + timedelta(days=i))
            current_occurrence(s, probe + timedelta(days=i))
            health(s, probe + timedelta(days=i), set())
    elapsed = time.perf_counter() - t0
    assert len(daily) == (D("2035-12-31") - start).days + 1
    assert len(weekly) == 522 and len(monthly) == 120
    assert next_occurrence(schedules[2], probe) == D("9000-02-01")
    assert elapsed < 1.0, elapsed


def test_end_of_calendar_does_not_crash():
    s = Schedule("monthly", D("2026-01-31"))
    assert occurrences(s, D("9999-12-01"), date.max) == [D("9999-12-31")]
    assert next_occurrence(s, D("9999-12-31")) is None
    w = Schedule("weekly", D("2026-01-01"), weekdays=frozenset({0, 6}))
    assert next_occurrence(w, date.max) is None
    assert occurrences(w, D("9999-12-25"), date.max)[-1] <= date.max
    e = Schedule("every_n_weeks", D("2026-01-01"), interval=52)
    assert next_occurrence(e, D("9999-12-01")) is None


# --- occurrence_key ---------------------------------------------------------------------------


def test_occurrence_key_once_and_period_are_single_completion():
    assert occurrence_key(Schedule("once", D("2026-12-01")), D("2026-12-01")) == "once"
    assert occurrence_key(Schedule("once", D("2026-12-01")), D("2026-12-05")) == "once"
    period = Schedule("period", D("2026-10-17"), D("2026-10-25"))
    assert occurrence_key(period, D("2026-10-20")) == "once"


def test_occurrence_key_is_the_iso_date_and_stable():
    s = Schedule("weekly", D("2026-11-02"), weekdays=frozenset({0}))
    key = occurrence_key(s, D("2026-11-23"))
    assert key == "2026-11-23"
    assert occurrence_key(s, D("2026-11-23")) == key
    # Giving the routine an end later does not orphan completions already recorded.
    ended = Schedule("weekly", D("2026-11-02"), D("2026-12-31"), weekdays=frozenset({0}))
    assert occurrence_key(ended, D("2026-11-23")) == key
    # Keys match what health() looks up.
    assert health(s, D("2026-11-24"), {key}) is Health.ON_TRACK
    monthly = Schedule("monthly", D("2027-01-31"))
    assert occurrence_key(monthly, D("2027-02-28")) == "2027-02-28"


def test_occurrence_key_refuses_a_day_that_is_not_an_occurrence():
    s = Schedule("weekly", D("2026-11-02"), D("2026-11-30"), weekdays=frozenset({0}))
    with pytest.raises(ValueError, match="not an occurrence"):
        occurrence_key(s, D("2026-11-24"))  # a Tuesday
    with pytest.raises(ValueError, match="not an occurrence"):
        occurrence_key(s, D("2026-10-26"))  # a Monday before the start
    with pytest.raises(ValueError, match="not an occurrence"):
        occurrence_key(s, D("2026-12-07"))  # a Monday after the end
    with pytest.raises(ValueError, match="not an occurrence"):
        occurrence_key(Schedule("monthly", D("2027-01-31")), D("2027-02-27"))


# --- current / next occurrence ----------------------------------------------------------------


def test_current_occurrence_before_first_is_the_first_upcoming():
    weekly = Schedule("weekly", D("2026-01-06"), weekdays=frozenset({0}))  # Tue start
    assert current_occurrence(weekly, D("2025-12-20")) == D("2026-01-12")
    assert current_occurrence(weekly, D("2026-01-08")) == D("2026-01-12")  # after start too
    biweekly = Schedule("every_n_weeks", D("2026-01-05"), interval=2)
    assert current_occurrence(biweekly, D("2025-12-31")) == D("2026-01-05")
    assert current_occurrence(Schedule("monthly", D("2026-01-31")), D("2026-01-01")) == D(
        "2026-01-31"
    )


def test_current_occurrence_is_the_latest_started_turn():
    s = Schedule("weekly", D("2026-11-02"), weekdays=frozenset({0, 3}))
    assert current_occurrence(s, D("2026-11-23")) == D("2026-11-23")  # the day itself
    assert current_occurrence(s, D("2026-11-25")) == D("2026-11-23")  # ticked late
    assert current_occurrence(s, D("2026-11-26")) == D("2026-11-26")


def test_current_occurrence_after_the_end_is_the_last_one():
    s = Schedule("every_n_weeks", D("2026-01-05"), D("2026-03-01"), interval=2)
    assert current_occurrence(s, D("2027-06-01")) == D("2026-02-16")


def test_current_occurrence_once_and_period_is_start():
    assert current_occurrence(Schedule("once", D("2026-12-01")), D("2026-01-01")) == D("2026-12-01")
    period = Schedule("period", D("2026-10-17"), D("2026-10-25"))
    assert current_occurrence(period, D("2026-10-30")) == D("2026-10-17")


def test_current_occurrence_none_when_window_has_no_matching_weekday():
    s = Schedule("weekly", D("2026-01-06"), D("2026-01-08"), weekdays=frozenset({0}))
    assert current_occurrence(s, D("2026-01-07")) is None
    assert occurrences(s, D("2026-01-01"), D("2026-01-31")) == []


def test_next_occurrence_is_strictly_after():
    s = Schedule("weekly", D("2026-11-02"), weekdays=frozenset({0}))
    assert next_occurrence(s, D("2026-11-23")) == D("2026-11-30")
    assert next_occurrence(s, D("2026-11-22")) == D("2026-11-23")
    assert next_occurrence(s, D("2020-01-01")) == D("2026-11-02")
    once = Schedule("once", D("2026-12-01"))
    assert next_occurrence(once, D("2026-11-30")) == D("2026-12-01")
    assert next_occurrence(once, D("2026-12-01")) is None
    period = Schedule("period", D("2026-10-17"), D("2026-10-25"))
    assert next_occurrence(period, D("2026-10-18")) is None


# --- health -----------------------------------------------------------------------------------

ONCE = Schedule("once", D("2026-12-01"))
PERIOD = Schedule("period", D("2026-10-17"), D("2026-10-25"))
MONDAYS = Schedule("weekly", D("2026-11-02"), weekdays=frozenset({0}))
MONDAYS_ENDED = Schedule("weekly", D("2026-11-02"), D("2026-11-16"), weekdays=frozenset({0}))


@pytest.mark.parametrize(
    ("s", "today", "done"),
    [
        (ONCE, D("2026-11-01"), set()),
        (ONCE, D("2026-12-10"), set()),  # would be overdue
        (ONCE, D("2026-12-10"), {"once"}),  # would be done
        (MONDAYS, D("2026-11-03"), set()),  # would be overdue
        (MONDAYS_ENDED, D("2026-12-01"), {"2026-11-02", "2026-11-09", "2026-11-16"}),
    ],
)
def test_help_request_wins_over_everything(s, today, done):
    assert health(s, today, done, help_requested=True) is Health.NEEDS_HELP


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-11-27", Health.ON_TRACK),  # 4 days before
        ("2026-11-28", Health.DUE_SOON),  # exactly soon_days before
        ("2026-11-30", Health.DUE_SOON),
        ("2026-12-01", Health.DUE_SOON),  # the day itself
        ("2026-12-02", Health.OVERDUE),  # the day after
    ],
)
def test_health_once_boundaries(today, expected):
    assert health(ONCE, D(today), set()) is expected


def test_health_once_done_any_time_and_custom_soon_days():
    assert health(ONCE, D("2026-11-01"), {"once"}) is Health.DONE
    assert health(ONCE, D("2027-01-01"), {"once"}) is Health.DONE
    assert health(ONCE, D("2026-11-30"), set(), soon_days=0) is Health.ON_TRACK
    assert health(ONCE, D("2026-12-01"), set(), soon_days=0) is Health.DUE_SOON
    assert health(ONCE, D("2026-11-21"), set(), soon_days=10) is Health.DUE_SOON
    # A key from a repeating schedule does not count as the single completion.
    assert health(ONCE, D("2026-12-02"), {"2026-12-01"}) is Health.OVERDUE


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-10-01", Health.ON_TRACK),  # before the period
        ("2026-10-17", Health.ON_TRACK),  # first day, end still 8 days away
        ("2026-10-21", Health.ON_TRACK),  # 4 days before the end
        ("2026-10-22", Health.DUE_SOON),  # exactly soon_days before the end
        ("2026-10-25", Health.DUE_SOON),  # last day
        ("2026-10-26", Health.OVERDUE),  # the day after the end
    ],
)
def test_health_period_deadline_is_end(today, expected):
    assert health(PERIOD, D(today), set()) is expected


def test_health_period_done():
    assert health(PERIOD, D("2026-10-26"), {"once"}) is Health.DONE


@pytest.mark.parametrize(
    ("today", "done", "expected"),
    [
        ("2026-10-29", set(), Health.ON_TRACK),  # 4 days before the first Monday
        ("2026-10-30", set(), Health.DUE_SOON),  # exactly 3 days before
        ("2026-11-02", set(), Health.DUE_SOON),  # today == start, not done yet
        ("2026-11-02", {"2026-11-02"}, Health.ON_TRACK),  # done, next is a week away
        ("2026-11-03", set(), Health.OVERDUE),  # the day after, missed
        ("2026-11-03", {"2026-11-02"}, Health.ON_TRACK),
        ("2026-11-05", {"2026-11-02"}, Health.ON_TRACK),  # next Monday 4 days away
        ("2026-11-06", {"2026-11-02"}, Health.DUE_SOON),  # exactly 3 days away
        ("2026-11-06", {"2026-11-02", "2026-11-09"}, Health.ON_TRACK),  # done ahead
        ("2026-11-10", {"2026-11-09"}, Health.ON_TRACK),  # only the latest turn counts
        ("2026-11-10", {"2026-11-02"}, Health.OVERDUE),
    ],
)
def test_health_weekly(today, done, expected):
    assert health(MONDAYS, D(today), done) is expected


def test_health_weekly_several_days_looks_at_the_latest_turn():
    s = Schedule("weekly", D("2026-11-02"), weekdays=frozenset({0, 3}))  # Mon + Thu
    # Thursday 5 Nov is today and open; Monday 2 Nov was done.
    assert health(s, D("2026-11-05"), {"2026-11-02"}) is Health.DUE_SOON
    # Friday: Thursday was missed even though Monday was done.
    assert health(s, D("2026-11-06"), {"2026-11-02"}) is Health.OVERDUE
    assert health(s, D("2026-11-06"), {"2026-11-05"}) is Health.DUE_SOON  # Mon 9 in 3 days


@pytest.mark.parametrize(
    ("today", "done", "expected"),
    [
        ("2026-11-16", {"2026-11-02", "2026-11-09"}, Health.DUE_SOON),  # last turn today
        ("2026-11-16", {"2026-11-02", "2026-11-09", "2026-11-16"}, Health.ON_TRACK),
        ("2026-11-17", {"2026-11-02", "2026-11-09", "2026-11-16"}, Health.DONE),
        ("2027-05-01", {"2026-11-02", "2026-11-09", "2026-11-16"}, Health.DONE),
        ("2026-11-17", {"2026-11-02", "2026-11-09"}, Health.OVERDUE),  # last turn missed
        ("2026-11-17", {"2026-11-09", "2026-11-16"}, Health.ON_TRACK),  # an old miss: not done
    ],
)
def test_health_weekly_with_end(today, done, expected):
    assert health(MONDAYS_ENDED, D(today), done) is expected


def test_health_ended_schedule_without_any_occurrence_is_done():
    s = Schedule("weekly", D("2026-01-06"), D("2026-01-08"), weekdays=frozenset({0}))
    assert health(s, D("2026-01-09"), set()) is Health.DONE


def test_health_every_n_weeks():
    s = Schedule("every_n_weeks", D("2026-01-05"), interval=2)
    assert health(s, D("2026-01-06"), set()) is Health.OVERDUE
    assert health(s, D("2026-01-12"), {"2026-01-05"}) is Health.ON_TRACK  # next on the 19th
    assert health(s, D("2026-01-16"), {"2026-01-05"}) is Health.DUE_SOON
    assert health(s, D("2026-01-20"), {"2026-01-05"}) is Health.OVERDUE  # missed the 19th


def test_health_monthly_uses_clamped_dates():
    s = Schedule("monthly", D("2027-01-31"))
    assert health(s, D("2027-03-01"), {"2027-01-31"}) is Health.OVERDUE  # missed 28 Feb
    assert health(s, D("2027-03-01"), {"2027-01-31", "2027-02-28"}) is Health.ON_TRACK
    assert health(s, D("2027-03-28"), {"2027-02-28"}) is Health.DUE_SOON  # 31 Mar in 3 days
    assert health(s, D("2027-03-27"), {"2027-02-28"}) is Health.ON_TRACK


def test_health_accepts_frozenset_and_rejects_negative_soon_days():
    assert health(MONDAYS, D("2026-11-03"), frozenset({"2026-11-02"})) is Health.ON_TRACK
    with pytest.raises(ValueError, match="soon_days"):
        health(MONDAYS, D("2026-11-03"), set(), soon_days=-1)


def test_health_values_are_stable_strings():
    assert [h.value for h in Health] == ["on_track", "due_soon", "overdue", "needs_help", "done"]
    assert Health.OVERDUE == "overdue"


# --- today_in ---------------------------------------------------------------------------------

AMS = "Europe/Amsterdam"


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Spring forward on 29 March 2026 at 01:00 UTC (CET +1 -> CEST +2).
        ("2026-03-28T22:59", "2026-03-28"),
        ("2026-03-28T23:00", "2026-03-29"),
        ("2026-03-29T21:59", "2026-03-29"),
        ("2026-03-29T22:00", "2026-03-30"),  # already midnight under summer time
        # Fall back on 25 October 2026 at 01:00 UTC (CEST +2 -> CET +1).
        ("2026-10-24T21:59", "2026-10-24"),
        ("2026-10-24T22:00", "2026-10-25"),
        ("2026-10-25T22:30", "2026-10-25"),  # still the 25th under winter time
        ("2026-10-25T23:00", "2026-10-26"),
        # Near midnight at New Year.
        ("2026-12-31T22:59", "2026-12-31"),
        ("2026-12-31T23:30", "2027-01-01"),
    ],
)
def test_today_in_amsterdam(now, expected):
    assert today_in(AMS, utc(now)) == D(expected)


def test_today_in_other_zone_and_non_utc_aware_input():
    assert today_in("America/New_York", utc("2027-01-01T03:00")) == D("2026-12-31")
    ams_local = datetime(2027, 1, 1, 0, 30, tzinfo=ZoneInfo(AMS))
    assert today_in("UTC", ams_local) == D("2026-12-31")


def test_today_in_defaults_to_now():
    before = datetime.now(ZoneInfo(AMS)).date()
    got = today_in(AMS)
    after = datetime.now(ZoneInfo(AMS)).date()
    assert got in {before, after}


def test_today_in_rejects_naive_datetimes_and_unknown_zones():
    with pytest.raises(ValueError, match="aware"):
        today_in(AMS, datetime(2026, 12, 31, 23, 30))
    for bad in ("Mars/Olympus_Mons", "", "../../etc/passwd"):
        with pytest.raises(ValueError, match="unknown time zone"):
            today_in(bad, utc("2026-01-01T00:00"))


# --- validate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "reason"),
    [
        (Schedule("daily", D("2026-01-01")), "unknown kind"),
        (Schedule("once", D("2026-01-02"), D("2026-01-01")), "end is before start"),
        (Schedule("period", D("2026-01-02"), D("2026-01-01")), "end is before start"),
        (Schedule("period", D("2026-01-01")), "period needs an end"),
        (Schedule("weekly", D("2026-01-01")), "at least one weekday"),
        (Schedule("weekly", D("2026-01-01"), weekdays=frozenset({7})), "between 0"),
        (Schedule("weekly", D("2026-01-01"), weekdays=frozenset({-1, 2})), "between 0"),
        (
            Schedule("monthly", D("2026-02-01"), D("2026-01-31")),
            "end is before start",
        ),
        (Schedule("every_n_weeks", D("2026-01-01"), interval=0), "interval"),
        (Schedule("every_n_weeks", D("2026-01-01"), interval=53), "interval"),
        (Schedule("every_n_weeks", D("2026-01-01"), interval=-2), "interval"),
    ],
)
def test_validate_errors(s, reason):
    with pytest.raises(ValueError, match=reason):
        s.validate()
    # The functions refuse to compute from a broken schedule rather than return nonsense.
    with pytest.raises(ValueError, match=reason):
        occurrences(s, D("2026-01-01"), D("2026-12-31"))
    with pytest.raises(ValueError, match=reason):
        health(s, D("2026-01-01"), set())


@pytest.mark.parametrize(
    "s",
    [
        Schedule("once", D("2026-01-01")),
        Schedule("period", D("2026-01-01"), D("2026-01-01")),  # a one-day period
        Schedule("weekly", D("2026-01-01"), weekdays=frozenset({0, 6})),
        Schedule("every_n_weeks", D("2026-01-01"), interval=1),
        Schedule("every_n_weeks", D("2026-01-01"), D("2027-01-01"), interval=52),
        Schedule("monthly", D("2026-01-31"), D("2026-01-31")),
    ],
)
def test_validate_accepts_sound_schedules(s):
    assert s.validate() is None


# --- the ticks a page loads ---------------------------------------------------------------


@pytest.mark.parametrize("s", ORACLE_SCHEDULES, ids=lambda s: f"{s.kind}-{s.start}")
def test_the_ticks_before_ticks_matter_since_change_nothing(s):
    """The plan pages load only the ticks from ``ticks_matter_since`` on (not months of
    them): health and the missed turns must come out the same as with every tick, for
    every tick pattern (here: every other turn, every turn, none, all but the last)."""
    import random

    rng = random.Random(s.start.toordinal())
    turns = occurrences(s, s.start, D("2029-12-31"))
    patterns = [set(turns[::2]), set(turns), set(), set(turns[:-1])] + [
        {d for d in turns if rng.random() < 0.7} for _ in range(3)
    ]
    today = s.start - timedelta(days=3)
    while today <= D("2029-01-10"):
        for missed_days in (0, 28):
            since = ticks_matter_since(s, today, days=missed_days)
            for done in patterns:
                every = {d.isoformat() for d in done}
                loaded = {d.isoformat() for d in done if d >= since}
                assert health(s, today, loaded) == health(s, today, every), (today, since)
                assert missed_turns(s, today, loaded, days=missed_days) == missed_turns(
                    s, today, every, days=missed_days
                )
        today += timedelta(days=11)


def test_ticks_matter_since_is_recent_for_a_running_routine():
    weekly = Schedule("weekly", D("2026-01-01"), weekdays=frozenset({0, 3}))
    # Thursday 2026-06-04: the last turn before it was Monday 2026-06-01.
    assert ticks_matter_since(weekly, D("2026-06-04")) == D("2026-06-01")
    assert ticks_matter_since(weekly, D("2026-06-04"), days=28) == D("2026-05-07")
    assert ticks_matter_since(Schedule("once", D("2026-06-04")), D("2026-07-01")) is None
