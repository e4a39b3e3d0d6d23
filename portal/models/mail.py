"""The mail outbox: mail waits here until a sender run delivers it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class OutboxMail(db.Model):
    """One mail to send, written in the same transaction as its cause.

    A request never talks to a mail server: it adds a row here and commits. A sender
    run (``portal.mail.send_pending``) claims a pending row with one conditional
    ``UPDATE``, sends it and marks it sent, so two runs never send the same row and a
    rolled-back cause leaves no mail. ``dedupe_key`` names the cause (a reset token, an
    email change), so the same cause cannot queue its mail twice.
    """

    __tablename__ = "outbox_mail"
    # Counts the mail one address got lately (MAIL_PER_ADDRESS_PER_HOUR).
    __table_args__ = (Index("ix_outbox_mail_to_created_at", "to", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    # Set: the mail is made by the sender, not the request (``portal.mail.register_builder``):
    # a "forgot password" request queues the same row for any address, and only the
    # sender looks the address up. Cleared once the row holds the mail to send.
    kind: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A sender run that takes the row writes its own random ``claim`` and pushes
    # ``next_try_at`` past its lease (a run that died is taken over after it); a failed
    # try pushes it further each time (back-off).
    claim: Mapped[str | None] = mapped_column(String(32))
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # Notification email: the HTML part and the headers to send with it
    # (Content-Language, List-Unsubscribe, List-Unsubscribe-Post); None for plain mail.
    html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict | None] = mapped_column(JSON)
    # Made by the notification run: outside MAIL_PER_ADDRESS_PER_HOUR (docs/notifications.md).
    notice: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Given up (a day of failed tries, or MAIL_MAX_ATTEMPTS): never tried again.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
