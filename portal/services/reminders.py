"""What is due, and when: the clock rules of notifications, with ``now`` given.

Pure functions, no database and no Flask: the notification run (``portal.notifier``)
asks them about each person and thing, and tests move ``now`` instead of sleeping.
``now`` is always timezone-aware (UTC); each rule works in the person's own time zone,
on the wall clock: "the day before" a meeting at 19:00 is 19:00 the day before, even
across a daylight-saving change (then 23 or 25 hours earlier).

Slots name each moment a reminder may go out; the run keys each email by person, kind,
thing and slot, so every slot sends at most once, however many runs see it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.services.schedule import ONCE_KEY, Schedule, current_occurrence, is_occurrence

MORNING_HOUR = 7  # the digest and the morning reminders: the first run after 07:00


def zone(tz_name: str) -> ZoneInfo:
    return ZoneInfo(tz_name)


def at_local(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """``hour``:00 on ``day`` in ``tz``, as UTC."""
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def shift_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same wall-clock time ``days`` later (earlier when negative) in ``tz``."""
    local = moment.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=tz).astimezone(UTC)


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


# --- The digest ----------------------------------------------------------------------


def digest_start(now: datetime, tz: ZoneInfo, period: str, hour: int = MORNING_HOUR) -> datetime:
    """When the current digest period began: the last 07:00 (daily) or the last Monday
    07:00 (weekly) at or before ``now``, in the person's zone."""
    today = local_day(now, tz)
    if period == "weekly":
        today -= timedelta(days=today.weekday())
    start = at_local(today, hour, tz)
    if start > now:
        start = at_local(today - timedelta(days=7 if period == "weekly" else 1), hour, tz)
    return start


def digest_due(
    now: datetime,
    tz: ZoneInfo,
    period: str,
    last: datetime,
    hour: int = MORNING_HOUR,
) -> datetime | None:
    """The start of the period whose digest is due now, or None. ``last`` is when the
    last digest was made (or the account, before the first): a digest is due at the
    first run after the period began, once."""
    if period not in ("daily", "weekly"):
        return None
    start = digest_start(now, tz, period, hour)
    return start if last < start else None


# --- Commitments ---------------------------------------------------------------------


def deadline(s: Schedule) -> date:
    """When a one-off commitment must be done: its day, or the end of its period."""
    return s.end if s.end is not None and not s.repeating else s.start


def _previous_turn(s: Schedule, today: date) -> date | None:
    """The last turn of a repeating commitment before ``today``, if any."""
    yesterday = today - timedelta(days=1)
    turn = current_occurrence(s, yesterday)
    return turn if turn is not None and turn <= yesterday else None


def clock_news(s: Schedule, done: set[str], today: date) -> list[tuple[str, date]]:
    """The in-app lines from the clock for one person's commitment on their ``today``:
    ("due", day) when it is due today or overdue (one-off) or a turn falls today
    (repeating), ("missed", turn) when the last turn before today went unticked."""
    if not s.repeating:
        day = deadline(s)
        return [("due", day)] if ONCE_KEY not in done and day <= today else []
    out = []
    if is_occurrence(s, today) and today.isoformat() not in done:
        out.append(("due", today))
    turn = _previous_turn(s, today)
    if turn is not None and turn.isoformat() not in done:
        out.append(("missed", turn))
    return out


def commitment_reminder(
    s: Schedule, done: set[str], now: datetime, tz: ZoneInfo, hour: int = MORNING_HOUR
) -> tuple[str, date] | None:
    """The email reminder for one person's commitment now, as (slot, day), or None.

    One-off: "tomorrow" from 07:00 the day before its deadline, "today" from 07:00 on
    the day. Repeating: only a missed turn ("missed", that turn), from 07:00 on the day
    after: at most one a day, as turns fall on different days."""
    today = local_day(now, tz)
    if now < at_local(today, hour, tz):
        return None
    if s.repeating:
        turn = _previous_turn(s, today)
        missed = turn is not None and turn.isoformat() not in done
        return ("missed", turn) if missed else None
    if ONCE_KEY in done:
        return None
    day = deadline(s)
    if day == today + timedelta(days=1):
        return ("tomorrow", day)
    if day == today:
        return ("today", day)
    return None


# --- Meetings and polls --------------------------------------------------------------

SOON = timedelta(hours=2)


def meeting_reminder(starts_at: datetime, now: datetime, tz: ZoneInfo) -> str | None:
    """ "day" from the same time the day before (wall clock) and "soon" from two hours
    before a fixed meeting, until it starts; else None."""
    if now >= starts_at:
        return None
    if now >= starts_at - SOON:
        return "soon"
    if now >= shift_days(starts_at, -1, tz):
        return "day"
    return None


def poll_reminder(
    opened_at: datetime, closes_at: datetime | None, now: datetime, tz: ZoneInfo
) -> str | None:
    """For someone who has not answered a date poll: "opened" from two days after it
    opened, "closing" from one day before its deadline (if it has one) until then."""
    if closes_at is not None:
        if now >= closes_at:
            return None
        if now >= shift_days(closes_at, -1, tz):
            return "closing"
    if now >= shift_days(opened_at, 2, tz):
        return "opened"
    return None
