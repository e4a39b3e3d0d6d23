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
