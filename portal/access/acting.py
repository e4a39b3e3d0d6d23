"""Offline members and acting on someone's behalf (issue 14): who may add a person
without internet, who may be named to answer for a member, and who may act for whom.

"Sanne said yes for Oma": a central person or a plan keeper ticks a commitment,
answers a poll or consents for a member who named them (``Membership.proxies``). It is
always recorded as "by Sanne for Oma", and the member may change it for
``CHANGE_WINDOW`` when they next come in.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Membership, MembershipStatus, Role, membership_proxies
from portal.models.types import utcnow

# A member may change what was given in their name for this long; afterwards it stands.
CHANGE_WINDOW = timedelta(days=7)

# Roles an offline member may have: people of the family's circle, never a professional
# or a coordinator (they work online, and may not be stand-ins).
OFFLINE_ROLES = (Role.CENTRAL, Role.MEMBER, Role.SUPPORTER)


def can_add_offline_member(m: Membership) -> bool:
    """Adding someone without internet (a name and a role, no account): the central
    persons, who decide who is in the family's circle."""
    return m.is_active and m.role == Role.CENTRAL


def may_be_proxy(m: Membership) -> bool:
    """Who may be named to act for someone: the active central persons and plan keepers
    (the people who look after the plan), who can come in themselves."""
    return m.is_active and not m.offline and (m.role == Role.CENTRAL or m.is_plan_keeper)


def can_name_proxies(actor: Membership, member: Membership) -> bool:
    """Who says who may act for ``member``: the member themself (their own setting), or a
    central person for an offline member (who cannot come in to say it)."""
    if not (actor.is_active and member.is_active and actor.circle_id == member.circle_id):
        return False
    if member.role not in OFFLINE_ROLES:
        return False
    if member.offline:
        return can_add_offline_member(actor)
    return actor.id == member.id


def can_invite_to_take_place(actor: Membership, member: Membership) -> bool:
    """An invitation that hands an offline member's place (history and all) to whoever
    accepts it: a central person, for an offline member still in the circle."""
    return (
        can_add_offline_member(actor)
        and member.circle_id == actor.circle_id
        and member.is_active
        and member.offline
    )


def can_act_for(actor: Membership, member: Membership) -> bool:
    """Whether ``actor`` may tick, answer a poll or consent in ``member``'s name: both
    active in the same open circle, ``actor`` a central person or plan keeper, and
    named by ``member`` to act for them."""
    if actor.id == member.id or actor.circle_id != member.circle_id:
        return False
    if not (may_be_proxy(actor) and member.is_active):
        return False
    if actor.circle.closed_at is not None:
        return False
    return any(p.id == actor.id for p in member.proxies)


def has_a_voice(m: Membership) -> bool:
    """Whether ``m``'s consent can be given: an active voter who comes in themself, or an
    offline member with someone named who may still act for them (a plan keeper who
    is no longer one cannot). Otherwise they count in the plan but are not waited for."""
    if not (m.is_active and m.votes):
        return False
    return not m.offline or any(may_be_proxy(p) for p in m.proxies)


def acting_for_choices(actor: Membership) -> list[Membership]:
    """The members ``actor`` may act for (one query; none for someone who may not be a
    proxy at all), by name."""
    if not may_be_proxy(actor) or actor.circle.closed_at is not None:
        return []
    named = db.session.scalars(
        select(Membership)
        .join(membership_proxies, membership_proxies.c.membership_id == Membership.id)
        .where(
            membership_proxies.c.proxy_id == actor.id,
            Membership.circle_id == actor.circle_id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.id != actor.id,
        )
        .order_by(Membership.display_name, Membership.id)
    ).all()
    return list(named)


def within_change_window(given_at) -> bool:
    """Whether an answer given for someone can still be changed by them."""
    return given_at is not None and utcnow() - given_at <= CHANGE_WINDOW
