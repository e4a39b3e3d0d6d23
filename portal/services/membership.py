"""Someone goes: removed by a central person, or leaving by themselves.

This sits above the circles and plan services and joins them: the membership ends
(``circles.end_membership``), then the plan's open proposals are looked at again, since
the person who went no longer blocks a change with a missing answer (an objection
they made still does; see ``plan.counted_votes``). Neither of those two services
imports the other. The coordinator's hand-over is ``circles.hand_over``: the
coordinator has no vote, so the plan has nothing to reconsider.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from portal.access import can_be_removed
from portal.extensions import db
from portal.models import Circle, Invitation, Membership, MembershipStatus, Role
from portal.services import ServiceError, circles, lines, offline, plan
from portal.services.history import record


def remove_member(circle: Circle, acting: Membership, member: Membership) -> None:
    if not member.is_active:
        raise ServiceError(_l("This person is no longer in the circle."))
    if member.id == acting.id:
        raise ServiceError(_l("To go, use “Leave this circle”."))
    if not can_be_removed(member):
        raise ServiceError(_l("The coordinator leaves by handing over."))
    circles.end_membership(member, MembershipStatus.REMOVED)
    lines.went(member)  # their private lines close (issue 14)
    record(circle, "removed", actor=acting, subject=member)
    circles.tell_people(circle, member, "removed", actor=acting)
    _reconsider_plan(circle)


def leave_circle(circle: Circle, member: Membership, *, erasing: bool = False) -> None:
    """``erasing``: the person erases their account (``services.erasure``), which no rule
    of the circle may refuse, not even for its last central person."""
    if (
        not erasing
        and member.role == Role.CENTRAL
        and circles.active_central_count(circle) <= 1
        and circle.handed_over_at
    ):
        raise ServiceError(
            _l("You are the last central person. Invite another central person before you leave.")
        )
    circles.end_membership(member, MembershipStatus.LEFT)
    lines.went(member)  # their private lines close (issue 14)
    # The invitation's typed name and address were for letting them in; once they
    # go, only the family's own records keep their name (the membership, versions,
    # reviews), until they erase their account too.
    db.session.execute(
        update(Invitation)
        .where(Invitation.membership_id == member.id)
        .values(name="", email=None, supporter_of=None)
    )
    record(circle, "left", subject=member)
    circles.tell_people(circle, member, "left", actor=member)
    if circle.closed_at is None:  # a closed circle's plan stays as it was closed
        _reconsider_plan(circle)


def _reconsider_plan(circle: Circle) -> None:
    """Someone who is gone no longer blocks a proposed change to the plan."""
    db.session.flush()
    plan.reconsider_open_proposals(circle)


def set_proxies(circle: Circle, acting: Membership, member: Membership, proxy_ids: list[int]):
    """Name who may act for ``member`` (``offline.set_proxies``). An offline member left
    with nobody to answer for them no longer blocks a proposed change (their vote
    was fixed when it was made, unanswered: see ``plan.counted_votes``)."""
    offline.set_proxies(circle, acting, member, proxy_ids)
    if circle.closed_at is None:
        _reconsider_plan(circle)
