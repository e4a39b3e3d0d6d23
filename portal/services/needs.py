""" "What needs you": the start of the circle home and of "My circles" (issue 14).

For one person, in each circle they are active in: their turns due today (each with a
Done button), turns they missed (still to tick, with their date), unread chat messages
(only where the chat is open to them), questions waiting for their consent, date
polls they have not answered, and the next meeting.

Everything is read in a fixed number of queries, whatever the number of circles,
commitments, messages, proposals or meetings (``tests/test_needs.py`` counts them):
the memberships, the commitments (with people and checklists), their standing ticks,
the unread counts, the open votes, the meetings and the poll answers. It only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.access import can_read_chat, can_tick, can_vote
from portal.extensions import db
from portal.models import (
    Circle,
    Commitment,
    Meeting,
    MeetingAnswer,
    MeetingOption,
    Membership,
    MembershipStatus,
    Proposal,
    ProposalStatus,
    ProposalVote,
)
from portal.models.types import utcnow
from portal.services import chat as chat_svc
from portal.services import meetings as meeting_svc
from portal.services import plan as plan_svc
from portal.services.plan_view import MISSED_DAYS
from portal.services.schedule import (
    ONCE,
    ONCE_KEY,
    is_occurrence,
    missed_turns,
    ticks_matter_since,
    today_in,
)

# A missed turn of a repeating commitment is offered for MISSED_DAYS; a one-off
# commitment whose day has passed stays until it is done.


@dataclass
class Turn:
    """One of my commitments to do: today's turn, or a turn I missed."""

    c: Commitment
    day: date  # the turn's date (a one-off: the day it is due by)
    key: str  # what the Done button ticks ("once" or the turn's ISO date)
    steps: bool = False  # it has a checklist: its steps are ticked on the plan
    may_tick: bool = False  # a Done button (never in a closed circle)


@dataclass
class CircleNeeds:
    """What needs one person in one circle."""

    circle: Circle
    me: Membership
    today: date
    due: list[Turn] = field(default_factory=list)
    missed: list[Turn] = field(default_factory=list)
    unread: int = 0  # 0 too where the chat is closed to me
    consent: list[Proposal] = field(default_factory=list)
    polls: list[Meeting] = field(default_factory=list)
    next_meeting: Meeting | None = None

    @property
    def closed(self) -> bool:
        return self.circle.closed_at is not None

    @property
    def anything(self) -> bool:
        """Whether something needs me here (the next meeting alone is news, not a need)."""
        return bool(self.due or self.missed or self.unread or self.consent or self.polls)


def _turns(c: Commitment, today: date, done: dict) -> tuple[list[Turn], list[Turn]]:
    """The commitment's turn due today and its missed turns (newest first)."""
    s = plan_svc.schedule_of(c)
    if c.items:
        if all(f"item:{i.id}" in done for i in c.items):
            return [], []
        if s.repeating:
            return ([Turn(c, today, ONCE_KEY, steps=True)] if is_occurrence(s, today) else []), []
        deadline = s.start if s.kind == ONCE or s.end is None else s.end
        if deadline == today:
            return [Turn(c, today, ONCE_KEY, steps=True)], []
        return [], ([Turn(c, deadline, ONCE_KEY, steps=True)] if deadline < today else [])
    if not s.repeating:
        if ONCE_KEY in done:
            return [], []
        deadline = s.start if s.kind == ONCE or s.end is None else s.end
        if deadline == today:
            return [Turn(c, today, ONCE_KEY)], []
        return [], ([Turn(c, deadline, ONCE_KEY)] if deadline < today else [])
    due = []
    if is_occurrence(s, today) and today.isoformat() not in done:
        due.append(Turn(c, today, today.isoformat()))
    missed = [Turn(c, d, d.isoformat()) for d in missed_turns(s, today, done, days=MISSED_DAYS)]
    return due, missed


def needs_of(
    user_id: int, circle_id: int | None = None, *, unread: dict[int, int] | None = None
) -> list[CircleNeeds]:
    """What needs the person, per circle they are active in (only ``circle_id``'s if
    given), in the order of the circles' titles. Nine queries, whatever the numbers
    (eight when the caller has the unread counts already: ``chat.unread_counts``)."""
    mine_q = (
        select(Membership)
        .where(Membership.user_id == user_id, Membership.status == MembershipStatus.ACTIVE)
        .options(joinedload(Membership.circle))
    )
    if circle_id is not None:
        mine_q = mine_q.where(Membership.circle_id == circle_id)
    mine = {m.circle_id: m for m in db.session.scalars(mine_q)}
    if not mine:
        return []
    by_id = {m.id: m for m in mine.values()}
    needs = {cid: CircleNeeds(m.circle, m, today_in(m.circle.timezone)) for cid, m in mine.items()}
    _add_turns(needs, by_id)
    _add_unread(needs, chat_svc.unread_counts(user_id) if unread is None else unread)
    _add_consent(needs, by_id)
    _add_meetings(needs, user_id, by_id)
    return sorted(needs.values(), key=lambda n: (n.circle.title.casefold(), n.circle.id))


def _add_turns(needs: dict[int, CircleNeeds], by_id: dict[int, Membership]) -> None:
    commitments = db.session.scalars(
        select(Commitment)
        .where(
            Commitment.active.is_(True),
            Commitment.circle_id.in_(list(needs)),
            Commitment.assignees.any(Membership.id.in_(list(by_id))),
        )
        .options(selectinload(Commitment.assignees), selectinload(Commitment.items))
        .order_by(Commitment.position, Commitment.id)
    ).all()
    ticks = plan_svc.standing_completions(
        [c.id for c in commitments],
        {
            c.id: ticks_matter_since(
                plan_svc.schedule_of(c), needs[c.circle_id].today, days=MISSED_DAYS
            )
            for c in commitments
        },
    )
    for c in commitments:
        n = needs[c.circle_id]
        due, missed = _turns(c, n.today, ticks[c.id])
        for turn in (*due, *missed):
            turn.may_tick = not n.closed and not turn.steps and can_tick(n.me, c)
        n.due += due
        n.missed += missed
    for n in needs.values():
        n.missed.sort(key=lambda t: t.day, reverse=True)


def _add_unread(needs: dict[int, CircleNeeds], unread: dict[int, int]) -> None:
    for cid, count in unread.items():
        n = needs.get(cid)
        if n is not None and can_read_chat(n.me):
            n.unread = count


def _add_consent(needs: dict[int, CircleNeeds], by_id: dict[int, Membership]) -> None:
    """Open proposals whose vote of mine is still unanswered (``consent_waits_for``, read
    for all my circles at once)."""
    voters = [mid for mid, m in by_id.items() if can_vote(m) and not needs[m.circle_id].closed]
    if not voters:
        return
    rows = db.session.execute(
        select(ProposalVote.membership_id, Proposal)
        .join(Proposal, Proposal.id == ProposalVote.proposal_id)
        .where(
            ProposalVote.membership_id.in_(voters),
            ProposalVote.answer.is_(None),
            Proposal.status == ProposalStatus.OPEN,
        )
        .order_by(Proposal.id)
    ).all()
    for membership_id, proposal in rows:
        needs[by_id[membership_id].circle_id].consent.append(proposal)


def _add_meetings(needs: dict[int, CircleNeeds], user_id: int, by_id: dict[int, Membership]):
    """Date polls I am asked to answer and have not, and the next fixed meeting."""
    now = utcnow()
    polls: list[Meeting] = []
    for meeting, _circle in meeting_svc.my_meetings(user_id):
        n = needs.get(meeting.circle_id)
        if n is None:
            continue
        if meeting.status == "poll":
            if not n.closed and (meeting.deadline is None or meeting.deadline > now):
                polls.append(meeting)
        elif meeting.status == "fixed" and meeting.starts_at and meeting.starts_at >= now:
            if n.next_meeting is None:
                n.next_meeting = meeting
    if not polls:
        return
    answered = set(
        db.session.execute(
            select(MeetingOption.meeting_id, MeetingAnswer.membership_id)
            .join(MeetingAnswer, MeetingAnswer.option_id == MeetingOption.id)
            .where(
                MeetingOption.meeting_id.in_([m.id for m in polls]),
                MeetingAnswer.membership_id.in_(list(by_id)),
            )
            .distinct()
        ).all()
    )
    for meeting in polls:
        me = needs[meeting.circle_id].me
        if (meeting.id, me.id) not in answered:
            needs[meeting.circle_id].polls.append(meeting)
