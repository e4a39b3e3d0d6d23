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
    can_act_for,
    can_tick,
    can_undo_tick,
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
from portal.services.acted import acted_for
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
    circle: Circle,
    acting: Membership,
    c: Commitment,
    occurrence: str,
    note: str = "",
    *,
    for_member: Membership | None = None,
) -> dict:
    """Mark an occurrence (or checklist item) done. Ticking twice leaves one tick.

    ``for_member``: ``acting`` ticks in the name of a member who named them (issue 14):
    the tick is the member's (``by``), with ``acted_by`` the one who gave it."""
    if for_member is not None:
        if not can_act_for(acting, for_member) or not can_tick(for_member, c):
            raise Forbidden
    elif not can_tick(acting, c):
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
    by = for_member or acting
    completion = Completion(
        commitment_id=c.id,
        occurrence=occurrence,
        by_id=by.id,
        acted_by_id=acting.id if for_member is not None else None,
        note=note,
    )
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
    payload = tick_payload(completion, "tick", by_name=by.display_name)
    if for_member is not None:
        payload["acted_by"] = acting.display_name
        acted_for(circle, acting, for_member, "tick", ref_id=c.id)
    events.publish(circle.id, payload, event_name="plan:event")
    return payload


def tick_payload(c: Completion, op: str, by_name: str | None = None) -> dict:
    payload = {
        "type": "plan",
        "op": op,
        "commitment_id": c.commitment_id,
        "occurrence": c.occurrence,
        "completion_id": c.id,
        "by": by_name if by_name is not None else c.by.display_name,
        "at": c.at.isoformat(),
    }
    if c.acted_by_id is not None and c.acted_by is not None:
        payload["acted_by"] = c.acted_by.display_name
    return payload


def undo_tick(circle: Circle, acting: Membership, completion: Completion) -> dict:
    """Undo a tick within a few minutes; the row stays in the history, marked undone.
    A tick made in someone's name is theirs to undo for a week (``access.can_undo_tick``)."""
    if completion.undone_at is not None:
        return tick_payload(completion, "untick")
    if not can_undo_tick(acting, completion):
        if completion.acted_by_id is not None and completion.by_id == acting.id:
            raise ServiceError(_l("This was ticked for you more than 7 days ago, so it stands."))
        if acting.id not in (completion.by_id, completion.acted_by_id):
            raise ServiceError(_l("Only the person who ticked it can undo it."))
        raise ServiceError(_l("A tick can be undone for 5 minutes only."))
    completion.undone_at = utcnow()
    payload = tick_payload(completion, "untick", by_name=completion.by.display_name)
    events.publish(circle.id, payload, event_name="plan:event")
    return payload


def completion_history(commitment: Commitment) -> Select:
    """Every tick of the commitment, newest first (a query: the page paginates it)."""
    return (
        select(Completion)
        .where(Completion.commitment_id == commitment.id)
        .options(selectinload(Completion.by), selectinload(Completion.acted_by))
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
