"""News for a person (the in-app list and badge), their switches, and their devices.

A ``Notification`` is one line of a person's news ("Sanne mentioned you", "5 new
messages in ..."). Services write it in the same transaction as the thing it is about;
the sender run (``flask --app app kring send-notifications``) writes the ones that come
from the clock (a commitment due today, a turn missed). Email and push never carry
what a line says: they count lines (see docs/notifications.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow

# The kinds of news. Each can be switched off for the in-app list (NotificationSwitch,
# channel "app"). Order: how the settings page lists them.
NEWS_KINDS = (
    "mention",  # someone wrote @me in chat
    "messages",  # new chat messages: one line per circle, counting
    "line",  # new messages on my private line with my supporter (or whom I support)
    "due",  # my commitment due today, or overdue
    "missed",  # a turn of my repeating commitment went by unticked
    "help",  # someone asked for help with a commitment (plan keeper, central persons)
    "needs_person",  # a commitment's person erased their account (plan keeper, central)
    "consent",  # a proposal waits for my consent
    "decided",  # a proposal was decided
    "poll",  # a meeting poll waits for my answer
    "meeting",  # a meeting was fixed, moved or cancelled (data["op"])
    "people",  # someone joined or left the circle (data["op"])
    "closing",  # the circle closed, reopened, or asks whether to keep it (data["op"])
    "acted_for",  # someone I named ticked, answered a poll or consented for me (data["what"])
)

# Mentions and direct calls: emailed at the next run (unless the person chose digest
# only), and pushed.
DIRECT_KINDS = frozenset({"mention", "help", "consent", "closing"})

# The kinds of email, each with its own one-click unsubscribe (NotificationSwitch,
# channel "email"): the digest, direct calls, and the three reminders.
EMAIL_KINDS = ("digest", "direct", "remind_due", "remind_meeting", "remind_poll")

DIGEST_PERIODS = ("daily", "weekly", "off")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        # While a line is unread, later news of the same group adds to its count
        # ("messages:<circle>"): one line per circle, never one per message. Reading the
        # line clears its group_key, so the next news starts a new line.
        UniqueConstraint("user_id", "group_key"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_user_updated", "user_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The thing it is about, by kind: a message (mention), a commitment (due, missed,
    # help), a proposal (consent, decided), a meeting (poll, meeting), a membership
    # (people), a private line (line); None for "messages".
    ref_id: Mapped[int | None]
    # Who caused it, shown by their name in this circle at reading time (so a name that
    # is later erased is gone here too). None for news from the clock.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    # Small facts by kind: {"op": "moved"} for a meeting, {"op": "left"} for people,
    # {"day": "2026-12-02"} for a due/missed turn. Never message text.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    count: Mapped[int] = mapped_column(default=1)
    group_key: Mapped[str | None] = mapped_column(String(80))
    # News from the clock is made once per (person, kind, thing, day): the run records
    # that key here, so two runs at once, or a run after a crash, make it once.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped when the count grows; the list is newest first by this.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once the line was counted in an email (digest or direct call) / a push.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    circle: Mapped[Circle] = relationship()  # noqa: F821
    actor: Mapped[Membership | None] = relationship()  # noqa: F821


class NotificationSwitch(db.Model):
    """One thing a person switched off: a kind of news in the app (channel "app",
    kind from NEWS_KINDS) or a kind of email (channel "email", kind from EMAIL_KINDS).
    No row: on (the default)."""

    __tablename__ = "notification_switches"
    __table_args__ = (UniqueConstraint("user_id", "channel", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(db.Model):
    """One device that asked for push (Web Push, RFC 8030/8291). The push service
    answering 404 or 410 for it deletes the row."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    # A name the person recognises ("Firefox on Android"), made from the browser's
    # user agent when the device was added.
    label: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PushDelivery(db.Model):
    """One push to send to one device, recorded before it is sent (``key`` names the
    person, the batch and the device, unique), marked sent after: two runs at once
    send it once; a failed push is tried again with back-off and given up after a day."""

    __tablename__ = "push_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
