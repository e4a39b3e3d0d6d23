"""The private line between a supporter and the member they support (issue 14).

Its own tables, not circle chat rows with a flag: no query on the circle's chat can
ever return a line's message, and nobody but the two reads these tables' rows
(``access.access_line``). Numbered per line like the circle chat, so a device that
reconnects asks "after 41" and gets exactly what it missed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.circles import Membership
from portal.models.types import UTCDateTime, utcnow


class SupportLine(db.Model):
    __tablename__ = "support_lines"
    __table_args__ = (UniqueConstraint("supporter_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    # The last sequence number handed out; bumped under a row lock on each send.
    message_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    # What each of the two has seen (unread counts).
    supporter_read_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    member_read_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[Membership] = relationship(foreign_keys=[supporter_id])
    member: Mapped[Membership] = relationship(foreign_keys=[member_id])


class LineMessage(db.Model):
    """One message on a private line; (line, seq) and (line, author, client_id) are
    unique, like ``Message``."""

    __tablename__ = "line_messages"
    __table_args__ = (
        UniqueConstraint("line_id", "seq"),
        UniqueConstraint("line_id", "author_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("support_lines.id", ondelete="CASCADE"))
    seq: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    line: Mapped[SupportLine] = relationship()
    author: Mapped[Membership] = relationship(foreign_keys=[author_id])
