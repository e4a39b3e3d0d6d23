"""One-click unsubscribe (RFC 8058): a signed link per person and kind of email.

The token is signed with the app's SECRET_KEY (itsdangerous, its own salt) and names
one person and one kind of email: it can switch off only that kind, for only that
person, and needs no sign-in (the link is in their mailbox). Changing a signed token
(another person, another kind) breaks its signature. It has no expiry: an old email's
link must keep working, and all it can do is stop email.

What each kind switches off: the digest sets ``User.digest_period`` to "off", direct
calls set ``User.direct_email`` False (the same fields as the settings page), each
reminder adds a ``NotificationSwitch`` row on channel "email".
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import NotificationSwitch, User
from portal.models.notifications import EMAIL_KINDS

SALT = "kring-email-unsubscribe"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(user_id: int, kind: str) -> str:
    assert kind in EMAIL_KINDS
    return _serializer().dumps([user_id, kind])


def read_token(token: str) -> tuple[User, str] | None:
    """The person and kind a genuine token names, or None (forged, changed, unknown)."""
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if kind not in EMAIL_KINDS or not isinstance(user_id, int):
        return None
    user = db.session.get(User, user_id)
    return None if user is None else (user, kind)


def is_off(user: User, kind: str) -> bool:
    if kind == "digest" and user.digest_period == "off":
        return True
    if kind == "direct" and not user.direct_email:
        return True
    return (
        db.session.scalar(
            select(NotificationSwitch.id).where(
                NotificationSwitch.user_id == user.id,
                NotificationSwitch.channel == "email",
                NotificationSwitch.kind == kind,
            )
        )
        is not None
    )


def switch_off(user: User, kind: str) -> None:
    """Stop this kind of email for this person (the caller commits). Twice is once."""
    if kind == "digest":
        user.digest_period = "off"
    elif kind == "direct":
        user.direct_email = False
    elif not is_off(user, kind):
        try:
            with db.session.begin_nested():
                db.session.add(NotificationSwitch(user_id=user.id, channel="email", kind=kind))
        except IntegrityError:
            pass  # a second click at the same moment made the row
    db.session.flush()
