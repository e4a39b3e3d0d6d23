"""Leave, and be forgotten (issue 13, ``/account/delete``, docs/privacy.md).

``erase_account`` ends an account and takes the person's name, username and email out
of every row that held them. The ``users`` row and each membership stay as empty
shells, because messages, ticks and plan versions point at them: a membership whose
stored name is empty reads "a former member" (``Membership.display_name``).

Where a name was copied into a row (plan versions, meeting reviews, the circle's
history, invitations), it is rewritten here, by id where the row carries one
(``who_ids``, ``checked_by_id``, ``set_by_id``, ``agreed_by_ids``, ``invitation_id``)
and by the exact name in that circle for older rows. An erased name is stored as the
empty string; pages show it as "a former member" (the ``person`` filter).

Like every service it flushes and never commits; the view commits, then checkpoints
SQLite's write-ahead log (``portal.extensions.forget_old_pages``).
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import delete, func, or_, select, update

from portal import events
from portal.access import hears_of_needs_person
from portal.extensions import db
from portal.models import (
    CalendarFeed,
    CircleEvent,
    Commitment,
    EmailChange,
    Invitation,
    LoginSession,
    MeetingReview,
    Membership,
    Message,
    MessageRevision,
    Notification,
    NotificationSwitch,
    OutboxMail,
    PlanVersion,
    Proposal,
    PushDelivery,
    PushSubscription,
    ReentryToken,
    SignIn,
    User,
)
from portal.models.plan import commitment_assignees
from portal.models.types import utcnow
from portal.services import accounts, lines, notifications
from portal.services import membership as membership_svc

log = logging.getLogger(__name__)

# What an erased person's @username becomes in messages. It cannot be anyone's
# username: ``accounts.validate_username`` refuses it as if it were taken.
FORMER_MENTION = f"@{accounts.FORMER_MEMBER}"
# Usernames of erased accounts: "~erased-<id>". "~" is never in a chosen username
# (``accounts.USERNAME_RE``), and nothing of the old one is kept.
ERASED_PREFIX = "~erased-"
# A password hash nothing verifies against (not an Argon2 string).
UNUSABLE_PASSWORD = "!erased"


def erase_account(user: User, *, delete_messages: bool = False) -> None:
    """End ``user``'s account and remove their name, username and email everywhere.

    Every membership ends as leaving does (news for the family, open proposals looked
    at again), even for the last central person, whom the leave rules would keep: the
    right to be forgotten does not wait for someone else to be invited. The circle
    stays readable by its people, and the organisation can invite a new central person
    (``kring invite``). Messages stay, from "a former member", unless
    ``delete_messages``: then their texts and earlier versions are emptied and the
    messages read "message removed", keeping their numbers. Messages on a private line
    (issue 14) are treated the same way.
    """
    old_username = user.username
    memberships = list(
        db.session.scalars(
            select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
        )
    )
    for m in memberships:
        if m.is_active:
            membership_svc.leave_circle(m.circle, m, erasing=True)
    db.session.flush()
    for m in memberships:
        names = _names_in_circle(m, user)
        _forget_in_circle(m, names)
        if delete_messages:
            _empty_messages(m)
            lines.empty_messages_of(m)  # the private lines' too (issue 14)
        _ask_for_new_person(m)
    _forget_mentions(old_username)
    _end_account(user)
    db.session.flush()
    # Ids and counts only: an operator restoring a backup can apply it again (docs/privacy.md).
    log.info(
        "erased account %s: memberships=%d messages_deleted=%s",
        user.id,
        len(memberships),
        delete_messages,
    )


def _names_in_circle(m: Membership, user: User) -> set[str]:
    """The names this circle knew the person by: the membership's, and the one typed
    into the invitation that brought them in."""
    names = {m.stored_name, user.name}
    names.update(
        db.session.scalars(select(Invitation.name).where(Invitation.membership_id == m.id))
    )
    return {n for n in names if n}


# --- In each circle ---------------------------------------------------------------------


def _forget_in_circle(m: Membership, names: set[str]) -> None:
    circle_id = m.circle_id
    m.stored_name = ""
    m.supporter_of = None
    db.session.execute(
        update(Invitation)
        .where(Invitation.membership_id == m.id)
        .values(name="", email=None, supporter_of=None)
    )
    # Someone else is the supporter of this person: the "of whom" goes (left empty
    # rather than "a former member", which would still say they were supported).
    for model in (Membership, Invitation):
        db.session.execute(
            update(model)
            .where(model.circle_id == circle_id, model.supporter_of.in_(sorted(names)))
            .values(supporter_of=None)
        )
    db.session.execute(
        update(Commitment)
        .where(Commitment.circle_id == circle_id, Commitment.checker_name.in_(sorted(names)))
        .values(checker_name="")
    )
    _forget_in_history(m, names)
    _forget_in_versions(m, names)
    _forget_in_reviews(m, names)
    _forget_in_proposals(circle_id, names)


def _forget_in_history(m: Membership, names: set[str]) -> None:
    """The "invited" lines name the person invited (``data["name"]``); newer ones also
    carry the invitation's id, which decides; older ones are matched by the name."""
    invitation_ids = set(
        db.session.scalars(select(Invitation.id).where(Invitation.membership_id == m.id))
    )
    for ev in db.session.scalars(
        select(CircleEvent).where(
            CircleEvent.circle_id == m.circle_id, CircleEvent.kind == "invited"
        )
    ):
        data = dict(ev.data or {})
        if "invitation_id" in data:
            hit = data["invitation_id"] in invitation_ids
        else:
            hit = data.get("name") in names
        if hit:
            data["name"] = ""
            ev.data = data


def _erased(value, names: set[str], by_id: int | None, has_id: bool, mid: int) -> bool:
    """Whether a stored name belongs to the erased membership ``mid``: by the id stored
    next to it when there is one, else (an older version, or a name typed in by hand)
    by the exact name."""
    if has_id and by_id is not None:
        return by_id == mid
    return value in names


def _forget_in_versions(m: Membership, names: set[str]) -> None:
    for v in db.session.scalars(select(PlanVersion).where(PlanVersion.circle_id == m.circle_id)):
        snap = _forget_in_snapshot(v.snapshot or {}, m.id, names)
        if snap != v.snapshot:
            v.snapshot = snap
        agreed = list(v.agreed_by or [])
        if v.agreed_by_ids and len(v.agreed_by_ids) == len(agreed):
            agreed = ["" if i == m.id else n for i, n in zip(v.agreed_by_ids, agreed, strict=True)]
        else:
            agreed = ["" if n in names else n for n in agreed]
        if agreed != list(v.agreed_by or []):
            v.agreed_by = agreed


def _forget_in_snapshot(snap: dict, mid: int, names: set[str]) -> dict:
    """A copy of ``snap`` with the person's name emptied wherever it stood."""
    snap = dict(snap)
    commitments = []
    for c in snap.get("commitments", []):
        c = dict(c)
        who = list(c.get("who", []))
        ids = c.get("who_ids")
        if ids is not None:
            # ``who`` starts with the people in ``who_ids``, then the free-text others.
            who = ["" if k < len(ids) and ids[k] == mid else w for k, w in enumerate(who)]
        else:
            who = ["" if w in names else w for w in who]
        c["who"] = who
        if c.get("checked_by") and _erased(
            c["checked_by"], names, c.get("checked_by_id"), "checked_by_id" in c, mid
        ):
            c["checked_by"] = ""
        commitments.append(c)
    if "commitments" in snap:
        snap["commitments"] = commitments
    conditions = []
    for k in snap.get("conditions", []):
        k = dict(k)
        if _erased(k.get("set_by"), names, k.get("set_by_id"), "set_by_id" in k, mid):
            k["set_by"] = ""
        conditions.append(k)
    if "conditions" in snap:
        snap["conditions"] = conditions
    return snap


def _forget_in_reviews(m: Membership, names: set[str]) -> None:
    """Who was at a meeting is kept by name as it was (``MeetingReview.present``), with
    the membership ids beside them (``present_ids``, same order): the erased person's
    place is emptied by id; in reviews older than the ids, by the exact name."""
    from portal.models import Meeting

    for r in db.session.scalars(
        select(MeetingReview).join(Meeting).where(Meeting.circle_id == m.circle_id)
    ):
        old = list(r.present or [])
        ids = list(r.present_ids or [])
        if len(ids) == len(old):
            present = ["" if mid == m.id else n for n, mid in zip(old, ids, strict=True)]
        else:
            present = ["" if n in names else n for n in old]
        if present != old:
            r.present = present


def _forget_in_proposals(circle_id: int, names: set[str]) -> None:
    """A proposed commitment names its checker by id, or by a typed name."""
    for p in db.session.scalars(select(Proposal).where(Proposal.circle_id == circle_id)):
        payload = dict(p.payload or {})
        if payload.get("checker_name") in names:
            payload["checker_name"] = ""
            p.payload = payload


def _empty_messages(m: Membership) -> None:
    ids = select(Message.id).where(Message.author_id == m.id)
    db.session.execute(delete(MessageRevision).where(MessageRevision.message_id.in_(ids)))
    db.session.execute(
        update(Message)
        .where(Message.author_id == m.id)
        .values(body="", deleted_at=func.coalesce(Message.deleted_at, utcnow()))
    )


def _ask_for_new_person(m: Membership) -> None:
    """The commitments the person held stay theirs ("needs a new person"): changing the
    plan is for the family, by consent. Its watchers hear of each one."""
    held = list(
        db.session.scalars(
            select(Commitment)
            .join(commitment_assignees, commitment_assignees.c.commitment_id == Commitment.id)
            .where(commitment_assignees.c.membership_id == m.id, Commitment.active.is_(True))
            .order_by(Commitment.id)
        )
    )
    if not held:
        return
    watchers = [x for x in m.circle.memberships if hears_of_needs_person(x)]
    told: set[int] = set()
    for c in held:
        told.update(notifications.notify(watchers, "needs_person", ref_id=c.id, actor=m))
    events.news_changed(sorted(told))


# --- Everywhere -------------------------------------------------------------------------


def _forget_mentions(username: str) -> None:
    """``@username`` in any message or earlier version becomes ``@former-member``."""
    pattern = re.compile(rf"(?<![\w@.])@{re.escape(username)}(?![a-z0-9._-])", re.IGNORECASE)
    like = f"%@{username}%"
    for model in (Message, MessageRevision):
        for row in db.session.scalars(select(model).where(func.lower(model.body).like(like))):
            body = pattern.sub(FORMER_MENTION, row.body)
            if body != row.body:
                row.body = body


def _end_account(user: User) -> None:
    uid = user.id
    email = user.email
    for model in (
        LoginSession,
        SignIn,
        EmailChange,
        ReentryToken,
        CalendarFeed,
        Notification,
        NotificationSwitch,
    ):
        db.session.execute(delete(model).where(model.user_id == uid))
    devices = select(PushSubscription.id).where(PushSubscription.user_id == uid)
    db.session.execute(delete(PushDelivery).where(PushDelivery.subscription_id.in_(devices)))
    db.session.execute(delete(PushSubscription).where(PushSubscription.user_id == uid))
    if email:
        db.session.execute(delete(OutboxMail).where(func.lower(OutboxMail.to) == email.lower()))
        db.session.execute(
            update(Invitation)
            .where(or_(Invitation.email == email, func.lower(Invitation.email) == email.lower()))
            .values(email=None)
        )
    db.session.expire(user, ["sessions"])
    user.name = ""
    user.username = f"{ERASED_PREFIX}{uid}"
    user.email = None
    user.password_hash = UNUSABLE_PASSWORD
    user.locale = None
    user.timezone = None
    user.can_create_circles = False
    user.password_set_in_circle_id = None
    user.digest_period = "off"
    user.direct_email = False
    user.erased_at = utcnow()
    events.disconnect_user(uid)
