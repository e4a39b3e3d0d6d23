"""Accounts: passwords, login sessions and password resets."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from portal import events
from portal.extensions import db
from portal.models import LoginSession, ReentryToken, User
from portal.models.types import utcnow
from portal.sanitize import clean_line
from portal.services import ServiceError
from portal.tokens import hash_token, new_token

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")


def _hasher() -> PasswordHasher:
    # Argon2id is memory-hard; tests pass smaller costs through config.
    params = current_app.config.get("PASSWORD_HASH_PARAMS") or {}
    return PasswordHasher(**params)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            _l("Please use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password"
        )


def normalise_username(username: str) -> str:
    return clean_line(username, 254).lower()


def validate_username(username: str) -> str:
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise ServiceError(
            _l("Use 3 to 40 letters or numbers (a-z, 0-9), dots or dashes, no spaces."),
            "username",
        )
    taken = db.session.scalar(select(func.count()).where(User.username == username))
    if taken:
        raise ServiceError(_l("Someone already uses this name. Please pick another."), "username")
    return username


def create_user(
    *, name: str, username: str, password: str, email: str | None = None, locale: str | None = None
) -> User:
    username = validate_username(username)
    validate_password(password)
    email = clean_line(email, 254).lower() or None
    if email and db.session.scalar(select(func.count()).where(User.email == email)):
        raise ServiceError(_l("This email address already has an account. Sign in first."), "email")
    user = User(
        name=clean_line(name, 80),
        username=username,
        email=email,
        password_hash=hash_password(password),
        locale=locale,
    )
    db.session.add(user)
    db.session.flush()
    return user


def find_user_for_login(login: str, password: str) -> User | None:
    """The user whose username or email and password match, else None.

    A password is hashed even when the name is unknown, so the answer takes as long
    either way and does not tell which names exist.
    """
    login = clean_line(login, 254).lower()  # NUL and friends never reach the database
    user = db.session.scalar(select(User).where((User.username == login) | (User.email == login)))
    if user is None:
        _hasher().hash(secrets.token_hex(8))
        return None
    return user if check_password(user, password) else None


def start_login_session(user: User) -> str:
    """Record a signed-in browser and return the key its cookie will carry."""
    key = secrets.token_urlsafe(32)
    db.session.add(LoginSession(key_hash=hash_token(key), user_id=user.id))
    db.session.flush()
    user._login_key = key
    return key


def load_login_session(key: str) -> User | None:
    row = db.session.scalar(select(LoginSession).where(LoginSession.key_hash == hash_token(key)))
    if row is None:
        return None
    row.user._login_key = key
    return row.user


def end_login_session(key: str) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.key_hash == hash_token(key)))


def login_session_id(key: str) -> int | None:
    return db.session.scalar(
        select(LoginSession.id).where(LoginSession.key_hash == hash_token(key))
    )


def set_password(user: User, new_password: str) -> None:
    """Set a password and sign out every browser: a stolen cookie dies with the old one."""
    validate_password(new_password)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    events.disconnect_user(user.id)


def issue_reset_token(
    user: User, *, circle_id: int | None = None, issued_by_id: int | None = None
) -> str:
    """A single-use link to set a new password. Earlier unused ones stop working."""
    now = utcnow()
    db.session.execute(
        update(ReentryToken)
        .where(ReentryToken.user_id == user.id, ReentryToken.used_at.is_(None))
        .values(used_at=now)
    )
    token, digest = new_token()
    hours = current_app.config["REENTRY_VALID_HOURS"]
    db.session.add(
        ReentryToken(
            token_hash=digest,
            user_id=user.id,
            circle_id=circle_id,
            issued_by_id=issued_by_id,
            expires_at=now + timedelta(hours=hours),
        )
    )
    db.session.flush()
    return token


def find_reset_token(token: str) -> ReentryToken | None:
    """The token's row if it can still be used, else None (one answer for every failure)."""
    row = db.session.scalar(
        select(ReentryToken).where(ReentryToken.token_hash == hash_token(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def use_reset_token(token: str, new_password: str) -> User:
    """Spend the token (once, even under concurrency) and set the password."""
    validate_password(new_password)
    now = utcnow()
    spent = db.session.execute(
        update(ReentryToken)
        .where(
            ReentryToken.token_hash == hash_token(token),
            ReentryToken.used_at.is_(None),
            ReentryToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(ReentryToken.user_id)
    ).first()
    if spent is None:
        raise ServiceError(_l("This link no longer works."))
    user = db.session.get(User, spent[0])
    set_password(user, new_password)
    return user
