"""A circle (one conference's closed space), its memberships, invitations and history."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import JSON, Enum, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import User
from portal.models.types import UTCDateTime, utcnow


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    CENTRAL = "central"
    MEMBER = "member"
    SUPPORTER = "supporter"
    PROFESSIONAL = "professional"


# Roles that consent to the plan; professionals and the coordinator do not vote.
VOTING_ROLES = frozenset({Role.CENTRAL, Role.MEMBER, Role.SUPPORTER})
# Roles an invitation made on the web or by `kring invite` may carry.
INVITABLE_ROLES = (Role.CENTRAL, Role.MEMBER, Role.SUPPORTER, Role.PROFESSIONAL)


class MembershipStatus(enum.StrEnum):
    ACTIVE = "active"
    LEFT = "left"
    REMOVED = "removed"
    HANDED_OVER = "handed_over"  # a coordinator after handover


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e])


class Circle(db.Model):
    __tablename__ = "circles"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    question: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="nl")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    professionals_read_chat: Mapped[bool] = mapped_column(default=False)
    # "Who is here now" in the chat; off unless the circle switches it on.
    presence_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The last chat sequence number handed out; bumped under a row lock on each send.
    message_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Closing (issue 13, docs/privacy.md): a closed circle is read-only; its content is
    # purged CLOSED_CIRCLE_RETENTION_DAYS later unless a central person reopens it.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the central persons were asked whether to keep an idle circle (unset when
    # anyone answers "keep" or the circle becomes active again).
    idle_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the purge removed its content; the row stays as an empty shell so that ids
    # are never reused and former members see "this circle has ended".
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="circle", order_by="Membership.id"
    )


class Membership(db.Model):
    """A person's place in one circle: their role, name there, and flags."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("circle_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The name this circle knows the person by. Stored as ``stored_name``; read it
    # through ``display_name``, which says "a former member" once the person erased
    # their account (issue 13: erasure empties the stored name).
    stored_name: Mapped[str] = mapped_column("display_name", String(80))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    supporter_of: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[MembershipStatus] = mapped_column(
        _enum(MembershipStatus, "membership_status"), default=MembershipStatus.ACTIVE
    )
    is_plan_keeper: Mapped[bool] = mapped_column(default=False)
    in_followup_group: Mapped[bool] = mapped_column(default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The highest chat sequence number this member has seen (for unread counts).
    last_read_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A professional who takes over from another, named by that professional
    # (``circles.pass_conditions_on``): they may remove the conditions that one set.
    replaces_membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    # Notifications: nothing from this circle reaches the person (news, email, push).
    muted: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Email may name this circle's title and the kinds of news (off: counts only).
    email_names: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Issue 14. An offline member: someone without internet (a grandmother without a
    # smartphone) whom a central person added by name and role. The membership points
    # at a stand-in account that cannot sign in (``services.offline``); an invitation
    # made for them later hands the membership, with all its history, to whoever
    # accepts it.
    offline: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The member this person supports ("supporter of X"), by id: the private line
    # between the two (``SupportLine``) follows it. ``supporter_of`` keeps the words the
    # inviter typed.
    supports_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))

    circle: Mapped[Circle] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    # The people this member named to act for them ("Oma said yes on the phone"):
    # only they may tick, answer a poll or consent in this member's name.
    proxies: Mapped[list[Membership]] = relationship(
        secondary="membership_proxies",
        primaryjoin="Membership.id == membership_proxies.c.membership_id",
        secondaryjoin="Membership.id == membership_proxies.c.proxy_id",
        order_by="Membership.id",
    )

    @hybrid_property
    def display_name(self) -> str:
        return self.stored_name or str(gettext("a former member"))

    @display_name.inplace.setter
    def _display_name_setter(self, value: str) -> None:
        self.stored_name = value

    @display_name.inplace.expression
    @classmethod
    def _display_name_expression(cls):
        return cls.stored_name

    @property
    def is_former(self) -> bool:
        """The person erased their account: no name is left anywhere."""
        return not self.stored_name

    @property
    def is_active(self) -> bool:
        return self.status == MembershipStatus.ACTIVE

    @property
    def votes(self) -> bool:
        """Consents to the plan. An offline member does only through someone they named
        to answer for them (issue 14); without one they are counted in the plan, not
        asked."""
        if self.role not in VOTING_ROLES:
            return False
        return not self.offline or bool(self.proxies)


membership_proxies = db.Table(
    "membership_proxies",
    db.Column("membership_id", ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True),
    db.Column("proxy_id", ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True),
)


class Invitation(db.Model):
    """The only door into a circle. The token is stored as a hash and works once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    supporter_of: Mapped[str | None] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(254))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the current link was made: at creation, or at the last "New link".
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the circle stopped a link nobody had used yet, because someone who held
    # it went (the coordinator at the handover, a central person who left or was
    # removed). The token was replaced, so the old link cannot work; the central
    # persons see the person under "Still to join" and can make a new link.
    link_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    # Issue 14: the offline member whose place the person takes on accepting (their
    # membership, history and all, becomes the new account's).
    takes_place_of_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    # The member a "supporter of X" supports, by id (see Membership.supports_id).
    supports_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    # Simple mode is switched on for the account made with this link (a child, or
    # anyone who wants it).
    simple_mode: Mapped[bool] = mapped_column(default=False, server_default=false())
    circle: Mapped[Circle] = relationship()
    invited_by: Mapped[Membership | None] = relationship(foreign_keys=[invited_by_id])

    @property
    def status(self) -> str:
        """One of: revoked, joined, needs_new_link, expired, opened, not_opened."""
        if self.revoked_at:
            return "revoked"
        if self.redeemed_at:
            return "joined"
        if self.link_stopped_at:
            return "needs_new_link"
        if self.expires_at <= utcnow():
            return "expired"
        return "opened" if self.opened_at else "not_opened"


class ReentryToken(db.Model):
    """A single-use link that lets someone set a new password.

    Issued by a central person (or the coordinator before handover) for a member
    without email, or sent by email when the person asks for a reset themselves.
    """

    __tablename__ = "reentry_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The circle it was issued in (None for an email reset).
    circle_id: Mapped[int | None] = mapped_column(ForeignKey("circles.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    issued_by: Mapped[Membership | None] = relationship(foreign_keys=[issued_by_id])


class CircleEvent(db.Model):
    """The circle's history: "Anna joined", "handed over by the coordinator".

    Stored as a kind plus names, and turned into a sentence when shown, so each reader
    sees it in their own language.
    """

    __tablename__ = "circle_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Membership | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[Membership | None] = relationship(foreign_keys=[subject_id])
