"""The "what is happening" sheet: one printed page a central person gives to a member
who does not use the internet. Their own commitments, with when each is due, and the
next meeting they are invited to. Nothing about anyone else's tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portal.models import Circle, Meeting, Membership
from portal.services import meetings
from portal.services import plan as plan_svc
from portal.services.plan_view import CommitmentRow, member_rows
from portal.services.schedule import occurrences, today_in

# How far ahead a repeating commitment's turns are listed, and how many at most: a
# printed page is read for a few weeks.
AHEAD = timedelta(days=27)
MAX_TURNS = 4


@dataclass
class SheetRow:
    row: CommitmentRow
    next_turns: list[date]  # the coming turns of a repeating commitment, not yet done


@dataclass
class Sheet:
    circle: Circle
    member: Membership
    today: date
    timezone: str  # the member's own, else the circle's: meeting times are shown in it
    rows: list[SheetRow]
    meeting: Meeting | None  # the next fixed meeting they are invited to
    polls: list[Meeting]  # meetings whose date is still being chosen


def _next_turns(r: CommitmentRow, today: date) -> list[date]:
    s = plan_svc.schedule_of(r.c)
    if not s.repeating or r.items:
        return []
    done = {r.turn_key} if r.done else set()  # this turn, if it is ticked already
    days = [d for d in occurrences(s, today, today + AHEAD) if d.isoformat() not in done]
    return days[:MAX_TURNS]


def member_sheet(circle: Circle, member: Membership) -> Sheet:
    today = today_in(circle.timezone)
    meeting, polls = meetings.coming_meetings_of(member)
    return Sheet(
        circle=circle,
        member=member,
        today=today,
        timezone=member.user.timezone or circle.timezone,
        rows=[SheetRow(r, _next_turns(r, today)) for r in member_rows(circle, member)],
        meeting=meeting,
        polls=polls,
    )
