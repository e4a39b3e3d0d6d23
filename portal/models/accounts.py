"""People and their login sessions."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    """One account per person, whatever number of circles they belong to."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name a person chose when they made the account; each circle shows the
    # membership's own display name.
    name: Mapped[str] = mapped_column(String(80))
    # Everyone signs in with a username, because not everyone has email.
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Set for coordinators (through a coordinator invitation): they may open new circles.
    can_create_circles: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the password was set through a circle's "way back in" link: someone in
    # that circle may know it, or still be signed in with it. Until the person chooses
    # their own password (or resets it by email), the account joins no other circle.
    password_set_in_circle_id: Mapped[int | None] = mapped_column(ForeignKey("circles.id"))
    # Email about news (docs/notifications.md): the digest's period ("daily", "weekly"
    # or "off"), whether mentions and direct calls are emailed at once (False: digest
    # only), and when each last went out.
    digest_period: Mapped[str] = mapped_column(String(10), default="daily", server_default="daily")
    direct_email: Mapped[bool] = mapped_column(default=True, server_default=true())
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    direct_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the person erased their account (``/account/delete``): name, username
    # and email are overwritten, the password unusable; the row stays so that the
    # circles' memberships keep pointing somewhere ("a former member").
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Issue 14. Simple mode: larger type, one column, a short menu, plain words and a
    # read-aloud button; the same pages with another layout.
    simple_mode: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Discreet: the browser tab says nothing about Kring (someone who must hide the app).
    discreet: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A stand-in account for an offline member (``services.offline``): it never signs
    # in, gets no news and no email.
    offline: Mapped[bool] = mapped_column(default=False, server_default=false())

    sessions: Mapped[list[LoginSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    memberships: Mapped[list[Membership]] = relationship(  # noqa: F821
        back_populates="user", foreign_keys="Membership.user_id"
    )

    # Flask-Login stores get_id() in the cookie; ours is the login session's key,
    # so that a cookie can be revoked on the server (see LoginSession).
    _login_key = None

    def get_id(self) -> str | None:
        return self._login_key


class LoginSession(db.Model):
    """A signed-in browser. Deleting the row signs that browser out for good.

    Flask's cookie sessions cannot be revoked: a copied cookie stays valid. The cookie
    therefore only carries a random key; the hash of that key must be found here on
    every request. Logout deletes this row; a password change deletes all of a user's.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="sessions")


class EmailChange(db.Model):
    """An email address waiting to be confirmed by the link sent to it.

    Until the link is used the account keeps its old address (a password reset still
    goes there), so nobody can attach an address they cannot read. The token is
    256-bit, stored only as its SHA-256, single use, and expires.
    """

    __tablename__ = "email_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
