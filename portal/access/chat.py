"""Who may read and write in a circle's chat, including the send path's one-query seat."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import bindparam, or_, select

from portal.access.circles import access_circle, refuse_if_closed, require
from portal.extensions import db
from portal.models import (
    Circle,
    Membership,
    MembershipStatus,
    Role,
)


def _chat_open_to(role: Role, professionals_read_chat: bool) -> bool:
    """Professionals read and write the chat only while the central persons allow it."""
    return role != Role.PROFESSIONAL or professionals_read_chat


def chat_open_sql(role, professionals_read_chat):
    """``_chat_open_to`` as an SQL condition, for statements that pick the chat's readers
    in bulk (the "new messages" news line): ``role`` and ``professionals_read_chat`` are
    the columns of the membership and its circle."""
    return or_(role != Role.PROFESSIONAL.value, professionals_read_chat.is_(True))


def can_read_chat(m: Membership) -> bool:
    if m.role != Role.PROFESSIONAL:  # no need to load the circle
        return m.is_active
    return m.is_active and _chat_open_to(m.role, m.circle.professionals_read_chat)


def access_chat(user, circle_id: int) -> tuple[Circle, Membership]:
    """``access_circle`` plus the chat rule for professionals (403 when closed to them)."""
    circle, membership = access_circle(user, circle_id)
    require(can_read_chat(membership))
    return circle, membership


@dataclass(frozen=True, slots=True)
class ChatSeat:
    """Who writes in which circle's chat: all that sending a message needs."""

    circle_id: int
    membership_id: int
    display_name: str
    user_id: int  # the person: the send limit counts per person, over all their seats

    @classmethod
    def of(cls, m: Membership) -> ChatSeat:
        return cls(m.circle_id, m.id, m.display_name, m.user_id)


# Built once: the send path runs for every chat message, and composing a statement
# costs more than running it (see bench/README.md).
_CHAT_SEAT = (
    select(
        Membership.id,
        Membership.display_name,
        Membership.role,
        Circle.professionals_read_chat,
        Circle.closed_at,
    )
    .join(Circle, Circle.id == Membership.circle_id)
    .where(
        Membership.circle_id == bindparam("circle_id"),
        Membership.user_id == bindparam("user_id"),
        Membership.status == MembershipStatus.ACTIVE,
    )
)


def access_chat_seat(user, circle_id: int) -> ChatSeat:
    """``access_chat`` for sending: the same rule and answers (404, 403), read as one
    row of plain columns instead of two loaded objects."""
    if user is None or not user.is_authenticated:
        abort(404)
    row = (
        db.session.connection()
        .execute(_CHAT_SEAT, {"circle_id": circle_id, "user_id": user.id})
        .first()
    )
    if row is None:
        abort(404)
    membership_id, display_name, role, professionals_read_chat, closed_at = row
    require(_chat_open_to(role, professionals_read_chat))
    refuse_if_closed(closed_at)
    return ChatSeat(circle_id, membership_id, display_name, user.id)
