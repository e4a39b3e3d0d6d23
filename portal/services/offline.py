"""People without internet in the circle (issue 14).

A central person adds an offline member by name and role: no account, no invitation.
The membership (``Membership.offline``) points at a stand-in ``User`` (``User.offline``)
that can never sign in: its password hash matches nothing, its username is random and
unguessable, it has no email, and it gets no news, email or push
(``notifications.notify``, ``accounts.find_user_for_login``). Commitments name the
membership like anyone's, and it counts in the plan; it consents only through someone
it named to answer for it (``Membership.votes``, ``access.can_act_for``).

Later a central person may make an invitation that takes their place
(``Invitation.takes_place_of_id``): whoever accepts it gets that very membership,
history and all, and the stand-in account is deleted (``take_place``, called by
``circles.redeem_invitation``).

This module imports neither ``circles`` nor ``plan``: ``circles`` calls it, and the
plan's open proposals are looked at again by ``membership.set_proxies`` above both.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from portal.access import (
    OFFLINE_ROLES,
    can_add_offline_member,
    can_invite_to_take_place,
    can_name_proxies,
    hears_of_people,
    may_be_proxy,
)
from portal.extensions import db
from portal.models import (
    Circle,
    Invitation,
    Membership,
    MembershipStatus,
    Role,
    User,
    membership_proxies,
)
from portal.models.types import utcnow
from portal.sanitize import clean_line
from portal.services import Forbidden, ServiceError, notifications, require_name
from portal.services.history import record
from portal.tokens import new_token

# A stand-in's username: "~" is never in a chosen username (accounts.USERNAME_RE), and
# the rest is 128 random bits, so nobody can guess it or sign up with it.
STANDIN_PREFIX = "~offline-"
# Not an Argon2 hash: verifying any password against it fails (InvalidHashError).
UNUSABLE_PASSWORD = "!offline"


def _standin() -> User:
    user = User(
        name="",
        username=STANDIN_PREFIX + secrets.token_hex(16),
        email=None,
        password_hash=UNUSABLE_PASSWORD,
        offline=True,
        digest_period="off",
        direct_email=False,
    )
    db.session.add(user)
    db.session.flush()
    return user


def _role(role) -> Role:
    try:
        role = Role(role)
    except ValueError:
        raise ServiceError(_l("Please choose a role from the list."), "role") from None
    if role not in OFFLINE_ROLES:
        raise ServiceError(_l("Please choose a role from the list."), "role")
    return role


def add_offline_member(circle: Circle, acting: Membership, *, name: str, role) -> Membership:
    """Add someone without internet: a name and a role, nothing else."""
    if not can_add_offline_member(acting):
        raise Forbidden
    role = _role(role)
    name = require_name(name, message=_l("Please write the name the circle will see."))
    member = Membership(
        circle_id=circle.id,
        user_id=_standin().id,
        display_name=name,
        role=role,
        offline=True,
    )
    db.session.add(member)
    db.session.flush()
    record(circle, "offline_added", actor=acting, subject=member, role=role.value)
    told = db.session.scalars(
        select(Membership).where(
            Membership.circle_id == circle.id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.id.not_in((member.id, acting.id)),
        )
    ).all()
    notifications.notify(
        [m for m in told if hears_of_people(m)],
        "people",
        ref_id=member.id,
        actor=member,
        data={"op": "joined"},
    )
    return member


# --- Who may act for a member ------------------------------------------------------------


def proxy_choices(member: Membership) -> list[Membership]:
    """Whom ``member`` may name to act for them: the circle's active central persons and
    plan keepers, not themself."""
    others = db.session.scalars(
        select(Membership)
        .where(
            Membership.circle_id == member.circle_id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.id != member.id,
        )
        .order_by(Membership.display_name, Membership.id)
    ).all()
    return [m for m in others if may_be_proxy(m)]


def set_proxies(
    circle: Circle, acting: Membership, member: Membership, proxy_ids: list[int]
) -> None:
    """Name who may act for ``member`` (replacing the earlier choice). ``acting`` is the
    member themself, or a central person for an offline member. The plan's open
    proposals keep the voters fixed when they were made; ``membership.set_proxies``
    looks at them again, since an offline member left with nobody to answer for them
    no longer blocks a change."""
    if not can_name_proxies(acting, member):
        raise Forbidden
    allowed = {m.id: m for m in proxy_choices(member)}
    wanted = list(dict.fromkeys(proxy_ids))
    if any(i not in allowed for i in wanted):
        raise ServiceError(_l("Please choose people from the list."), "proxies")
    before = {p.id for p in member.proxies}
    member.proxies = [allowed[i] for i in wanted]
    db.session.flush()
    if before != set(wanted):
        record(
            circle,
            "proxies_set",
            actor=acting,
            subject=member,
            proxy_ids=wanted,
        )


# --- Taking an offline member's place ---------------------------------------------------


def invite_to_take_place(
    circle: Circle, acting: Membership, member: Membership, *, email: str | None = None
) -> tuple[Invitation, str]:
    """An invitation whose accepter gets ``member``'s place (an offline member), with
    their name and role; returns it and its token (shown once, never stored)."""
    if not can_invite_to_take_place(acting, member):
        raise Forbidden
    email = clean_line(email, 254).lower() or None
    if email and "@" not in email:
        raise ServiceError(_l("This does not look like an email address."), "email")
    token, digest = new_token()
    now = utcnow()
    inv = Invitation(
        circle_id=circle.id,
        token_hash=digest,
        name=member.display_name,
        role=member.role,
        supporter_of=member.supporter_of,
        # Whom an offline supporter supports stays with the place (the private line
        # opens once both people come in themselves: ``access.pair_stands``).
        supports_id=member.supports_id,
        email=email,
        invited_by_id=acting.id,
        created_at=now,
        issued_at=now,
        expires_at=now + timedelta(days=current_app.config["INVITATION_VALID_DAYS"]),
        takes_place_of_id=member.id,
    )
    db.session.add(inv)
    db.session.flush()
    record(
        circle,
        "invited",
        actor=acting,
        subject=member,
        invitation_id=inv.id,
        name=inv.name,
        role=inv.role.value,
        takes_place=True,
    )
    return inv, token


def take_place(inv: Invitation, user: User, name: str) -> Membership:
    """``user`` accepts an invitation made for an offline member: the membership, with
    all its history (ticks, answers, the commitments that name it), becomes theirs,
    and the stand-in account goes. Refused plainly when the account is, or was, in
    the circle before (one membership per person and circle; someone in it now has
    been told so by ``circles.redeem_invitation`` already)."""
    member = db.session.get(Membership, inv.takes_place_of_id)
    if (
        member is None
        or member.circle_id != inv.circle_id
        or not member.is_active
        or not member.offline
    ):
        raise ServiceError(_l("This invitation no longer works."))
    earlier = db.session.scalar(
        select(Membership).where(
            Membership.circle_id == inv.circle_id, Membership.user_id == user.id
        )
    )
    if earlier is not None:
        raise ServiceError(
            _l(
                "Your account was in this circle before, so it cannot take %(name)s's "
                "place. Please open the invitation with another account.",
                name=member.display_name,
            )
        )
    standin = member.user_id
    # One conditional UPDATE, as the invitation's spend: two links made for the same
    # place and used at the same instant are two different invitations, so each spend
    # wins its own row; only one of them may win the place (the other finds it taken
    # and is rolled back by the caller, its new account with it).
    taken = db.session.execute(
        update(Membership)
        .where(
            Membership.id == member.id,
            Membership.offline.is_(True),
            Membership.status == MembershipStatus.ACTIVE,
        )
        .values(user_id=user.id, offline=False)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise ServiceError(_l("This invitation no longer works."))
    db.session.expire(member)
    # Who answers for them was a central person's choice, made while they could not
    # say it themselves. From now on only people they name may act for them
    # (``access.can_name_proxies``): they start with nobody, and can name them again.
    member.proxies = []
    member.display_name = clean_line(name, 80) or member.display_name
    db.session.flush()
    db.session.execute(delete(User).where(User.id == standin, User.offline.is_(True)))
    record(inv.circle, "took_place", subject=member)
    return member


def forget_proxy(member: Membership) -> None:
    """``member`` is out of the circle: they answer for nobody any more, and nobody for
    them (coming back with a new invitation starts afresh)."""
    db.session.execute(
        delete(membership_proxies).where(
            (membership_proxies.c.proxy_id == member.id)
            | (membership_proxies.c.membership_id == member.id)
        )
    )
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, Membership) and loaded.circle_id == member.circle_id:
            db.session.expire(loaded, ["proxies"])
