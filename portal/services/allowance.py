"""Per-person allowances: how many of one kind of thing a person may do in a while.

Per person, not per socket, browser or circle: ten open tabs, the plain forms and
every login session of one person share one allowance. It lives in the rate
limiter's storage (memory in the embedded setup, Redis with several processes), as a
moving window, so all processes count together; one storage call per action. A
refused action is not counted, so waiting always helps. Seeding and the command line
call the services directly and are not limited.
"""

from __future__ import annotations

import functools
import logging

import limits
from flask import current_app
from flask_babel import lazy_gettext as _l
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from portal.extensions import limiter
from portal.services import RateLimited

log = logging.getLogger(__name__)

# kind -> (the config key of its limit, the words for a refusal, the form field).
SENDING_FAST = _l("You are sending very fast. Please wait a moment.")
KINDS = {
    "chat-send": ("CHAT_SEND_RATE_LIMIT", SENDING_FAST),
    # Editing and removing chat messages (each edit keeps a version and goes to everyone).
    "chat-change": ("CHAT_SEND_RATE_LIMIT", SENDING_FAST),
    # Every other change a signed-in person makes in a circle (chat has its own above).
    "writes": (
        "WRITE_RATE_LIMIT",
        _l("You are doing a lot very quickly. Please wait a moment."),
    ),
}


@functools.cache
def _parse_limit(text: str) -> limits.RateLimitItem:
    return limits.parse(text)


_window: MovingWindowRateLimiter | None = None


def _moving_window(storage) -> MovingWindowRateLimiter:
    """Built once per storage (the limiter's storage is made when the app starts)."""
    global _window
    if _window is None or _window.storage is not storage:
        _window = MovingWindowRateLimiter(storage)
    return _window


_local: MovingWindowRateLimiter | None = None
_shared_down = False


def _hit(item: limits.RateLimitItem, kind: str, user_id: int) -> bool:
    """One hit on the shared storage; while it is away (Redis down), on this process's
    memory instead. The allowance is then per process for a while, a little looser,
    rather than every chat message refused: the chat keeps working through a Redis
    outage, and the sequence beat delivers what the message queue could not."""
    global _local, _shared_down
    storage = limiter.storage
    try:
        ok = _moving_window(storage).hit(item, kind, str(user_id))
    except getattr(storage, "base_exceptions", ()) as exc:
        if not _shared_down:
            log.warning(
                "rate limit storage unreachable (%s); counting per process", type(exc).__name__
            )
        _shared_down = True
        if _local is None:
            _local = MovingWindowRateLimiter(MemoryStorage())
        return _local.hit(item, kind, str(user_id))
    if _shared_down:
        log.warning("rate limit storage reachable again")
        _shared_down, _local = False, None
    return ok


def take_slot(kind: str, user_id: int, field: str | None = "body") -> None:
    """Count one ``kind`` action for this person, or refuse it: RateLimited."""
    config_key, message = KINDS[kind]
    item = _parse_limit(current_app.config[config_key])
    if not _hit(item, kind, user_id):
        raise RateLimited(message, field)
