"""Closing a circle when the plan has done its work (issue 13, docs/privacy.md).

A closed circle is read-only (the rule is ``access.refuse_if_closed``, asked by every
``access_*`` function); its content is deleted for good CLOSED_CIRCLE_RETENTION_DAYS
after it was closed (``portal.purge``). Until then a central person can reopen it.
A circle nobody has used for IDLE_CIRCLE_MONTHS asks its central persons whether to
keep it ("keep it" clears the question); unanswered, the purge run closes it.

Each change is one conditional UPDATE, so two people closing at once (or reopening
while the purge runs) change it exactly once; the loser gets a ``ServiceError``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.access import (
    asked_to_keep,
    can_close_circle,
    can_keep_circle,
    can_reopen_circle,
    hears_of_closing,
)
from portal.extensions import db
from portal.models import Circle, Membership, MembershipStatus
from portal.models.types import utcnow
from portal.services import Forbidden, ServiceError, notifications
from portal.services.history import record

CLOSING = "closing"  # the kind of news


def purge_day(circle: Circle) -> datetime | None:
    """When a closed circle's content will be deleted for good."""
    if circle.closed_at is None:
        return None
    return circle.closed_at + timedelta(days=current_app.config["CLOSED_CIRCLE_RETENTION_DAYS"])


def keep_deadline(circle: Circle) -> datetime | None:
    """When an idle circle nobody answered for closes by itself (``portal.purge``)."""
    if circle.idle_asked_at is None:
        return None
    return circle.idle_asked_at + timedelta(days=current_app.config["IDLE_ANSWER_DAYS"])


def _active(circle: Circle, rule) -> list[Membership]:
    """The circle's active people for whom ``rule`` (``portal.access.news``) says yes."""
    members = db.session.scalars(
        select(Membership)
        .where(Membership.circle_id == circle.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Membership.id)
    )
    return [m for m in members if rule(m)]


def _tell(circle: Circle, members, op: str, actor: Membership | None, now: datetime) -> None:
    notifications.notify(members, CLOSING, actor=actor, data={"op": op}, now=now)


def _changed(circle: Circle, *where, **values) -> bool:
    """One conditional UPDATE of the circle row; whether it matched."""
    result = db.session.execute(
        update(Circle)
        .where(Circle.id == circle.id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    for name, value in values.items():
        # Keep the loaded object in step, without reading the row again and without
        # a second UPDATE at the next flush.
        set_committed_value(circle, name, value)
    return True


def close_circle(circle: Circle, acting: Membership | None, *, now: datetime | None = None) -> None:
    """Close the circle: read-only from now on, purged after the retention period.
    ``acting`` None: Kring itself closes it (an idle circle nobody answered for)."""
    if acting is not None and not can_close_circle(acting):
        raise Forbidden()
    now = now or utcnow()
    if not _changed(circle, Circle.closed_at.is_(None), closed_at=now, idle_asked_at=None):
        raise ServiceError(_l("This circle is already closed."))
    ev = record(circle, "closed", actor=acting, idle=acting is None)
    ev.created_at = now
    _tell(circle, _active(circle, hears_of_closing), "closed", acting, now)


def reopen_circle(circle: Circle, acting: Membership, *, now: datetime | None = None) -> None:
    """Open a closed circle again, as long as its content has not been deleted."""
    if not can_reopen_circle(acting):
        raise Forbidden()
    now = now or utcnow()
    if not _changed(
        circle, Circle.closed_at.is_not(None), Circle.purged_at.is_(None), closed_at=None
    ):
        raise ServiceError(_l("This circle can no longer be opened again."))
    ev = record(circle, "reopened", actor=acting)
    ev.created_at = now
    _tell(circle, _active(circle, hears_of_closing), "reopened", acting, now)


def keep_circle(circle: Circle, acting: Membership, *, now: datetime | None = None) -> None:
    """The answer "keep it" to Kring's question whether an idle circle is still needed."""
    if not can_keep_circle(acting):
        raise Forbidden()
    now = now or utcnow()
    if not _changed(
        circle, Circle.idle_asked_at.is_not(None), Circle.closed_at.is_(None), idle_asked_at=None
    ):
        return  # another central person answered first: the circle stays either way
    ev = record(circle, "kept", actor=acting)
    ev.created_at = now
    _tell(circle, _active(circle, asked_to_keep), "kept", acting, now)


def ask_to_keep(circle: Circle, now: datetime) -> bool:
    """Kring asks the central persons whether to keep an idle circle (the purge run).
    Returns False if the circle was closed or asked meanwhile."""
    if not _changed(
        circle, Circle.idle_asked_at.is_(None), Circle.closed_at.is_(None), idle_asked_at=now
    ):
        return False
    ev = record(circle, "keep_asked")
    ev.created_at = now
    _tell(circle, _active(circle, asked_to_keep), "keep_asked", None, now)
    return True
