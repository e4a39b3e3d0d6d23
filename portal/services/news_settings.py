"""A person's own news settings (the "News" section of /account).

What appears in the app (a ``NotificationSwitch`` row with channel "app" switches a kind
off), which circles are quiet (``Membership.muted``), and the email settings: the
digest's period, mentions and direct calls by email, each reminder (channel "email"),
and per circle whether an email may name it (``Membership.email_names``).

Only ever the person's own settings: ``save`` is given the user and changes only their
switches and their own active memberships; circle ids that are not theirs are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import contains_eager

from portal import events
from portal.extensions import db
from portal.models import Circle, Membership, MembershipStatus, NotificationSwitch, User
from portal.models.notifications import DIGEST_PERIODS, NEWS_KINDS
from portal.services import ServiceError, notifications

# The reminders, each switched on or off by itself (the other kinds of email, the
# digest and direct calls, have their own settings on User).
REMINDER_KINDS = ("remind_due", "remind_meeting", "remind_poll")


@dataclass(frozen=True)
class CircleSetting:
    circle_id: int
    title: str
    muted: bool
    email_names: bool


@dataclass(frozen=True)
class NewsSettings:
    shown: frozenset[str]  # kinds of news that appear in the app
    reminders: frozenset[str]  # reminders that are on
    digest_period: str  # "daily", "weekly" or "off"
    direct_email: bool
    has_email: bool
    circles: tuple[CircleSetting, ...]  # the person's active circles, by title


def _switches_off(user_id: int) -> set[tuple[str, str]]:
    rows = db.session.execute(
        select(NotificationSwitch.channel, NotificationSwitch.kind).where(
            NotificationSwitch.user_id == user_id
        )
    )
    return {(channel, kind) for channel, kind in rows}


def _memberships(user_id: int) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership)
            .join(Circle, Circle.id == Membership.circle_id)
            .where(Membership.user_id == user_id, Membership.status == MembershipStatus.ACTIVE)
            .options(contains_eager(Membership.circle))
            .order_by(Circle.title, Circle.id)
        )
    )


def settings_of(user: User) -> NewsSettings:
    """The person's settings as they stand (two queries)."""
    off = _switches_off(user.id)
    return NewsSettings(
        shown=frozenset(k for k in NEWS_KINDS if ("app", k) not in off),
        reminders=frozenset(k for k in REMINDER_KINDS if ("email", k) not in off),
        digest_period=user.digest_period,
        direct_email=user.direct_email,
        has_email=bool(user.email),
        circles=tuple(
            CircleSetting(m.circle_id, m.circle.title, m.muted, m.email_names)
            for m in _memberships(user.id)
        ),
    )


def circle_ids(user: User) -> list[int]:
    """The circles whose settings the person may change: their active ones."""
    return [m.circle_id for m in _memberships(user.id)]


def save(
    user: User,
    *,
    shown: Iterable[str],
    reminders: Iterable[str],
    digest_period: str,
    direct_email: bool,
    muted: Iterable[int],
    email_names: Iterable[int],
) -> None:
    """Store the whole section as the person left it. Kinds switched off take their
    unread lines with them (the badge drops at once); so does muting a circle, whose
    lines are hidden while it is muted. Their open pages hear of it."""
    if digest_period not in DIGEST_PERIODS:
        raise ServiceError(_l("Please choose how often."), "digest_period")
    shown, reminders = set(shown), set(reminders)
    off = _switches_off(user.id)
    _set_switches(user.id, off, "app", NEWS_KINDS, shown)
    _set_switches(user.id, off, "email", REMINDER_KINDS, reminders)
    user.digest_period = digest_period
    user.direct_email = bool(direct_email)
    muted, email_names = set(muted), set(email_names)
    for m in _memberships(user.id):
        m.muted = m.circle_id in muted
        m.email_names = m.circle_id in email_names
    hidden = [k for k in NEWS_KINDS if k not in shown]
    if hidden:
        notifications.mark_seen(user.id, kinds=hidden)
    db.session.flush()
    events.news_changed([user.id])


def _set_switches(
    user_id: int, off: set[tuple[str, str]], channel: str, kinds: Iterable[str], on: set[str]
) -> None:
    """Rows for the ``kinds`` that are off, none for those ``on`` (``off``: the rows
    there were)."""
    kinds = list(kinds)
    back_on = [k for k in kinds if k in on and (channel, k) in off]
    if back_on:
        db.session.execute(
            delete(NotificationSwitch).where(
                NotificationSwitch.user_id == user_id,
                NotificationSwitch.channel == channel,
                NotificationSwitch.kind.in_(back_on),
            )
        )
    for kind in kinds:
        if kind not in on and (channel, kind) not in off:
            db.session.add(NotificationSwitch(user_id=user_id, channel=channel, kind=kind))
