"""Socket events of the private line (issue 14), shaped like the chat's
(portal/realtime/chat.py): each one goes through the frame in protocol.py, then
``access.access_line`` (the line's two people only; everyone else gets ``not_found``,
as for a line that does not exist), then ``services.lines``. No access log: nobody
whose looks are recorded can open a line."""

from __future__ import annotations

from flask_socketio import join_room, leave_room

from portal import events
from portal.access import access_line
from portal.realtime import beat
from portal.realtime.protocol import BadRequest, event, require_id, require_int
from portal.services import lines as svc
from portal.services.allowance import take_slot

CATCH_UP_LIMIT = 500


def _line(user, payload):
    circle_id = require_id(payload, "circle_id")
    line_id = require_id(payload, "line_id")
    return access_line(user, circle_id, line_id)


@event("line:join")
def join(user, payload):
    """Join the line's room, then send what came after ``after_seq`` (joining first, so
    nothing falls between the catch-up and the live stream)."""
    after = require_int(payload, "after_seq", optional=True) or 0
    _circle, _me, line = _line(user, payload)
    join_room(events.line_room(line.id))
    beat.joined(events.line_room(line.id), line.message_seq)
    rows = svc.messages_after(line, after, CATCH_UP_LIMIT)
    return {
        "ok": True,
        "last_seq": line.message_seq,
        "messages": [svc.to_dict(m) for m in rows],
        "more": len(rows) == CATCH_UP_LIMIT,
    }


@event("line:leave")
def leave(user, payload):
    """Leaving a room needs no access: the answer is the same for every line, one that
    exists or not, and for a number that cannot be an id (no socket is in such a room),
    like ``chat:leave``."""
    try:
        require_id(payload, "circle_id")
        line_id = require_id(payload, "line_id")
    except LookupError:
        return {"ok": True}
    leave_room(events.line_room(line_id))
    return {"ok": True}


@event("line:send", writes=True)
def send(user, payload):
    take_slot("chat-send", user.id)  # the chat's allowance: per person, over every door
    _circle, me, line = _line(user, payload)
    message, created = svc.send_message(line, me, payload.get("client_id"), payload.get("body"))
    return {"ok": True, "message": message, "duplicate": not created}


@event("line:history")
def history(user, payload):
    before = require_int(payload, "before_seq", minimum=1)
    limit = require_int(payload, "limit", optional=True, minimum=1) or svc.PAGE
    if limit > 200:
        raise BadRequest("limit")
    _circle, _me, line = _line(user, payload)
    rows = svc.messages_before(line, before, limit)
    return {
        "ok": True,
        "messages": [svc.to_dict(m) for m in rows],
        "more": bool(rows) and rows[0].seq > 1,
    }


@event("line:read")
def read(user, payload):
    seq = require_int(payload, "seq", minimum=0)
    _circle, me, line = _line(user, payload)
    svc.mark_read(line, me, seq)
    return {"ok": True}
