"""How pages look for the signed-in person (issue 14): simple mode, the discreet tab
title, and the "Leave quickly" address, for every template.

Simple mode is the same pages and templates with ``<body class="simple">``, a short
menu (Home, Messages, My tasks) and a few ``{% if simple %}`` wording swaps; the CSS
lives in static/css/kring.css under "Simple mode". Nothing here decides access: the
"Messages" link asks ``portal.access`` which chats the person may read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, url_for
from flask_login import current_user

from portal.access import can_read_chat


def _signed_in_user():
    return current_user if current_user and current_user.is_authenticated else None


def messages_url() -> str:
    """Simple mode's "Messages": the chat when there is exactly one to read, else the
    list of circles (where each circle's chat is one tap further)."""
    user = _signed_in_user()
    seats = [m for m in user.memberships if can_read_chat(m)] if user else []
    if len(seats) == 1:
        return url_for("chat.show", circle_id=seats[0].circle_id)
    return url_for("circles.list_circles")


def check_quick_exit_url(url: str) -> str:
    """The operator's QUICK_EXIT_URL must be a web address (it becomes a link's href)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("QUICK_EXIT_URL must be an http:// or https:// address")
    return url


def init_app(app: Flask) -> None:
    check_quick_exit_url(app.config["QUICK_EXIT_URL"])

    @app.context_processor
    def _display():
        user = _signed_in_user()
        return {
            "simple": bool(user and user.simple_mode),
            # The tab says "Notes" for someone who must hide the app, and in simple mode
            # (issue 14: "in simple and safe setups the browser tab title is neutral").
            "discreet": bool(user and (user.discreet or user.simple_mode)),
            "quick_exit_url": current_app.config["QUICK_EXIT_URL"],
            "simple_messages_url": messages_url,
        }
