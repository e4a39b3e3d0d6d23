"""The plan as it stands now: its row, commitments, agreements, conditions and ticks.

These only read (``get_plan`` adds the row of a circle that has none yet).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Agreement,
    Circle,
    Commitment,
    Completion,
    Condition,
    Plan,
)
from portal.services.schedule import Schedule


def get_plan(circle: Circle) -> Plan:
    """The circle's plan row: made with the circle (``create_circle``), only read here."""
    return db.session.scalars(select(Plan).where(Plan.circle_id == circle.id)).one()


def commitments(circle: Circle) -> list[Commitment]:
    """Active commitments with assignees, checker and items: three queries, any size."""
    return list(
        db.session.scalars(
            select(Commitment)
            .where(Commitment.circle_id == circle.id, Commitment.active.is_(True))
            .options(
                selectinload(Commitment.assignees),
                selectinload(Commitment.items),
                selectinload(Commitment.checker),
            )
            .order_by(Commitment.position, Commitment.id)
        )
    )


def agreements(circle: Circle) -> list[Agreement]:
    return list(
        db.session.scalars(
            select(Agreement)
            .where(Agreement.circle_id == circle.id, Agreement.active.is_(True))
            .order_by(Agreement.position, Agreement.id)
        )
    )


def conditions(circle: Circle) -> list[Condition]:
    return list(
        db.session.scalars(
            select(Condition)
            .where(Condition.circle_id == circle.id, Condition.active.is_(True))
            .options(selectinload(Condition.set_by))
            .order_by(Condition.id)
        )
    )


def standing_completions(
    commitment_ids: list[int], since: dict[int, date | None] | None = None
) -> dict[int, dict[str, Completion]]:
    """For each commitment, its standing ticks by occurrence key (one query).

    ``since``: per commitment id, the first turn whose tick is wanted (see
    ``schedule.ticks_matter_since``); earlier turns' ticks are not loaded. Keys that are
    no date ("once", "item:<id>") always are. Without it, every standing tick."""
    out: dict[int, dict[str, Completion]] = {cid: {} for cid in commitment_ids}
    if not commitment_ids:
        return out
    which = Completion.commitment_id.in_(commitment_ids)
    if since is not None:
        by_day: dict[date | None, list[int]] = {}
        for cid in commitment_ids:
            by_day.setdefault(since.get(cid), []).append(cid)
        not_a_day = Completion.occurrence.not_like("____-__-__")
        which = or_(
            *(
                Completion.commitment_id.in_(ids)
                if day is None
                else and_(
                    Completion.commitment_id.in_(ids),
                    or_(Completion.occurrence >= day.isoformat(), not_a_day),
                )
                for day, ids in by_day.items()
            )
        )
    rows = db.session.scalars(
        select(Completion)
        .where(which, Completion.undone_at.is_(None))
        .options(selectinload(Completion.by), selectinload(Completion.acted_by))
    )
    for c in rows:
        out[c.commitment_id][c.occurrence] = c
    return out


def schedule_of(c: Commitment) -> Schedule:
    return Schedule(
        kind=c.schedule_kind,
        start=c.start,
        end=c.end,
        weekdays=frozenset(int(d) for d in c.weekdays.split(",") if d != ""),
        interval=c.interval,
    )
