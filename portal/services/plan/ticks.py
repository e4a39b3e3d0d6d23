"""Ticking the plan off: one standing tick per occurrence, undo within a few minutes,
and asking for help with a commitment.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import events
from portal.access import (
    UNDO_WINDOW,
    can_tick,
    hears_of_help,
)
from portal.extensions import db
from portal.models import (
    Circle,
    Commitment,
    Completion,
    Membership,
)
from portal.models.types import utcnow
from portal.sanitize import clean_line
from portal.services import Forbidden, ServiceError, notifications
from portal.services.history import record
from portal.services.plan.reading import schedule_of
from portal.services.schedule import occurrences, today_in


def _turn_day(c: Commitment, occurrence: str) -> date | None:
    """The date of a repeating commitment's turn named by ``occurrence``, else None."""
    if occurrence.startswith("item:") or c.items or schedule_of(c).kind in ("once", "period"):
        return None
    return date.fromisoformat(occurrence)


def _valid_occurrence(c: Commitment, occurrence: str) -> bool:
    if occurrence.startswith("item:"):
        return any(f"item:{i.id}" == occurrence for i in c.items)
    if c.items:
        return False  # a commitment with a checklist is ticked item by item
    s = schedule_of(c)
    if s.kind in ("once", "period"):
        return occurrence == "once"
    try:
        day = date.fromisoformat(occurrence)
    except ValueError:
        return False
    # Only the plain YYYY-MM-DD key: "2026-W45-3" or "20261104" name the same day under
    # another key, which would slip past the one-standing-tick index.
    return day.isoformat() == occurrence and occurrences(s, day, day) == [day]


def tick(
    circle: Circle, acting: Membership, c: Commitment, occurrence: str, note: str = ""
) -> dict:
    """Mark an occurrence (or checklist item) done. Ticking twice leaves one tick."""
    if not can_tick(acting, c):
        raise Forbidden
    if not c.active:
        raise ServiceError(_l("This commitment is no longer in the plan."))
    if not isinstance(occurrence, str) or not _valid_occurrence(c, occurrence):
        raise ServiceError(_l("This is not something to tick here."))
    # A missed turn can still be ticked, with its date (a turn before the start is no
    # turn at all: refused above); a turn still to come cannot be done yet.
    day = _turn_day(c, occurrence)
    if day is not None and day > today_in(circle.timezone):
        raise ServiceError(_l("This turn is still to come. You can tick it on the day."))
    note = clean_line(note, 280)
    completion = Completion(commitment_id=c.id, occurrence=occurrence, by_id=acting.id, note=note)
    try:
        # A savepoint, not a rollback of the whole transaction: that would also drop
        # whatever the caller had done and queued before this tick.
        with db.session.begin_nested():
            db.session.add(completion)
            db.session.flush()
    except IntegrityError:
        existing = db.session.scalar(
            select(Completion).where(
                Completion.commitment_id == c.id,
                Completion.occurrence == occurrence,
                Completion.undone_at.is_(None),
            )
        )
        if existing is None:
            raise
        return tick_payload(existing, "tick")
    payload = tick_payload(completion, "tick", by_name=acting.display_name)
    events.publish(circle.id, payload, event_name="plan:event")
    return payload


def tick_payload(c: Completion, op: str, by_name: str | None = None) -> dict:
    return {
        "type": "plan",
        "op": op,
        "commitment_id": c.commitment_id,
        "occurrence": c.occurrence,
        "completion_id": c.id,
        "by": by_name if by_name is not None else c.by.display_name,
        "at": c.at.isoformat(),
    }


def undo_tick(circle: Circle, acting: Membership, completion: Completion) -> dict:
    """Undo a tick within a few minutes; the row stays in the history, marked undone."""
    if completion.by_id != acting.id:
        raise ServiceError(_l("Only the person who ticked it can undo it."))
    if completion.undone_at is not None:
        return tick_payload(completion, "untick")
    if utcnow() - completion.at > UNDO_WINDOW:
        raise ServiceError(_l("A tick can be undone for 5 minutes only."))
    completion.undone_at = utcnow()
    payload = tick_payload(completion, "untick", by_name=acting.display_name)
    events.publish(circle.id, payload, event_name="plan:event")
    return payload


def completion_history(commitment: Commitment) -> Select:
    """Every tick of the commitment, newest first (a query: the page paginates it)."""
    return (
        select(Completion)
        .where(Completion.commitment_id == commitment.id)
        .options(selectinload(Completion.by))
        .order_by(Completion.at.desc(), Completion.id.desc())
    )


def request_help(circle: Circle, acting: Membership, c: Commitment) -> None:
    if not any(a.id == acting.id for a in c.assignees):
        raise ServiceError(_l("Only the people who do this can ask for help with it."))
    already = c.help_requested_at is not None
    c.help_requested_at = utcnow()
    c.help_requested_by_id = acting.id
    record(circle, "help_requested", actor=acting)
    if already:
        return  # those who watch the plan have heard of it already
    watchers = [m for m in circle.memberships if hears_of_help(m) and m.id != acting.id]
    notifications.notify(watchers, "help", ref_id=c.id, actor=acting)
    # The notice says only that something needs attention: no names, no text.
    notice = {"type": "notice", "op": "attention", "circle_id": circle.id}
    for m in watchers:
        uid = m.user_id
        events.after_commit(lambda uid=uid: events.emit_to_user(uid, "notice", notice))


def clear_help(circle: Circle, acting: Membership, c: Commitment) -> None:
    if not (can_tick(acting, c)):
        raise Forbidden
    c.help_requested_at = None
    c.help_requested_by_id = None
    notifications.settle(circle.id, "help", c.id)
