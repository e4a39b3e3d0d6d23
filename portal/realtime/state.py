"""What each socket is, remembered from its connect.

Handlers look the person up here instead of loading the login session again on every
event; that keeps a send at three SQL statements. It is safe because logout, password
change, removal and closing the chat to professionals all disconnect the affected
sockets (portal.events), and every event still checks circle access in the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """Per-socket rate limit: ``rate`` events a second, bursts up to ``burst``."""

    rate: float = 5.0
    burst: float = 20.0
    tokens: float = 20.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class SocketUser:
    """Enough of the user for access checks (``portal.access`` needs these two)."""

    id: int
    login_session_id: int
    bucket: TokenBucket = field(default_factory=TokenBucket)
    circles: set[int] = field(default_factory=set)
    is_authenticated: bool = True

    @property
    def rooms(self) -> list[str]:
        """The personal rooms used to find this socket again (see registry.py)."""
        from portal import events

        return [events.user_room(self.id), events.login_room(self.login_session_id)]


SOCKETS: dict[str, SocketUser] = {}
