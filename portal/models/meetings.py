"""Follow-up meetings: a date poll, the fixed meeting, calendar feeds, and the review."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.circles import Membership
from portal.models.types import UTCDateTime, utcnow


class Meeting(db.Model):
    """A follow-up meeting. ``sequence`` goes up on every change (RFC 5545 SEQUENCE),
    ``uid`` never changes, so calendars update the entry instead of adding one."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    video_link: Mapped[str] = mapped_column(String(500), default="")
    duration_minutes: Mapped[int] = mapped_column(default=90)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    status: Mapped[str] = mapped_column(String(12), default="poll")  # poll|fixed|cancelled
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organiser: Mapped[Membership] = relationship()
    options: Mapped[list[MeetingOption]] = relationship(
        back_populates="meeting", order_by="MeetingOption.starts_at", cascade="all, delete-orphan"
    )
    invitees: Mapped[list[MeetingInvitee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan"
    )


class MeetingInvitee(db.Model):
    __tablename__ = "meeting_invitees"
    __table_args__ = (UniqueConstraint("meeting_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)

    meeting: Mapped[Meeting] = relationship(back_populates="invitees")
    membership: Mapped[Membership] = relationship()


class MeetingOption(db.Model):
    __tablename__ = "meeting_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="options")


class MeetingAnswer(db.Model):
    """One answer per person and option: a database constraint, not a hope."""

    __tablename__ = "meeting_answers"
    __table_args__ = (UniqueConstraint("option_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("meeting_options.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    answer: Mapped[str] = mapped_column(String(8))  # yes | maybe | no
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Issue 14: given in the member's name by someone they named.
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))


class MeetingReview(db.Model):
    """What the follow-up group concluded. One per meeting (unique), so two people
    submitting the review at the same moment record it, and decide proposals, once."""

    __tablename__ = "meeting_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), unique=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    present: Mapped[list] = mapped_column(db.JSON, default=list)  # names, as they were
    # The same people by membership id, in the same order (erasure empties exactly
    # their name; reviews older than this column are matched by name).
    present_ids: Mapped[list] = mapped_column(db.JSON, default=list, server_default="[]")
    next_evaluation: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")

    items: Mapped[list[CommitmentReview]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="CommitmentReview.id"
    )


class CommitmentReview(db.Model):
    __tablename__ = "commitment_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("meeting_reviews.id", ondelete="CASCADE"))
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitments.id"))
    what: Mapped[str] = mapped_column(Text)  # the commitment's text at the time
    verdict: Mapped[str] = mapped_column(String(12))  # working | partly | not_working
    note: Mapped[str] = mapped_column(Text, default="")

    review: Mapped[MeetingReview] = relationship(back_populates="items")


class CalendarFeed(db.Model):
    """A person's secret calendar URL. The token is stored hashed; revoking ends it."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    show_titles: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
