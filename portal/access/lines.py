"""The private line between a supporter and the member they support (issue 14).

Only the two read it. Not the central persons, not professionals, not the coordinator
(before or after the handover), not anyone else in the circle or outside it, and not
whoever takes the place of someone without internet later (the line stays closed while
either of the two is offline). For
everyone else a line answers exactly like one that does not exist: the one 404.

A line is open while its pair still stands: both are active in the circle, the
supporter is a supporter and still supports that member (``Membership.supports_id``),
and the member is someone who can be supported (not a professional or the
coordinator). When a central person names someone else as the person a supporter
supports, the line belongs to the new pair; the old line is kept but closed to both
(and so to everyone). It opens again only if the same pair stands again.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from portal.access.circles import refuse_if_closed
from portal.extensions import db
from portal.models import Circle, Membership, Role, SupportLine

# Who can be supported: the family's circle, not the professionals or the coordinator.
SUPPORTED_ROLES = frozenset({Role.CENTRAL, Role.MEMBER, Role.SUPPORTER})


def can_be_supported(member: Membership, circle_id: int) -> bool:
    """Whether ``member`` may be named as the person a supporter of ``circle_id``
    supports (the invitation form offers exactly these): someone active in the family's
    circle, not a professional or the coordinator."""
    return member.is_active and member.circle_id == circle_id and member.role in SUPPORTED_ROLES


def can_support(supporter: Membership, member: Membership) -> bool:
    """Whether ``supporter`` may support ``member`` (never themself)."""
    return member.id != supporter.id and can_be_supported(member, supporter.circle_id)


def pair_stands(supporter: Membership, member: Membership) -> bool:
    """The supporter (active, a supporter) still supports ``member``, who can still be
    supported, and both come in themselves. A line with someone without internet is
    closed: nobody would read it but whoever later takes their place (the central
    person could, with an account of their own), so nothing is written into it."""
    return (
        not supporter.offline
        and not member.offline
        and supporter.is_active
        and supporter.role == Role.SUPPORTER
        and supporter.supports_id == member.id
        and can_support(supporter, member)
    )


def can_read_line(m: Membership, line: SupportLine) -> bool:
    """``m`` is one of the line's two people, and the pair still stands."""
    return (
        m.is_active
        and m.circle_id == line.circle_id
        and m.id in (line.supporter_id, line.member_id)
        and pair_stands(line.supporter, line.member)
    )


def access_line(user, circle_id: int, line_id) -> tuple[Circle, Membership, SupportLine]:
    """``(circle, me, line)`` for one of the line's two people, else the one 404 (a line
    of another circle, a line someone else holds, a line whose pair no longer stands,
    a line that does not exist). A closed circle's line is read-only."""
    if user is None or not user.is_authenticated:
        abort(404)
    line = db.session.scalar(
        select(SupportLine)
        .where(SupportLine.id == line_id, SupportLine.circle_id == circle_id)
        .options(joinedload(SupportLine.supporter), joinedload(SupportLine.member))
    )
    if line is None:
        abort(404)
    me = next((p for p in (line.supporter, line.member) if p.user_id == user.id), None)
    if me is None or not can_read_line(me, line):
        abort(404)
    circle = db.session.get(Circle, circle_id)
    refuse_if_closed(circle.closed_at)
    return circle, me, line


def open_lines_of(m: Membership) -> list[SupportLine]:
    """The lines ``m`` may read now (a supporter has at most one; a member one per
    supporter), oldest first. One query."""
    if not m.is_active or m.role not in SUPPORTED_ROLES:
        return []
    lines = db.session.scalars(
        select(SupportLine)
        .where(
            SupportLine.circle_id == m.circle_id,
            or_(SupportLine.supporter_id == m.id, SupportLine.member_id == m.id),
        )
        .options(joinedload(SupportLine.supporter), joinedload(SupportLine.member))
        .order_by(SupportLine.id)
    ).all()
    return [line for line in lines if can_read_line(m, line)]
