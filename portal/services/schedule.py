"""When a commitment in the family's plan falls due, and how it is doing.

A commitment says who does what and *when*. This module only knows about the "when": plain
calendar dates, no database and no Flask, so the plan pages, reminders and tests can all ask
the same questions and get the same answers.

Everything here works on ``date`` values, never on datetimes. A family lives in one time zone
and "Tuesday" means the whole of their Tuesday; mixing in clock times would make a commitment
flip between days around midnight or a DST change. The caller turns "now" into the circle's
local date once, with :func:`today_in`, and passes that date in.

Occurrences are computed with arithmetic (jump straight to the right week or month) rather
than by walking day by day, so asking about a ten-year range costs only the dates returned.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ONCE = "once"
PERIOD = "period"
WEEKLY = "weekly"
EVERY_N_WEEKS = "every_n_weeks"
MONTHLY = "monthly"

KINDS = frozenset({ONCE, PERIOD, WEEKLY, EVERY_N_WEEKS, MONTHLY})
REPEATING = frozenset({WEEKLY, EVERY_N_WEEKS, MONTHLY})

#: The optional "when" fields and the kinds that use them; the others are ignored.
FIELD_KINDS = {
    "end": frozenset({PERIOD, WEEKLY, EVERY_N_WEEKS, MONTHLY}),
    "weekdays": frozenset({WEEKLY}),
    "interval": frozenset({EVERY_N_WEEKS}),
}

#: Key of the single completion of a ``once`` or ``period`` commitment.
ONCE_KEY = "once"

#: ``every_n_weeks`` allows at most a yearly rhythm; anything longer is not a routine.
MAX_INTERVAL = 52


@dataclass(frozen=True)
class Schedule:
    """The "when" of a commitment.

    ``kind`` decides which other fields matter:

    - ``once``: ``start`` is the date it should be done by.
    - ``period``: from ``start`` to ``end`` inclusive; ``end`` is the deadline.
    - ``weekly``: on each of ``weekdays`` (Monday=0 … Sunday=6) from ``start``, until ``end``.
    - ``every_n_weeks``: every ``interval`` weeks on ``start``'s weekday, until ``end``.
    - ``monthly``: on day ``start.day`` of every month (the last day of shorter months),
      until ``end``.

    Construction does not validate, so a schedule can be rebuilt from stored data and then
    checked; the functions below call :meth:`validate` themselves so they never compute
    nonsense (or divide by zero) from a broken schedule.
    """

    kind: str
    start: date
    end: date | None = None
    weekdays: frozenset[int] = frozenset()
    interval: int = 1

    @property
    def repeating(self) -> bool:
        """True for kinds with many occurrences, each completed separately."""
        return self.kind in REPEATING

    def validate(self) -> None:
        """Raise ``ValueError`` with a short English reason if the schedule makes no sense.

        The reasons are meant for logs and form errors; callers that show them to families
        should translate them.
        """
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind: {self.kind!r}")
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        if self.kind == PERIOD and self.end is None:
            raise ValueError("a period needs an end")
        if self.kind == WEEKLY:
            if not self.weekdays:
                raise ValueError("weekly needs at least one weekday")
            if any(not 0 <= day <= 6 for day in self.weekdays):
                raise ValueError("weekdays must be between 0 (Monday) and 6 (Sunday)")
        if self.kind == EVERY_N_WEEKS and not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"interval must be between 1 and {MAX_INTERVAL} weeks")


class Health(StrEnum):
    """How a commitment is doing, as shown on the plan."""

    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    NEEDS_HELP = "needs_help"
    DONE = "done"


# --- date arithmetic --------------------------------------------------------------------------


def _add_days(day: date, days: int) -> date | None:
    """``day + days``, or None past the ends of the calendar instead of OverflowError.

    Callers may ask about open-ended ranges (``until=date.max``); running off the calendar
    then simply means "no more occurrences".
    """
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def _month_index(day: date) -> int:
    """Months since year 0, so "the next month" is just ``+ 1``."""
    return day.year * 12 + day.month - 1


def _monthly_in(s: Schedule, month_index: int) -> date | None:
    """The monthly occurrence in a month: ``start.day``, clamped to the month's last day.

    Clamping per month (instead of carrying the clamped day forward) keeps a schedule that
    starts on 31 January on the 31st of March after 28 February.
    """
    year, month0 = divmod(month_index, 12)
    if year > MAXYEAR:
        return None
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(s.start.day, last))


def _first_on_or_after(s: Schedule, day: date) -> date | None:
    """The first occurrence of a repeating schedule on or after ``day``, or None."""
    day = max(day, s.start)
    found: date | None
    if s.kind == WEEKLY:
        weekday = day.weekday()
        found = _add_days(day, min((w - weekday) % 7 for w in s.weekdays))
    elif s.kind == EVERY_N_WEEKS:
        step = 7 * s.interval
        periods = -(-(day - s.start).days // step)  # ceiling division
        found = _add_days(s.start, periods * step)
    else:
        month = _month_index(day)
        found = _monthly_in(s, month)
        if found is not None and found < day:
            found = _monthly_in(s, month + 1)
    if found is None or (s.end is not None and found > s.end):
        return None
    return found


def _last_on_or_before(s: Schedule, day: date) -> date | None:
    """The last occurrence of a repeating schedule on or before ``day``, or None."""
    if s.end is not None:
        day = min(day, s.end)
    if day < s.start:
        return None
    found: date | None
    if s.kind == WEEKLY:
        weekday = day.weekday()
        found = _add_days(day, -min((weekday - w) % 7 for w in s.weekdays))
        if found is None or found < s.start:
            return None
    elif s.kind == EVERY_N_WEEKS:
        step = 7 * s.interval
        found = s.start + timedelta(days=(day - s.start).days // step * step)
    else:
        # The occurrence in start's own month is start itself, so stepping back one month
        # can only happen after start's month and never lands before start.
        month = _month_index(day)
        found = _monthly_in(s, month)
        if found is not None and found > day:
            found = _monthly_in(s, month - 1)
    return found


def _iter_repeating(s: Schedule, since: date, until: date) -> Iterator[date]:
    """Occurrences of a repeating schedule in ``[since, until]``, ascending, lazily.

    Starts at the first occurrence found by arithmetic, then steps occurrence to occurrence,
    so the work is proportional to the dates produced.
    """
    last = until if s.end is None else min(until, s.end)
    current = _first_on_or_after(s, since)
    if current is None or current > last:
        return
    day: date | None
    if s.kind == WEEKLY:
        weekdays = sorted(s.weekdays)
        monday = _add_days(current, -current.weekday())
        while monday is not None:
            for weekday in weekdays:
                day = _add_days(monday, weekday)
                if day is None or day > last:
                    return
                if day >= current:
                    yield day
            monday = _add_days(monday, 7)
    elif s.kind == EVERY_N_WEEKS:
        step = 7 * s.interval
        day = current
        while day is not None and day <= last:
            yield day
            day = _add_days(day, step)
    else:
        month = _month_index(current)
        day = current
        while day is not None and day <= last:
            yield day
            month += 1
            day = _monthly_in(s, month)


# --- public API -------------------------------------------------------------------------------


def occurrences(s: Schedule, since: date, until: date) -> list[date]:
    """Occurrence dates in ``[since, until]`` (both inclusive), ascending.

    A ``once`` or ``period`` commitment has one occurrence, keyed by its start, so a period
    shows up once in a calendar view (on the day it begins) rather than on every day.
    """
    s.validate()
    if since > until:
        return []
    if not s.repeating:
        return [s.start] if since <= s.start <= until else []
    return list(_iter_repeating(s, since, until))


def is_occurrence(s: Schedule, day: date) -> bool:
    """Whether ``day`` is one of the schedule's occurrence dates."""
    s.validate()
    if not s.repeating:
        return day == s.start
    return _first_on_or_after(s, day) == day


def occurrence_key(s: Schedule, day: date) -> str:
    """A stable key for the occurrence a completion belongs to.

    ``"once"`` for ``once``/``period`` (there is only one, whatever day it is ticked on), the
    ISO date of the occurrence for repeating kinds. The key depends only on the occurrence's
    date, so it survives edits that keep that date (e.g. moving the end).

    For repeating kinds ``day`` must be an occurrence: a completion stored under any other
    date would never be seen by :func:`health`, so a wrong date (a bug, or a tampered form)
    raises ``ValueError`` instead of being silently recorded.
    """
    s.validate()
    if not s.repeating:
        return ONCE_KEY
    if not is_occurrence(s, day):
        raise ValueError(f"{day.isoformat()} is not an occurrence of this schedule")
    return day.isoformat()


def current_occurrence(s: Schedule, today: date) -> date | None:
    """The occurrence a person ticks off "this turn".

    For repeating kinds: the latest occurrence on or before ``today`` (so this week's task can
    still be ticked a day late, and after the schedule has ended its last occurrence can be
    ticked late too); before the first occurrence, that first upcoming one. For ``once`` and
    ``period``: ``start``. None only for a weekly schedule whose start–end window contains
    none of its weekdays.
    """
    s.validate()
    if not s.repeating:
        return s.start
    latest = _last_on_or_before(s, today)
    if latest is not None:
        return latest
    return _first_on_or_after(s, s.start)


def missed_turns(
    s: Schedule, today: date, done_keys: AbstractSet[str], *, days: int = 28
) -> list[date]:
    """The turns of a repeating schedule in the ``days`` before ``today`` that are not in
    ``done_keys``, newest first: what someone missed and may still tick. Never a turn
    before ``start`` or from today on. Empty for ``once`` and ``period``."""
    s.validate()
    yesterday = _add_days(today, -1)
    since = _add_days(today, -days)
    if not s.repeating or yesterday is None or since is None:
        return []
    return [
        d
        for d in reversed(occurrences(s, max(since, s.start), yesterday))
        if d.isoformat() not in done_keys
    ]


def ticks_matter_since(s: Schedule, today: date, *, days: int = 0) -> date | None:
    """The earliest turn whose tick :func:`health`, :func:`current_occurrence` and
    :func:`missed_turns` (over ``days``) look at on ``today``: the pages load only the
    ticks from then on, not months of them. None: not repeating (its keys are no dates).
    """
    s.validate()
    if not s.repeating:
        return None
    if s.end is not None and s.end < today:
        return s.start  # finished: DONE asks whether every turn was ticked
    earliest = _add_days(today, -max(days, 0)) or s.start
    yesterday = _add_days(today, -1)
    previous = _last_on_or_before(s, yesterday) if yesterday is not None else None
    return min(previous, earliest) if previous is not None else earliest


def next_occurrence(s: Schedule, after: date) -> date | None:
    """The first occurrence strictly after ``after``, or None if there is none."""
    s.validate()
    if not s.repeating:
        return s.start if s.start > after else None
    day = _add_days(after, 1)
    if day is None:
        return None
    return _first_on_or_after(s, day)


def health(
    s: Schedule,
    today: date,
    done_keys: AbstractSet[str],
    *,
    help_requested: bool = False,
    soon_days: int = 3,
) -> Health:
    """How the commitment is doing on ``today`` (a date in the circle's time zone).

    ``done_keys`` are the :func:`occurrence_key` values of the completions recorded so far.

    - A request for help wins over everything: the family must see it first.
    - ``once``/``period``: done, else overdue after the deadline (``start`` resp. ``end``),
      else due soon within ``soon_days`` of it (the deadline day itself included).
    - Repeating: finished (``end`` passed, every occurrence done) is DONE; a missed most recent
      occurrence before today is OVERDUE; an open occurrence today or within ``soon_days`` is
      DUE_SOON; otherwise ON_TRACK. Only the most recent past occurrence counts towards
      OVERDUE, so one missed turn does not mark a routine overdue forever.
    """
    s.validate()
    if soon_days < 0:
        raise ValueError("soon_days must not be negative")
    if help_requested:
        return Health.NEEDS_HELP

    if not s.repeating:
        return _deadline_health(s, today, done_keys, soon_days)

    if s.end is not None and s.end < today:
        if all(d.isoformat() in done_keys for d in _iter_repeating(s, s.start, s.end)):
            return Health.DONE

    yesterday = _add_days(today, -1)
    previous = _last_on_or_before(s, yesterday) if yesterday is not None else None
    if previous is not None and previous.isoformat() not in done_keys:
        return Health.OVERDUE

    horizon = _add_days(today, soon_days) or date.max
    if any(d.isoformat() not in done_keys for d in _iter_repeating(s, today, horizon)):
        return Health.DUE_SOON
    return Health.ON_TRACK


def _deadline_health(
    s: Schedule, today: date, done_keys: AbstractSet[str], soon_days: int
) -> Health:
    """``health`` of something done once (``once``) or within a period (``period``)."""
    if ONCE_KEY in done_keys:
        return Health.DONE
    # validate() guarantees a period has an end.
    deadline = s.start if s.kind == ONCE or s.end is None else s.end
    if today > deadline:
        return Health.OVERDUE
    if (deadline - today).days <= soon_days:
        return Health.DUE_SOON
    return Health.ON_TRACK


def today_in(tz_name: str, now: datetime | None = None) -> date:
    """The local calendar date in the IANA time zone ``tz_name`` at ``now`` (default: now).

    ``now`` must be timezone-aware (normally UTC): a naive datetime could mean any zone, and
    guessing would put a commitment on the wrong day for families far from the server.
    An unknown zone name raises ``ValueError``.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {tz_name!r}") from exc
    return now.astimezone(zone).date()
