"""Plan socket events: follow a circle's plan live (ticks, votes, new versions)."""

from __future__ import annotations

from flask_socketio import join_room

from portal import events
from portal.access import access_circle
from portal.realtime.protocol import event, require_id


@event("plan:join")
def join(user, payload):
    """Everyone in the circle may read the plan, professionals included."""
    circle_id = require_id(payload, "circle_id")
    circle, _me = access_circle(user, circle_id)
    join_room(events.plan_room(circle.id))  # not the circle room: that has the chat
    user.circles.add(circle.id)
    return {"ok": True}
