"""What the family may know about its own data (issue 13, docs/privacy.md): who from
outside the family looked, and when a person signed in."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.circles import Membership
from portal.models.types import UTCDateTime, utcnow


class AccessLogEntry(db.Model):
    """A professional looked at a page of the circle: one row per person, page kind
    and day (in UTC), with a count. Written by one upsert per page view
    (``services/access_log.py``); never edited by anyone."""

    __tablename__ = "access_log"
    __table_args__ = (UniqueConstraint("membership_id", "page", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    # plan, plan_print, plan_export, chat, meeting, commitment_history, people, export
    page: Mapped[str] = mapped_column(String(24))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(default=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    membership: Mapped[Membership] = relationship()


class SignIn(db.Model):
    """The moment a person signed in (the export lists them; no token, no address)."""

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
