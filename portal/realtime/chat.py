"""Chat socket events. Each one: the frame in protocol.py, then access, then a service."""

from __future__ import annotations

from flask import request
from flask_socketio import join_room, leave_room

from portal import events
from portal.access import access_chat
from portal.realtime import beat, presence
from portal.realtime.protocol import BadRequest, event, require_id, require_int
from portal.services import access_log, notifications
from portal.services import chat as svc
from portal.services.allowance import take_slot

CATCH_UP_LIMIT = 500


@event("chat:join")
def join(user, payload):
    """Join the circle's room, then send what came after ``after_seq``.

    Joining first means nothing falls between the catch-up and the live stream; the
    client drops anything it already has by ``seq``.
    """
    circle_id = require_id(payload, "circle_id")
    after = require_int(payload, "after_seq", optional=True) or 0
    circle, me = access_chat(user, circle_id)
    # A professional reading the chat here is in the access log, page or no page.
    access_log.looked(me, "chat", counted=False)
    join_room(events.circle_room(circle.id))
    beat.joined(events.circle_room(circle.id), circle.message_seq)
    user.circles.add(circle.id)
    rows = svc.messages_after(circle, after, CATCH_UP_LIMIT)
    presence.arrive(circle, request.sid, me.display_name)
    return {
        "ok": True,
        "last_seq": circle.message_seq,
        "messages": [svc.to_dict(m) for m in rows],
        "more": len(rows) == CATCH_UP_LIMIT,
        "here": presence.names(circle.id) if circle.presence_enabled else None,
    }


@event("chat:leave")
def leave(user, payload):
    try:
        circle_id = require_id(payload, "circle_id")
    except LookupError:  # no circle has this id, so no socket is in its room: as below
        return {"ok": True}
    leave_room(events.circle_room(circle_id))
    user.circles.discard(circle_id)
    presence.leave(circle_id, request.sid)
    return {"ok": True}


@event("chat:send", writes=True)
def send(user, payload):
    circle_id = require_id(payload, "circle_id")
    take_slot("chat-send", user.id)  # per person, shared with the form and other sockets
    message, created = svc.send_as(user, circle_id, payload.get("client_id"), payload.get("body"))
    return {"ok": True, "message": message, "duplicate": not created}


@event("chat:edit", writes=True)
def edit(user, payload):
    circle_id = require_id(payload, "circle_id")
    circle, me = access_chat(user, circle_id)
    message = svc.access_message(circle, payload.get("message_id"))
    take_slot("chat-change", user.id)
    return {"ok": True, "message": svc.edit_message(circle, me, message, payload.get("body"))}


@event("chat:delete", writes=True)
def delete(user, payload):
    circle_id = require_id(payload, "circle_id")
    circle, me = access_chat(user, circle_id)
    message = svc.access_message(circle, payload.get("message_id"))
    take_slot("chat-change", user.id)
    return {"ok": True, "message": svc.delete_message(circle, me, message)}


@event("chat:history")
def history(user, payload):
    """Older messages, before ``before_seq`` (keyset, newest page first)."""
    circle_id = require_id(payload, "circle_id")
    before = require_int(payload, "before_seq", minimum=1)
    limit = require_int(payload, "limit", optional=True, minimum=1) or svc.PAGE
    if limit > 200:
        raise BadRequest("limit")
    circle, me = access_chat(user, circle_id)
    access_log.looked(me, "chat", counted=False)
    rows = svc.messages_before(circle, before, limit)
    return {
        "ok": True,
        "messages": [svc.to_dict(m) for m in rows],
        "more": bool(rows) and rows[0].seq > 1,
    }


@event("chat:read")
def read(user, payload):
    circle_id = require_id(payload, "circle_id")
    seq = require_int(payload, "seq", minimum=0)
    _circle, me = access_chat(user, circle_id)
    svc.mark_read(me, seq)
    # Reading the chat live is reading its news: the circle's message and mention lines.
    notifications.mark_seen(user.id, circle_id=circle_id, kinds=notifications.CHAT_KINDS)
    return {"ok": True}
