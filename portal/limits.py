"""Rate limits shared by several blueprints, read from the configuration at request
time (tests and operators set them through the environment)."""

from __future__ import annotations

from flask import current_app


def login_limit() -> str:
    """Sign-in and password forms, per address."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def token_limit() -> str:
    """Links that carry a secret (invitation, way back in, reset, email), per address."""
    return current_app.config["TOKEN_RATE_LIMIT"]


def export_limit() -> str:
    """Downloads of a whole account or circle, per person: each reads everything."""
    return current_app.config["EXPORT_RATE_LIMIT"]


def person_key() -> str:
    """The signed-in person, wherever they ask from (many addresses, one account)."""
    from flask_limiter.util import get_remote_address
    from flask_login import current_user

    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()
