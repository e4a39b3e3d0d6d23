"""Circles: creating them, inviting people, managing members, handing over."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import available_timezones

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import events
from portal.access import (
    can_hold_family_tasks,
    can_join_other_circle,
    can_join_with,
    can_pass_conditions_on,
    can_reissue_invitation,
    can_use_invitation,
    hears_of_people,
    takes_over_circle,
)
from portal.extensions import db
from portal.models import (
    INVITABLE_ROLES,
    Circle,
    Invitation,
    Membership,
    MembershipStatus,
    Plan,
    ReentryToken,
    Role,
    User,
)
from portal.models.types import utcnow
from portal.sanitize import clean_line, clean_text
from portal.services import ServiceError, lines, notifications, offline, require_name
from portal.services.history import record
from portal.tokens import hash_token, new_token

LANGUAGES = ("en", "nl", "fr")


def validate_circle_fields(title: str, language: str, timezone: str) -> None:
    if not clean_line(title, 120):
        raise ServiceError(_l("Please give the circle a name."), "title")
    if language not in LANGUAGES:
        raise ServiceError(_l("Please choose a language from the list."), "language")
    if timezone not in available_timezones():
        raise ServiceError(_l("Please choose a time zone from the list."), "timezone")


def create_circle(
    *,
    title: str,
    question: str = "",
    language: str = "nl",
    timezone: str = "Europe/Amsterdam",
    coordinator: User | None = None,
    coordinator_name: str | None = None,
) -> tuple[Circle, Membership | None, str | None]:
    """Open a circle.

    With a ``coordinator`` account (the web), they become its coordinator at once.
    Without one (the command line), an invitation for the coordinator is created and
    its token returned.
    """
    validate_circle_fields(title, language, timezone)
    circle = Circle(
        title=clean_line(title, 120),
        question=clean_text(question).strip()[:1000],
        language=language,
        timezone=timezone,
    )
    db.session.add(circle)
    db.session.flush()
    db.session.add(Plan(circle_id=circle.id, version=0))  # a draft, so reading never writes
    db.session.flush()
    if coordinator is not None:
        membership = Membership(
            circle_id=circle.id,
            user_id=coordinator.id,
            display_name=clean_line(coordinator_name, 80)
            or clean_line(coordinator.name, 80)
            or coordinator.username,
            role=Role.COORDINATOR,
        )
        db.session.add(membership)
        db.session.flush()
        record(circle, "created", actor=membership)
        return circle, membership, None
    name = clean_line(coordinator_name, 80) or "Coordinator"
    _, token = _new_invitation(circle, None, name, Role.COORDINATOR)
    record(circle, "created")
    return circle, None, token


def update_circle(circle: Circle, acting: Membership, *, title, question, language, timezone):
    validate_circle_fields(title, language, timezone)
    circle.title = clean_line(title, 120)
    circle.question = clean_text(question).strip()[:1000]
    circle.language = language
    circle.timezone = timezone
    record(circle, "settings_changed", actor=acting)


def _new_invitation(
    circle: Circle,
    acting: Membership | None,
    name: str,
    role: Role,
    supporter_of: str | None = None,
    email: str | None = None,
) -> tuple[Invitation, str]:
    token, digest = new_token()
    days = current_app.config["INVITATION_VALID_DAYS"]
    now = utcnow()
    inv = Invitation(
        circle_id=circle.id,
        token_hash=digest,
        name=require_name(name),
        role=role,
        supporter_of=clean_line(supporter_of, 80) or None,
        email=clean_line(email, 254).lower() or None,
        invited_by_id=acting.id if acting else None,
        created_at=now,
        issued_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(inv)
    db.session.flush()
    return inv, token


def invite(
    circle: Circle,
    acting: Membership | None,
    *,
    name: str,
    role: Role | str,
    supporter_of: str | None = None,
    email: str | None = None,
    simple_mode: bool = False,
    supports=None,
) -> tuple[Invitation, str]:
    """Create an invitation; return it and its token (shown once, never stored).
    ``simple_mode`` switches simple mode on for the account made with the link.

    A supporter is invited as the supporter of someone in the circle: ``supports``, a
    membership id from the form (issue 14: the private line between the two follows
    it; the name is kept for display). ``supporter_of`` alone (words, no line) is for
    the command line and the demo.

    Who takes over a professional's conditions is not named here: the family would
    name it, and the conditions are the professionals' (``pass_conditions_on``).
    """
    try:
        role = Role(role)
    except ValueError:
        raise ServiceError(_l("Please choose a role from the list."), "role") from None
    if role not in INVITABLE_ROLES:
        raise ServiceError(_l("Please choose a role from the list."), "role")
    require_name(name, message=_l("Please write the name the circle will see."))
    supported = None
    if role == Role.SUPPORTER and (supports not in (None, "") or not supporter_of):
        supported = lines.supported_member(circle.id, supports)
        supporter_of = supported.display_name
    if email and "@" not in email:
        raise ServiceError(_l("This does not look like an email address."), "email")
    inv, token = _new_invitation(
        circle, acting, name, role, supporter_of if role == Role.SUPPORTER else None, email
    )
    inv.simple_mode = bool(simple_mode)
    inv.supports_id = supported.id if supported is not None else None
    # The id makes erasing the name exact (``services.erasure``); the name is shown.
    record(circle, "invited", actor=acting, invitation_id=inv.id, name=inv.name, role=role.value)
    return inv, token


def pass_conditions_on(circle: Circle, acting: Membership, to: Membership) -> None:
    """``acting`` (a professional) names ``to`` as the one who takes over from them:
    ``to`` may then remove the conditions ``acting`` set. One at a time: naming someone
    else takes it back from whoever had it before. Recorded in the circle's history."""
    if not can_pass_conditions_on(acting, to):
        raise ServiceError(_l("Please choose another professional of this circle."), "to")
    db.session.execute(
        update(Membership)
        .where(
            Membership.circle_id == circle.id,
            Membership.replaces_membership_id == acting.id,
            Membership.id != to.id,
        )
        .values(replaces_membership_id=None)
    )
    to.replaces_membership_id = acting.id
    record(circle, "conditions_passed_on", actor=acting, subject=to)


def pass_on_choices(acting: Membership) -> list[Membership]:
    """The professionals ``acting`` may name to take over their conditions."""
    others = db.session.scalars(
        select(Membership)
        .where(
            Membership.circle_id == acting.circle_id,
            Membership.role == Role.PROFESSIONAL,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.id != acting.id,
        )
        .order_by(Membership.display_name, Membership.id)
    ).all()
    return [m for m in others if can_pass_conditions_on(acting, m)]


def reissue_invitation(inv: Invitation, acting: Membership) -> str:
    """A new link for the same invitation; the old link stops working at once.

    Whoever makes the new link holds it from now on, so it becomes their invitation:
    it stops when they go (``_stop_invitation_links``) and is checked against them when
    used (``access.can_use_invitation``).

    A stopped (revoked) invitation stays stopped: someone in the circle decided that
    this person should not come in with it, and another manager must not undo that
    quietly. Inviting them again is a new invitation, in the circle's history.
    """
    if inv.redeemed_at is not None:
        raise ServiceError(_l("This person has already joined."))
    if inv.revoked_at is not None:
        raise ServiceError(
            _l(
                "This invitation was stopped, so it cannot get a new link. Please make a new "
                "invitation instead."
            )
        )
    if not can_reissue_invitation(acting, inv):
        raise ServiceError(_l("Only a central person can make a new link for this person."))
    token, digest = new_token()
    now = utcnow()
    inv.token_hash = digest
    inv.opened_at = None
    inv.link_stopped_at = None
    inv.invited_by_id = acting.id
    inv.issued_at = now
    inv.expires_at = now + timedelta(days=current_app.config["INVITATION_VALID_DAYS"])
    return token


def revoke_invitation(inv: Invitation, acting: Membership) -> None:
    if inv.redeemed_at is not None:
        raise ServiceError(_l("This person has already joined."))
    inv.revoked_at = utcnow()


def find_invitation(token: str) -> Invitation | None:
    """The invitation if its token can still be used, else None (one answer for all)."""
    inv = db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if inv is None or not can_use_invitation(inv):
        return None
    return inv


def still_to_join(circle: Circle) -> list[Invitation]:
    """Invitations whose link the circle stopped before anyone used it: the people the
    family is still waiting for, who need a new link."""
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.circle_id == circle.id,
                Invitation.link_stopped_at.is_not(None),
                Invitation.redeemed_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.created_at)
        )
    )


def _stop_invitation_links(circle: Circle, *, issued_by: Membership | None = None) -> None:
    """Stop the links of this circle's unused invitations (only those ``issued_by`` made
    the current link of, when given).

    The old token dies for good: its hash is replaced by the hash of a new random token
    that nobody ever sees. The invitation itself stays, marked, so the central persons
    see whom the family is still waiting for and can make a new link
    (``reissue_invitation``). Invitations for a coordinator are revoked outright: after
    the handover there is no coordinator to come.
    """
    now = utcnow()
    q = select(Invitation).where(
        Invitation.circle_id == circle.id,
        Invitation.redeemed_at.is_(None),
        Invitation.revoked_at.is_(None),
    )
    if issued_by is not None:
        q = q.where(Invitation.invited_by_id == issued_by.id)
    for inv in db.session.scalars(q):
        inv.token_hash = new_token()[1]
        inv.opened_at = None
        if inv.role == Role.COORDINATOR:
            inv.revoked_at = now
        elif inv.link_stopped_at is None:
            inv.link_stopped_at = now


def _stop_reentry_links(member: Membership) -> None:
    """A "way back in" link dies with its maker's place in the circle, and a link made
    for this person in this circle dies with theirs."""
    db.session.execute(
        update(ReentryToken)
        .where(
            ReentryToken.used_at.is_(None),
            (ReentryToken.issued_by_id == member.id)
            | (
                (ReentryToken.user_id == member.user_id)
                & (ReentryToken.circle_id == member.circle_id)
            ),
        )
        .values(used_at=utcnow())
    )


def mark_opened(inv: Invitation) -> None:
    if inv.opened_at is None:
        inv.opened_at = utcnow()


def redeem_invitation(
    token: str, user: User, display_name: str | None = None, *, new_account: bool = False
) -> Membership:
    """Spend the invitation and add ``user`` to its circle. An account made with the
    link (``new_account``) starts in simple mode when the invitation says so; an
    existing account keeps the person's own setting.

    The spend is one conditional UPDATE, so of many concurrent redemptions exactly one
    matches the row; the others find it already used.
    """
    now = utcnow()
    row = db.session.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == hash_token(token),
            Invitation.redeemed_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.link_stopped_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(redeemed_at=now)
        .returning(Invitation.id)
    ).first()
    if row is None:
        raise ServiceError(_l("This invitation no longer works."))
    inv = db.session.get(Invitation, row[0])
    circle = inv.circle
    name = clean_line(display_name, 80) or inv.name
    membership = db.session.scalar(
        select(Membership).where(Membership.circle_id == circle.id, Membership.user_id == user.id)
    )
    if membership is not None and membership.is_active:
        raise ServiceError(_l("You are already in this circle."))
    # The rules are asked again here, where the link is spent: its maker may have gone
    # since it was opened, and a coordinator who handed over, or someone who went, does
    # not come back with a link made before (access.can_join_with).
    if not can_join_with(inv, user):
        raise ServiceError(_l("This invitation no longer works."))
    # Raised after the spend like the others: the caller rolls back, so the
    # invitation stays unused and the join page can be opened again later.
    if not can_join_other_circle(user, circle.id):
        raise ServiceError(
            _l(
                "Please choose your own password first (My account → Password), then open "
                "the invitation again. Someone in your other circle helped you set the one "
                "you have now."
            )
        )
    try:
        # One account with two links into the circle, used at the same instant (two
        # browsers): both pass the check above, and the database's one membership per
        # person and circle lets one in. The other is told, not shown an error page.
        with db.session.begin_nested():
            if inv.takes_place_of_id is not None:  # an offline member's place and history
                membership = offline.take_place(inv, user, name)
            else:
                membership = _fill_membership(membership, inv, user, name, now)
    except IntegrityError:
        raise ServiceError(_l("You are already in this circle.")) from None
    inv.membership_id = membership.id
    # Whom a supporter supports, if they still can be (issue 14: the private line).
    lines.supporter_joined(membership, inv.supports_id)
    # A "way back in" link made in a circle was allowed because the person reached no
    # further than that circle. Now they reach further: every such link is spent.
    db.session.execute(
        update(ReentryToken)
        .where(
            ReentryToken.user_id == user.id,
            ReentryToken.circle_id.is_not(None),
            ReentryToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if inv.role == Role.COORDINATOR:
        user.can_create_circles = True
    if new_account and inv.simple_mode:
        user.simple_mode = True
    record(circle, "joined", subject=membership, role=inv.role.value)
    tell_people(circle, membership, "joined", actor=membership)
    return membership


def _fill_membership(membership, inv: Invitation, user: User, name: str, now) -> Membership:
    if membership is None:
        membership = Membership(circle_id=inv.circle_id, user_id=user.id)
        db.session.add(membership)
    membership.display_name = name
    membership.role = inv.role
    membership.supporter_of = inv.supporter_of
    # Someone coming back takes over from nobody until a professional names them again.
    membership.replaces_membership_id = None
    membership.status = MembershipStatus.ACTIVE
    membership.is_plan_keeper = False
    membership.in_followup_group = False
    membership.joined_at = now
    membership.ended_at = None
    db.session.flush()
    return membership


def tell_people(
    circle: Circle, subject: Membership, op: str, actor: Membership | None = None
) -> None:
    """News that ``subject`` joined, left or was removed ("op"), for the circle's people
    (``access.hears_of_people``), never for the person themself nor for ``actor`` (who
    removed them). The line's actor is the ``subject``: the news page names the actor,
    and "Sanne is no longer in ..." must name who went, not who removed them."""
    # Asked of the database, not ``circle.memberships``: loading that collection here,
    # while people join one after another in one session, would leave it stale.
    told = [
        m
        for m in members_in_order(circle)
        if hears_of_people(m) and m.id != subject.id and (actor is None or m.id != actor.id)
    ]
    notifications.notify(told, "people", ref_id=subject.id, actor=subject, data={"op": op})


def end_membership(member: Membership, status: MembershipStatus) -> None:
    """The person is out of the circle: their access, tasks and links end with it. What it
    means for the plan is for ``services.membership``, which calls this."""
    member.status = status
    member.ended_at = utcnow()
    member.is_plan_keeper = False
    member.in_followup_group = False
    _stop_reentry_links(member)
    offline.forget_proxy(member)  # answers for nobody, nobody for them (issue 14)
    if member.role in (Role.CENTRAL, Role.COORDINATOR):
        # They hold the invitation links they made: those stop, and the central
        # persons who remain see the people under "Still to join".
        _stop_invitation_links(member.circle, issued_by=member)
    events.disconnect_user(member.user_id)


def set_flags(
    circle: Circle, acting: Membership, member: Membership, *, plan_keeper: bool, followup: bool
) -> None:
    if not member.is_active:
        raise ServiceError(_l("This person is no longer in the circle."))
    if (plan_keeper or followup) and not can_hold_family_tasks(member):
        raise ServiceError(_l("Only people from the family's circle can have these tasks."))
    if member.is_plan_keeper != plan_keeper:
        record(
            circle,
            "plan_keeper_on" if plan_keeper else "plan_keeper_off",
            actor=acting,
            subject=member,
        )
    if member.in_followup_group != followup:
        record(circle, "followup_on" if followup else "followup_off", actor=acting, subject=member)
    member.is_plan_keeper = plan_keeper
    member.in_followup_group = followup


def set_professionals_read_chat(circle: Circle, acting: Membership, allowed: bool) -> None:
    if circle.professionals_read_chat == allowed:
        return
    circle.professionals_read_chat = allowed
    record(circle, "pro_chat_on" if allowed else "pro_chat_off", actor=acting)
    if not allowed:
        for m in circle.memberships:
            if m.is_active and m.role == Role.PROFESSIONAL:
                events.disconnect_user(m.user_id)


def active_central_count(circle: Circle) -> int:
    return sum(1 for m in circle.memberships if takes_over_circle(m))


def hand_over(circle: Circle, coordinator: Membership) -> None:
    """The coordinator withdraws for real: their membership ends, access goes with it."""
    if coordinator.role != Role.COORDINATOR or not coordinator.is_active:
        raise ServiceError(_l("Only the coordinator can hand over."))
    if active_central_count(circle) == 0:
        raise ServiceError(
            _l("Someone must be the central person first. Invite them and wait until they join.")
        )
    circle.handed_over_at = utcnow()
    # Withdrawal is real. The coordinator saw, printed or kept every invitation link
    # made so far, and any "way back in" link they made would let them set a member's
    # password: all of those stop now (``end_membership`` stops the way-back-in links;
    # here every unused invitation, whoever made it). The central persons see the
    # people still to come under "Still to join" and make them new links.
    end_membership(coordinator, MembershipStatus.HANDED_OVER)
    _stop_invitation_links(circle)
    record(circle, "handed_over", actor=coordinator)


def active_members(circle: Circle) -> list[Membership]:
    return [m for m in circle.memberships if m.is_active]


def members_in_order(circle: Circle) -> list[Membership]:
    """The circle's people as the people page and the home list them: by role, then name."""
    return db.session.scalars(
        select(Membership)
        .where(Membership.circle_id == circle.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Membership.role, Membership.display_name)
    ).all()
