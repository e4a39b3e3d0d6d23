"""Chat messages, numbered per circle, and their earlier versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.circles import Membership
from portal.models.types import UTCDateTime, utcnow


class Message(db.Model):
    """One chat message.

    ``seq`` numbers a circle's messages 1, 2, 3... without gaps, so a client that
    reconnects can say "I saw up to 41" and get exactly what it missed.
    ``client_id`` is chosen by the sender's device; the unique constraint on
    (circle, author, client_id) makes a retried send return the stored message
    instead of storing it twice.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("circle_id", "seq"),
        UniqueConstraint("circle_id", "author_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"))
    seq: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a central person removed it (not the author).
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))

    author: Mapped[Membership] = relationship(foreign_keys=[author_id])
    revisions: Mapped[list[MessageRevision]] = relationship(
        back_populates="message", order_by="MessageRevision.id", cascade="all, delete-orphan"
    )


class MessageRevision(db.Model):
    """The text a message had before an edit; the circle can read earlier versions."""

    __tablename__ = "message_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)

    message: Mapped[Message] = relationship(back_populates="revisions")
