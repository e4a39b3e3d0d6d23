"""Who may see a circle and its people, and who may invite, remove, hand over and
open links (invitations, "way back in")."""

from __future__ import annotations

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden as HTTPForbidden

from portal.access.acting import can_invite_to_take_place
from portal.extensions import db
from portal.models import (
    Circle,
    Invitation,
    Membership,
    MembershipStatus,
    PushSubscription,
    ReentryToken,
    Role,
    User,
)


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
    refuse_if_closed(row[0].closed_at)
    return row[0], row[1]


# --- A closed circle is read-only ---------------------------------------------------------


class CircleClosed(HTTPForbidden):
    """A change asked of a closed circle, by someone in it: the "This circle is closed"
    page over HTTP (``portal.errors``), ``closed`` over the socket (``protocol.answer_for``).
    Outsiders never get here: they have had the 404 already."""

    description = "closed"


def writing() -> bool:
    """Whether the request in hand asks for a change: over HTTP every POST except the
    views marked ``@views.open_when_closed`` (reopen, keep, leave...); over the socket
    the events registered with ``protocol.event(name, writes=True)``, which mark the
    request. Outside a request (the command line, the scheduled runs): no, the caller
    is the server itself."""
    if not has_request_context():
        return False
    marked = getattr(request, "kring_writes", None)
    if marked is not None:
        return marked
    if request.method != "POST":
        return False
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "open_when_closed", False)


def refuse_if_closed(closed_at) -> None:
    """The one rule that makes a closed circle read-only, asked by every ``access_*``
    function once it knows the person is in the circle (from the row it already read:
    no statement of its own)."""
    if closed_at is not None and writing():
        raise CircleClosed()


def can_close_circle(m: Membership) -> bool:
    """Closing the circle, and reopening it before its content is deleted: the family
    decides, so the central persons (not the coordinator, not a professional)."""
    return m.is_active and m.role == Role.CENTRAL


def can_reopen_circle(m: Membership) -> bool:
    circle = m.circle
    return can_close_circle(m) and circle.closed_at is not None and circle.purged_at is None


def can_keep_circle(m: Membership) -> bool:
    """Answering "keep it" when Kring asks whether an idle circle is still needed."""
    circle = m.circle
    return can_close_circle(m) and circle.closed_at is None and circle.idle_asked_at is not None


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


def can_export_circle(m: Membership) -> bool:
    """Downloading the whole circle (chat, plan, meetings, people): central persons only.
    The family takes it elsewhere; the coordinator and professionals do not."""
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
    # Someone without internet has a stand-in account that never signs in: the way in
    # for them is an invitation that takes their place (``access.can_invite_to_take_place``).
    if member.offline or member.user.offline:
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
    if circle.closed_at is not None:  # nobody comes into a closed circle
        return False
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


def looks_are_recorded(m: Membership) -> bool:
    """Professionals come from outside the family: what they open is written in the
    circle's access log (issue 13, docs/privacy.md)."""
    return m.is_active and m.role == Role.PROFESSIONAL


def can_read_whole_access_log(m: Membership) -> bool:
    """Everyone in the circle but the professionals sees who from outside looked; a
    professional sees only their own looks."""
    return m.is_active and m.role != Role.PROFESSIONAL


def can_reissue_invitation(m: Membership, inv: Invitation) -> bool:
    """A new link for an invitation nobody has used. A coordinator's invitation makes a
    coordinator (who may open circles): only a coordinator passes that on, so none
    is made after the handover. A link the circle stopped is for the central persons.
    A link that takes an offline member's place is made only as the first one was
    (``can_invite_to_take_place``): by a central person, while the place is still there."""
    if inv.role == Role.COORDINATOR:
        return can_hand_over(m)
    if inv.takes_place_of_id is not None:
        member = db.session.get(Membership, inv.takes_place_of_id)
        return member is not None and can_invite_to_take_place(m, member)
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
