"""Everything the plan page shows, gathered in a fixed number of queries.

The page must cost the same with 3 commitments as with 60: commitments come with
their people and checklists by ``selectinload`` and all standing ticks in one query.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.access import acting_for_choices, can_tick
from portal.extensions import db
from portal.models import Circle, Commitment, Completion, Membership, MembershipStatus
from portal.services import plan as svc
from portal.services.schedule import (
    Health,
    current_occurrence,
    health,
    missed_turns,
    occurrence_key,
    ticks_matter_since,
    today_in,
)

# How far back "My commitments" and "What needs you" offer a missed turn to tick.
MISSED_DAYS = 28


@dataclass
class CommitmentRow:
    c: Commitment
    health: Health
    turn: date | None  # the occurrence to tick now (repeating commitments)
    turn_key: str  # its key, "once" for one-off commitments
    done: Completion | None  # the standing tick of this turn (or of the whole thing)
    items: list[tuple] = field(default_factory=list)  # (item, key, completion or None)
    may_tick: bool = False
    mine: bool = False
    # Its people whom ``me`` may tick for (issue 14: they named ``me``).
    for_whom: list = field(default_factory=list)
    # The turn to tick is still to come (before a repeating commitment's first turn):
    # it can be ticked on the day, not before (``plan.tick``).
    turn_ahead: bool = False
    # "My commitments": earlier turns I missed and may still tick, newest first.
    missed: list[date] = field(default_factory=list)


@dataclass
class PlanView:
    version: int
    evaluation_date: date | None
    rows: list[CommitmentRow]
    summary: Counter
    agreements: list
    conditions: list
    proposals: list
    acceptances: list
    today: date
    # The members ``me`` may act for (issue 14): "for whom" on ticks and answers.
    acting_for: list = field(default_factory=list)

    @property
    def needs_attention(self) -> list[CommitmentRow]:
        return [r for r in self.rows if r.health == Health.NEEDS_HELP]


def _row(
    c: Commitment, me: Membership, today: date, done_for: dict, acting_ids=frozenset()
) -> CommitmentRow:
    """Where one commitment stands today, and what ``me`` may tick (``acting_ids``: the
    members ``me`` may act for)."""
    s = svc.schedule_of(c)
    if c.items:
        items = [(i, f"item:{i.id}", done_for.get(f"item:{i.id}")) for i in c.items]
        done_keys = {"once"} if all(x[2] for x in items) else set()
        turn, key = None, "once"
    else:
        items = []
        done_keys = set(done_for)
        turn = current_occurrence(s, today) if s.kind not in ("once", "period") else None
        key = occurrence_key(s, turn) if turn else "once"
    h = health(s, today, done_keys, help_requested=c.help_requested_at is not None)
    return CommitmentRow(
        c=c,
        health=h,
        turn=turn,
        turn_key=key,
        done=done_for.get(key),
        items=items,
        may_tick=can_tick(me, c),
        mine=any(a.id == me.id for a in c.assignees),
        for_whom=[a for a in c.assignees if a.id in acting_ids] if acting_ids else [],
        turn_ahead=turn is not None and turn > today,
    )


def ticks_since(commitments: list[Commitment], today, *, days: int = 0) -> dict:
    """Per commitment, the first turn whose tick a page needs (``days``: missed turns
    offered that far back); for ``standing_completions``."""
    return {c.id: ticks_matter_since(svc.schedule_of(c), today, days=days) for c in commitments}


def _rows(circle: Circle, me: Membership, today: date, acting_ids=frozenset()):
    commitments = svc.commitments(circle)
    ticks = svc.standing_completions([c.id for c in commitments], ticks_since(commitments, today))
    return [_row(c, me, today, ticks[c.id], acting_ids) for c in commitments]


@dataclass
class PlanSummary:
    """What a circle's home page shows of the plan: where each commitment stands, and
    the agreements for when things go differently."""

    rows: list[CommitmentRow]
    summary: Counter
    agreements: list

    @property
    def needs_attention(self) -> list[CommitmentRow]:
        return [r for r in self.rows if r.health == Health.NEEDS_HELP]


def plan_summary(circle: Circle, me: Membership) -> PlanSummary:
    """``plan_view`` without what only the plan page shows (its version, conditions,
    proposals, acceptances, whom ``me`` acts for): four statements fewer."""
    rows = _rows(circle, me, today_in(circle.timezone))
    return PlanSummary(rows, Counter(r.health.value for r in rows), svc.agreements(circle))


def plan_view(circle: Circle, me: Membership) -> PlanView:
    plan = svc.get_plan(circle)
    today = today_in(circle.timezone)
    acting_for = acting_for_choices(me)
    acting_ids = {m.id for m in acting_for}
    rows = _rows(circle, me, today, acting_ids)
    return PlanView(
        version=plan.version,
        evaluation_date=plan.evaluation_date,
        rows=rows,
        summary=Counter(r.health.value for r in rows),
        agreements=svc.agreements(circle),
        conditions=svc.conditions(circle),
        proposals=svc.open_proposals(circle),
        acceptances=svc.acceptances(circle),
        today=today,
        acting_for=acting_for,
    )


@dataclass
class MyCommitments:
    """One circle's part of "My commitments"."""

    circle: Circle
    me: Membership
    rows: list[CommitmentRow]


def my_commitments(user_id: int) -> list[MyCommitments]:
    """What one person has taken on, in every circle they are in, with where each thing
    stands today. Five queries however many circles and commitments."""
    mine = {  # circle id -> my membership there
        m.circle_id: m
        for m in db.session.scalars(
            select(Membership)
            .where(Membership.user_id == user_id, Membership.status == MembershipStatus.ACTIVE)
            .options(joinedload(Membership.circle))
        )
    }
    commitments = db.session.scalars(
        select(Commitment)
        .where(
            Commitment.active.is_(True),
            Commitment.assignees.any(Membership.id.in_([m.id for m in mine.values()])),
        )
        .options(selectinload(Commitment.assignees), selectinload(Commitment.items))
        .order_by(Commitment.position, Commitment.id)
    ).all()
    today = {cid: today_in(m.circle.timezone) for cid, m in mine.items()}
    ticks = svc.standing_completions(
        [c.id for c in commitments],
        {
            c.id: ticks_matter_since(svc.schedule_of(c), today[c.circle_id], days=MISSED_DAYS)
            for c in commitments
        },
    )
    groups: dict[int, MyCommitments] = {}
    for c in commitments:
        me = mine[c.circle_id]
        group = groups.setdefault(c.circle_id, MyCommitments(me.circle, me, []))
        row = _row(c, me, today[c.circle_id], ticks[c.id])
        if not c.items and row.may_tick and me.circle.closed_at is None:
            s = svc.schedule_of(c)
            days = missed_turns(s, today[c.circle_id], set(ticks[c.id]), days=MISSED_DAYS)
            row.missed = [d for d in days if d != row.turn]
        group.rows.append(row)
    return sorted(groups.values(), key=lambda g: g.circle.title.casefold())


def member_rows(circle: Circle, member: Membership) -> list[CommitmentRow]:
    """What one person has taken on in this circle, with where each thing stands today
    (the printed "what is happening" sheet). Four queries however many commitments."""
    commitments = db.session.scalars(
        select(Commitment)
        .where(
            Commitment.circle_id == circle.id,
            Commitment.active.is_(True),
            Commitment.assignees.any(Membership.id == member.id),
        )
        .options(selectinload(Commitment.assignees), selectinload(Commitment.items))
        .order_by(Commitment.position, Commitment.id)
    ).all()
    today = today_in(circle.timezone)
    ticks = svc.standing_completions([c.id for c in commitments], ticks_since(commitments, today))
    return [_row(c, member, today, ticks[c.id]) for c in commitments]
