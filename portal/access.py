"""The one place that decides who may see what.

Every route and socket handler gets a circle (or something inside it) through an
``access_*`` function, which returns it or raises. A circle you may not see answers
exactly like one that does not exist: the same 404, byte for byte. ``can_*``
functions answer yes or no for a membership you already hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, g
from flask_login import current_user
from sqlalchemy import bindparam, func, or_, select

from portal.extensions import db
from portal.models import (
    Circle,
    Invitation,
    Membership,
    MembershipStatus,
    ProposalStatus,
    PushSubscription,
    ReentryToken,
    Role,
    User,
)
from portal.models.types import utcnow


def access_circle(user, circle_id: int) -> tuple[Circle, Membership]:
    """Return ``(circle, membership)`` for an active member, else 404."""
    if user is None or not user.is_authenticated:
        abort(404)
    row = db.session.execute(
        select(Circle, Membership)
        .join(Membership, Membership.circle_id == Circle.id)
        .where(
            Circle.id == circle_id,
            Membership.user_id == user.id,
            Membership.status == MembershipStatus.ACTIVE,
        )
    ).first()
    if row is None:
        abort(404)
    return row[0], row[1]


def load_circle(circle_id: int) -> tuple[Circle, Membership]:
    """access_circle for the signed-in person, remembered for templates and time zones."""
    circle, me = access_circle(current_user, circle_id)
    g.circle, g.membership = circle, me
    return circle, me


def access_member(circle: Circle, membership_id: int) -> Membership:
    """A membership of this circle (any status), else 404."""
    member = db.session.get(Membership, membership_id)
    if member is None or member.circle_id != circle.id:
        abort(404)
    return member


def access_invitation(circle: Circle, invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.circle_id != circle.id:
        abort(404)
    return invitation


def access_plan_item(circle: Circle, model, item_id: int):
    """A commitment, agreement, condition or proposal of this circle, else 404."""
    item = db.session.get(model, item_id)
    if item is None or item.circle_id != circle.id:
        abort(404)
    return item


def access_device(user, device_id: int | None) -> PushSubscription:
    """One of the signed-in person's own push devices, else 404 (someone else's device
    answers exactly like one that does not exist)."""
    if user is None or not user.is_authenticated or device_id is None:
        abort(404)
    device = db.session.get(PushSubscription, device_id)
    if device is None or device.user_id != user.id:
        abort(404)
    return device


def require(allowed: bool) -> None:
    """For members who can see the circle but may not do this: 403."""
    if not allowed:
        abort(403)


def can_manage(m: Membership) -> bool:
    """Invite, remove, mark flags: central persons, and the coordinator until handover."""
    return m.is_active and m.role in (Role.CENTRAL, Role.COORDINATOR)


def can_enter_plan(m: Membership) -> bool:
    """Entering the plan before it is agreed: the coordinator (until handover) or a
    central person. Afterwards changes go through consent (services.plan)."""
    return can_manage(m)


def can_edit_circle(m: Membership) -> bool:
    return can_manage(m)


def can_decide_professional_access(m: Membership) -> bool:
    """Only central persons decide what professionals see and whether presence shows."""
    return m.is_active and m.role == Role.CENTRAL


def can_hand_over(m: Membership) -> bool:
    return m.is_active and m.role == Role.COORDINATOR


def can_issue_reentry(m: Membership, member: Membership) -> bool:
    """A "way back in" link sets the person's password, which opens every circle they
    are in. So a manager may make one only for an account that reaches no further than
    this circle: not the coordinator (nor anyone who can open circles), and not someone
    who is active in another circle (a social worker in many)."""
    if not (can_manage(m) and member.is_active and member.circle_id == m.circle_id):
        return False
    if member.role == Role.COORDINATOR or member.user.can_create_circles:
        return False
    elsewhere = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.user_id == member.user_id,
            Membership.circle_id != member.circle_id,
            Membership.status == MembershipStatus.ACTIVE,
        )
    )
    return not elsewhere


def can_use_reentry(token: ReentryToken) -> bool:
    """Whether a "way back in" link may still set its person's password.

    A link is a promise made in the past: whatever made it valid may have changed since
    (ENGINEERING.md, "check a token's rules where it is spent"). So this is asked when
    the link is opened and again when the password is set, with the rule that was
    asked when it was made (``can_issue_reentry``), for today's memberships: the issuer
    must still be a manager of the circle, and the person must still reach no further
    than that circle. A link the person asked for by email (no circle) is theirs alone.
    Whether the token is unused and unexpired is the caller's job (the spend itself).
    """
    if token.circle_id is None:
        return token.issued_by_id is None
    issuer = token.issued_by
    if issuer is None or issuer.circle_id != token.circle_id:
        return False
    member = db.session.scalar(
        select(Membership).where(
            Membership.circle_id == token.circle_id, Membership.user_id == token.user_id
        )
    )
    if member is None:
        return False
    # Both must have been in the circle without a break since the link was made: a
    # membership row comes back when someone is invited again, with a new joined_at.
    if not (issuer.joined_at <= token.created_at and member.joined_at <= token.created_at):
        return False
    return can_issue_reentry(issuer, member)


def _invitation_still_backed(inv: Invitation) -> bool:
    """The person who made the current link can still invite, and the link is younger
    than the handover (the coordinator may have seen any link made before it)."""
    circle = inv.circle
    if circle.handed_over_at is not None:
        if inv.role == Role.COORDINATOR or inv.issued_at <= circle.handed_over_at:
            return False
    issuer = inv.invited_by
    if issuer is None:  # made on the command line by whoever runs the server
        return True
    # The maker must have been in the circle without a break since the link was made
    # (someone removed and invited again gets a new joined_at).
    return (
        issuer.circle_id == inv.circle_id
        and can_manage(issuer)
        and issuer.joined_at <= inv.issued_at
    )


def can_use_invitation(inv: Invitation) -> bool:
    """Whether an invitation link still opens its circle, for anyone (asked when the
    link is opened, and again through ``can_join_with`` when it is spent).

    Besides the link's own state (not used, stopped, revoked, expired), the person who
    made the current link must still be able to invite: a central person who left or
    was removed, or a coordinator who handed over, holds the links they made. The
    circle stops those links at the event itself; this covers a stop that was missed.
    """
    return inv.status in ("not_opened", "opened") and _invitation_still_backed(inv)


def can_join_with(inv: Invitation, user: User) -> bool:
    """Whether ``user``'s account may come in with this invitation, asked where it is
    spent (``circles.redeem_invitation``, right after the conditional UPDATE that
    checked the link's own state and marked it used).

    The link must still be backed by someone who may invite (see
    ``can_use_invitation``). A coordinator who handed over never comes back. Someone
    who left or was removed comes back only with a link made after they went (a
    central person inviting them again): a link made before, which they may have seen
    or kept, does not.
    """
    if not _invitation_still_backed(inv):
        return False
    earlier = db.session.scalar(
        select(Membership).where(
            Membership.circle_id == inv.circle_id, Membership.user_id == user.id
        )
    )
    if earlier is None or earlier.is_active:
        return True
    if earlier.status == MembershipStatus.HANDED_OVER:
        return False
    return earlier.ended_at is not None and inv.issued_at > earlier.ended_at


def can_join_other_circle(user: User, circle_id: int) -> bool:
    """Whether this account may join ``circle_id``, given how its password was set.

    A "way back in" link made in a circle was allowed because the person reached no
    further than that circle. Whoever used the link chose the password and may still
    be signed in with it (a central person helping, or taking over). Spending the link
    ends nothing of that, so the account joins no other circle until the person
    chooses their own password (which signs every other browser out) or resets it by
    email. Coming back into the circle whose link it was stays possible.
    """
    marked = user.password_set_in_circle_id
    return marked is None or marked == circle_id


def can_see_still_to_join(m: Membership) -> bool:
    """The list of people whose link the circle stopped, and making them a new one,
    is for the central persons: the family decides who still comes in after the
    coordinator or a central person went."""
    return m.is_active and m.role == Role.CENTRAL


def can_reissue_invitation(m: Membership, inv: Invitation) -> bool:
    """A new link for an invitation nobody has used. A coordinator's invitation makes a
    coordinator (who may open circles): only a coordinator passes that on, so none
    is made after the handover. A link the circle stopped is for the central persons."""
    if inv.role == Role.COORDINATOR:
        return can_hand_over(m)
    if inv.link_stopped_at is not None:
        return can_see_still_to_join(m)
    return can_manage(m)


def can_pass_conditions_on(m: Membership, to: Membership | None = None) -> bool:
    """A professional names who takes over from them (their organisation sends someone
    else): that one may then remove the conditions they set. Only the professional
    themselves names them, never the family, for the conditions are the professionals'.

    Without ``to``: whether ``m`` may name anyone at all. With ``to``: another active
    professional of the same circle who does not already take over from someone else
    (naming them must not silently take that away)."""
    if not (m.is_active and m.role == Role.PROFESSIONAL):
        return False
    if to is None:
        return True
    return (
        to.circle_id == m.circle_id
        and to.id != m.id
        and to.is_active
        and to.role == Role.PROFESSIONAL
        and to.replaces_membership_id in (None, m.id)
    )


def can_remove_condition(m: Membership, condition) -> bool:
    """A condition is the professional's who set it: only they may take it away, or the
    professional they named to take over from them (``can_pass_conditions_on``).
    Not other professionals, and not the family: the conditions are the professionals'."""
    if not (m.is_active and m.role == Role.PROFESSIONAL and m.circle_id == condition.circle_id):
        return False
    return condition.set_by_id in (m.id, m.replaces_membership_id)


def can_leave(m: Membership) -> bool:
    """The coordinator withdraws by handing over, not by leaving."""
    return m.is_active and m.role != Role.COORDINATOR


def can_be_removed(member: Membership) -> bool:
    """Nor can the coordinator be removed: they go by handing over."""
    return can_leave(member)


def can_hold_family_tasks(member: Membership) -> bool:
    """Plan keeper and the follow-up group are tasks for the family's own circle: not
    for the coordinator or a professional."""
    return member.is_active and member.role not in (Role.COORDINATOR, Role.PROFESSIONAL)


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
    membership_id, display_name, role, professionals_read_chat = row
    require(_chat_open_to(role, professionals_read_chat))
    return ChatSeat(circle_id, membership_id, display_name, user.id)


# --- The plan, meetings and chat: who may do what ---------------------------------------
# Each rule is written once, here, named for what it allows; services and views ask it.


def watches_plan(m: Membership) -> bool:
    """The central persons and the plan keeper watch how the plan goes: they hear of a
    call for help and see the help box."""
    return m.is_active and (m.role == Role.CENTRAL or m.is_plan_keeper)


def can_vote(m: Membership) -> bool:
    """Central persons, members and supporters have a say in the plan (consent)."""
    return m.is_active and m.votes


def can_change_plan(m: Membership, agreed: bool) -> bool:
    """Before version 1 the coordinator or a central person enters the plan; once it is
    agreed, every voter may propose a change."""
    return can_vote(m) if agreed else can_enter_plan(m)


def can_tick(m: Membership, c) -> bool:
    """Tick a commitment off: its own people, the central persons and the plan keeper."""
    if not m.is_active or c.circle_id != m.circle_id:
        return False
    return watches_plan(m) or any(a.id == m.id for a in c.assignees)


def can_set_conditions(m: Membership) -> bool:
    """Conditions (compulsory cases) and acceptance of a version are the professionals'."""
    return m.is_active and m.role == Role.PROFESSIONAL


def can_accept_plan(m: Membership) -> bool:
    return can_set_conditions(m)


def can_organise_meetings(m: Membership) -> bool:
    """The follow-up group, the plan keeper and the central persons propose meetings."""
    return m.is_active and (m.role == Role.CENTRAL or m.is_plan_keeper or m.in_followup_group)


def can_manage_meeting(m: Membership, meeting) -> bool:
    """Fix, reschedule, cancel: the organiser or a central person."""
    return m.is_active and (meeting.organiser_id == m.id or m.role == Role.CENTRAL)


def can_review_meeting(m: Membership, meeting) -> bool:
    """Write down how the meeting went: whoever may manage it, and the plan keeper."""
    return can_manage_meeting(m, meeting) or (m.is_active and m.is_plan_keeper)


def can_remove_message(m: Membership, message) -> bool:
    """The author removes their own; a central person may remove any hurtful message."""
    return m.is_active and (message.author_id == m.id or m.role == Role.CENTRAL)


# --- v-plan ---


def can_take_on_commitments(m: Membership) -> bool:
    """Who may do or check a commitment: everyone active in the circle but the
    coordinator, who sets the circle up and then withdraws."""
    return m.is_active and m.role != Role.COORDINATOR


# --- v-views ---


def can_attend_meetings(m: Membership) -> bool:
    """Who may be invited to a follow-up meeting: everyone in the circle but the
    independent coordinator, who withdraws once the plan is made."""
    return can_take_on_commitments(m)


def takes_over_circle(m: Membership) -> bool:
    """After the handover the central persons look after the circle."""
    return m.is_active and m.role == Role.CENTRAL


# --- News: who hears of what (portal.services.notifications.notify) -------------------
# Each kind of news goes to the people these rules name. ``notify`` then leaves out the
# person who caused it, anyone no longer active (left, removed, a coordinator after the
# handover) and whoever muted the circle or switched the kind off.


def hears_of_help(m: Membership) -> bool:
    """A call for help ("I need help" on a commitment) reaches those who watch the plan:
    the central persons and the plan keeper(s)."""
    return watches_plan(m)


def consent_waits_for(m: Membership, proposal) -> bool:
    """An open proposal waits for the consent of each of its voters (fixed when it was
    made) who has not answered yet and can still vote."""
    return (
        can_vote(m)
        and proposal.status == ProposalStatus.OPEN
        and any(v.membership_id == m.id and v.answer is None for v in proposal.votes)
    )


def hears_of_decision(m: Membership, proposal) -> bool:
    """A decided proposal (agreed, or withdrawn) concerns the people who had a say in it:
    its voters and its proposer, while they are in the circle."""
    if not m.is_active or m.circle_id != proposal.circle_id:
        return False
    return m.id == proposal.proposer_id or any(v.membership_id == m.id for v in proposal.votes)


def may_answer_poll(m: Membership, meeting) -> bool:
    """A date poll waits for the answer of everyone invited who is still in the circle."""
    return hears_of_meeting(m, meeting) and meeting.status == "poll"


def hears_of_meeting(m: Membership, meeting) -> bool:
    """A meeting fixed, moved or cancelled: the people invited to it, while in the circle."""
    return (
        m.is_active
        and m.circle_id == meeting.circle_id
        and any(i.membership_id == m.id for i in meeting.invitees)
    )


def hears_of_people(m: Membership) -> bool:
    """Someone joined or left: news for the family's circle (and the coordinator until the
    handover, who invited them), not for professionals. A professional sees the people
    when they open the circle; who comes and goes in a family's circle is the family's
    business, and a social worker in many circles would hear of every family's changes."""
    return m.is_active and m.role != Role.PROFESSIONAL


def access_sheet_of(circle: Circle, m: Membership, member_id: int) -> Membership:
    """The member whose sheet ``m`` prints: 404 if not of this circle, else 403 unless
    ``can_print_sheet_for``."""
    member = access_member(circle, member_id)
    require(can_print_sheet_for(m, member))
    return member


def can_print_sheet_for(m: Membership, member: Membership) -> bool:
    """The "what is happening" sheet a central person prints for a member without
    internet: the member's own commitments and the next meeting. Central persons only,
    for someone of the family's circle who is active in their own circle (not the
    coordinator, not a professional: they work online)."""
    return (
        m.is_active
        and m.role == Role.CENTRAL
        and member.circle_id == m.circle_id
        and member.is_active
        and member.role not in (Role.COORDINATOR, Role.PROFESSIONAL)
    )


# The person who ticked may take it back for a few minutes (a mis-tap), not later.
UNDO_WINDOW = timedelta(minutes=5)


def can_undo_tick(m: Membership, completion) -> bool:
    """Whether ``m`` can still take this tick back: their own, within the undo window."""
    return (
        completion.by_id == m.id
        and completion.undone_at is None
        and utcnow() - completion.at <= UNDO_WINDOW
    )
