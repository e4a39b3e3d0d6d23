"""Accounts: passwords, login sessions and password resets."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from portal import events
from portal.access import can_use_reentry
from portal.extensions import db
from portal.mail import queue_mail, register_builder
from portal.models import (
    CalendarFeed,
    EmailChange,
    LoginSession,
    PushSubscription,
    ReentryToken,
    User,
)
from portal.models.types import utcnow
from portal.sanitize import clean_line
from portal.services import ServiceError, require_name
from portal.tokens import hash_token, new_token

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
# What an erased person's @mentions become (services/erasure.py): nobody may hold it,
# or the old messages would seem to call them (and their mentions would reach them).
FORMER_MEMBER = "former-member"


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
    if taken or username == FORMER_MEMBER:
        raise ServiceError(_l("Someone already uses this name. Please pick another."), "username")
    return username


def create_user(
    *, name: str, username: str, password: str, email: str | None = None, locale: str | None = None
) -> User:
    name = require_name(name)
    username = validate_username(username)
    validate_password(password)
    email = clean_line(email, 254).lower() or None
    if email and db.session.scalar(select(func.count()).where(User.email == email)):
        raise ServiceError(_l("This email address already has an account. Sign in first."), "email")
    user = User(
        name=name,
        username=username,
        email=email,
        password_hash=hash_password(password),
        locale=locale,
    )
    db.session.add(user)
    db.session.flush()
    return user


def update_profile(
    user: User,
    *,
    name: str,
    locale: str,
    timezone: str,
    simple_mode: bool | None = None,
    discreet: bool | None = None,
) -> None:
    """The person's own name, language and time zone (the form has checked the lists),
    and how pages look for them: simple mode and the discreet tab title (None: as is)."""
    user.name = require_name(name)
    user.locale = locale
    user.timezone = timezone
    if simple_mode is not None:
        user.simple_mode = simple_mode
    if discreet is not None:
        user.discreet = discreet


def find_user_for_login(login: str, password: str) -> User | None:
    """The user whose username or email and password match, else None.

    A password is hashed even when the name is unknown, so the answer takes as long
    either way and does not tell which names exist.
    """
    login = clean_line(login, 254).lower()  # NUL and friends never reach the database
    user = db.session.scalar(select(User).where((User.username == login) | (User.email == login)))
    if user is None or user.offline:
        # A stand-in for someone without internet never signs in (its password hash
        # cannot match anything either); the same work, the same answer.
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
    if row is None or row.user.offline:
        return None
    row.user._login_key = key
    return row.user


def end_login_session(key: str) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.key_hash == hash_token(key)))


def login_session_id(key: str) -> int | None:
    return db.session.scalar(
        select(LoginSession.id).where(LoginSession.key_hash == hash_token(key))
    )


def set_password(user: User, new_password: str, *, in_circle_id: int | None = None) -> None:
    """Set a password, and end everything someone at a signed-in browser could have left
    behind: every login session (a stolen cookie dies with the old password), a pending
    change of email address (it would let them take the account back through "forgot
    password"), the personal calendar links and the devices that get push (both outlive
    any session: a device switched on by whoever had the account would go on telling
    them whenever there is news; the person switches their own phone on again).

    ``in_circle_id``: the circle whose "way back in" link set this password. Someone
    there may know it, so the account is marked until the person sets their own (here,
    without ``in_circle_id``), and joins no other circle meanwhile
    (``access.can_join_other_circle``)."""
    validate_password(new_password)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.password_set_in_circle_id = in_circle_id
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    _spend_email_changes(user.id)
    revoke_calendar_feeds(user)
    db.session.execute(delete(PushSubscription).where(PushSubscription.user_id == user.id))
    events.disconnect_user(user.id)


def revoke_calendar_feeds(user: User) -> None:
    """End every working calendar link of this person, not just one: links made in two
    tabs at the same moment are both live, and "stop my calendar link" must stop them all."""
    db.session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def issue_reset_token(
    user: User,
    *,
    circle_id: int | None = None,
    issued_by_id: int | None = None,
    digest: tuple[str, str] | None = None,
) -> str:
    """A single-use link to set a new password.

    A "way back in" made in a circle replaces that person's earlier unused links. A
    link asked for by email does not: anyone may ask for one for any address, so
    asking must not kill the links already in the owner's mailbox. Using any link
    spends them all instead (``spend_email_reset_links``). ``digest`` is a
    ``(token, hash)`` pair already made by the caller.
    """
    now = utcnow()
    if circle_id is not None:
        db.session.execute(
            update(ReentryToken)
            .where(ReentryToken.user_id == user.id, ReentryToken.used_at.is_(None))
            .values(used_at=now)
        )
    token, digest = digest or new_token()
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
    if not can_use_reentry(row):
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
        .returning(ReentryToken.id)
    ).first()
    if spent is None:
        raise ServiceError(_l("This link no longer works."))
    row = db.session.get(ReentryToken, spent[0])
    # Asked again where the link is spent: its maker may have gone, or the person may
    # have joined another circle, since the link was opened (the caller rolls back).
    if not can_use_reentry(row):
        raise ServiceError(_l("This link no longer works."))
    spend_email_reset_links(row.user_id)
    user = row.user
    set_password(user, new_password, in_circle_id=row.circle_id)
    return user


def spend_email_reset_links(user_id: int) -> None:
    """Every reset link this person asked for by email stops working (one was used, or
    their address changed: the links went to the old one)."""
    db.session.execute(
        update(ReentryToken)
        .where(
            ReentryToken.user_id == user_id,
            ReentryToken.circle_id.is_(None),
            ReentryToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


def _link(endpoint: str, token: str) -> str:
    return current_app.config["BASE_URL"] + url_for(endpoint, token=token)


RESET_KIND = "password-reset"


def request_password_reset(email: str) -> None:
    """Ask for a reset link for the account with this address, if there is one.

    The same work for any address: one outbox row of kind "password reset asked for
    this address", and nothing looked up. The sender resolves it outside the request
    (``_build_reset_mail``): it makes the link for the account with this address, or
    sends nothing. So neither the answer, its timing nor its database work tells
    whether the address has an account. Earlier links stay valid (``issue_reset_token``).
    """
    email = clean_line(email, 254).lower()
    if email:
        queue_mail(email, dedupe_key=f"reset-ask:{secrets.token_hex(16)}", kind=RESET_KIND)


def _build_reset_mail(email: str) -> tuple[str, str] | None:
    """The sender's half of ``request_password_reset``: the mail with a fresh link in
    the account's own language, or None when no account has this address."""
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        return None
    token = issue_reset_token(user)
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        return (
            str(_l("Set a new password for Kring")),
            str(_l("Open this link to set a new password. It works once."))
            + "\n\n"
            + _link("auth.open_reset_link", token)
            + "\n\n"
            + str(_l("If you did not ask for this, you can ignore this email.")),
        )


register_builder(RESET_KIND, _build_reset_mail)


def _spend_email_changes(user_id: int) -> None:
    db.session.execute(
        update(EmailChange)
        .where(EmailChange.user_id == user_id, EmailChange.used_at.is_(None))
        .values(used_at=utcnow())
    )


def request_email_change(user: User, new_email: str | None, *, notify_old: bool = True) -> None:
    """Ask to use ``new_email``; it counts only once the link sent to it is opened.

    Until then the old address stays in force (a password reset still goes there).
    The answer is the same whether or not the address already has an account: if it
    has, that address gets a note that someone tried to use it, and nothing changes.
    The old address is told that a change was asked, without saying to what. An empty
    ``new_email`` removes the address at once (nothing to confirm). A newer request
    replaces an earlier unconfirmed one. The caller has checked the password.
    """
    new_email = (new_email or "").strip().lower() or None
    old_email = user.email
    _spend_email_changes(user.id)
    token, digest = new_token()
    if new_email is None:
        user.email = None
        spend_email_reset_links(user.id)
    elif new_email != old_email:
        owner = db.session.scalar(select(User.id).where(User.email == new_email))
        if owner is None:
            hours = current_app.config["EMAIL_CONFIRM_VALID_HOURS"]
            db.session.add(
                EmailChange(
                    user_id=user.id,
                    new_email=new_email,
                    token_hash=digest,
                    expires_at=utcnow() + timedelta(hours=hours),
                )
            )
            queue_mail(
                new_email,
                _l("Please confirm your email address for Kring"),
                str(_l("Open this link to use this email address for your Kring account."))
                + "\n\n"
                + _link("auth.open_email_link", token)
                + "\n\n"
                + str(_l("If you did not ask for this, you can ignore this email.")),
                dedupe_key=f"email-confirm:{digest}",
            )
        else:
            queue_mail(
                new_email,
                _l("Someone tried to use this address for Kring"),
                str(
                    _l(
                        "Someone tried to use this email address for a Kring account. "
                        "This address already has an account. If it was you, you can "
                        "sign in, or ask for a new password on the sign-in page. "
                        "If it was not you, you can ignore this email."
                    )
                )
                + "\n\n"
                + current_app.config["BASE_URL"]
                + url_for("auth.login"),
                dedupe_key=f"address-in-use:{digest}",
            )
    if notify_old and old_email and new_email != old_email:
        queue_mail(
            old_email,
            _l("Your Kring email address is being changed"),
            str(
                _l(
                    "Someone signed in to your Kring account (%(username)s) and asked to "
                    "change its email address. If this was you, there is nothing to do. "
                    "If this was not you, please change your password now.",
                    username=user.username,
                )
            )
            + "\n\n"
            + current_app.config["BASE_URL"]
            + url_for("auth.forgot_password"),
            dedupe_key=f"email-change-notice:{digest}",
        )
    db.session.flush()


def pending_email(user: User) -> str | None:
    """The address waiting for its confirmation link, if any."""
    return db.session.scalar(
        select(EmailChange.new_email)
        .where(
            EmailChange.user_id == user.id,
            EmailChange.used_at.is_(None),
            EmailChange.expires_at > utcnow(),
        )
        .order_by(EmailChange.id.desc())
        .limit(1)
    )


def find_email_change(token: str) -> EmailChange | None:
    """The pending change for this link if it can still be used, else None."""
    row = db.session.scalar(select(EmailChange).where(EmailChange.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def confirm_email_change(token: str) -> User:
    """Spend the link (once, even under concurrency) and make its address count."""
    now = utcnow()
    spent = db.session.execute(
        update(EmailChange)
        .where(
            EmailChange.token_hash == hash_token(token),
            EmailChange.used_at.is_(None),
            EmailChange.expires_at > now,
        )
        .values(used_at=now)
        .returning(EmailChange.user_id, EmailChange.new_email)
    ).first()
    if spent is None:
        raise ServiceError(_l("This link no longer works."))
    user_id, new_email = spent
    taken = db.session.scalar(
        select(func.count()).where(User.email == new_email, User.id != user_id)
    )
    if taken:  # someone confirmed the same address first
        raise ServiceError(_l("This link no longer works."))
    user = db.session.get(User, user_id)
    user.email = new_email
    _spend_email_changes(user_id)
    # Reset links asked for earlier went to the old address.
    spend_email_reset_links(user_id)
    db.session.flush()
    return user
