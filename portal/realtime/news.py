"""The person's news over the socket: every socket is in its person's room
(``user:<id>``, joined at connect), where ``news`` {"op": "changed"} arrives after a
commit that changed their news (portal.events.news_changed). The page then asks for
its count here, so the badge is right in every open tab."""

from __future__ import annotations

from portal.realtime.protocol import event
from portal.services import notifications


@event("news:count")
def count(user, payload):
    """The signed-in person's unread count. The payload carries nothing: whatever it
    names, the answer is only ever about the socket's own person."""
    return {"ok": True, "count": notifications.unread_count(user.id)}
