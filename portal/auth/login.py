"""Signing in and out with server-side revocable login sessions (see LoginSession)."""

from __future__ import annotations

from flask import session
from flask_login import login_user, logout_user

from portal import events
from portal.extensions import db
from portal.models import SignIn, User
from portal.services import accounts


def init_login_manager(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page says enough
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load(key: str) -> User | None:
        return accounts.load_login_session(key)


# Session keys that survive signing in: an invitation opened before signing in must
# still be there afterwards, so an existing account can accept it.
KEPT_ACROSS_SIGN_IN = ("invite_token",)


def sign_in(user: User) -> None:
    """Start a login session for ``user`` in this browser and commit it."""
    kept = {k: session[k] for k in KEPT_ACROSS_SIGN_IN if k in session}
    session.clear()  # nothing else from before sign-in carries over (fixation)
    session.update(kept)
    accounts.start_login_session(user)
    db.session.add(SignIn(user_id=user.id))  # the moment only: the export lists them
    db.session.commit()
    session.permanent = True
    login_user(user)


def refresh_cookie(user: User, key: str) -> None:
    """After a password change the old key is gone; put the new one in the cookie."""
    user._login_key = key
    login_user(user)


def sign_out(user: User) -> None:
    key = user.get_id()
    if key:
        sid = accounts.login_session_id(key)
        accounts.end_login_session(key)
        if sid is not None:
            events.disconnect_room(events.login_room(sid))
    db.session.commit()
    logout_user()
    session.clear()
