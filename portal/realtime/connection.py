"""Connecting and disconnecting.

A socket is accepted only when: its Origin is on the allow-list (Engine.IO checks
``cors_allowed_origins`` before this runs), the cookie belongs to a live login
session, and the ``auth`` payload carries the page's CSRF token. The token binds the
socket to a page of ours, the same guarantee a form's token gives; every event on the
socket then rides on that check.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from flask_wtf.csrf import ValidationError, validate_csrf

from portal import logs, storage
from portal.extensions import socketio
from portal.realtime import presence
from portal.realtime.protocol import error
from portal.realtime.registry import registry
from portal.realtime.state import SOCKETS, SocketUser
from portal.services import accounts


def _sent_by_client() -> bool:
    """True when a connected client emitted "connect" or "disconnect" as an ordinary
    event (Socket.IO dispatches it to the same handler). During a real connect or
    disconnect the socket is pending, so the manager does not count it as connected.
    Without this check a client could re-run on_connect to refill its rate limit."""
    return socketio.server.manager.is_connected(request.sid, request.namespace)


@socketio.on("connect")
def on_connect(auth=None):
    """Accept or refuse the socket, with one log line either way (production)."""
    started = logs.start_socket_event()
    try:
        accepted = _connect(auth)
    except ConnectionRefusedError as e:
        logs.socket_event("connect", started, error(str(e.args[0])), None)
        raise
    user = SOCKETS.get(request.sid) if accepted else None
    logs.socket_event("connect", started, accepted, user.id if user else None)
    return accepted


def _connect(auth) -> bool:
    if _sent_by_client():
        return False
    try:
        return _accept(auth)
    except ConnectionRefusedError:
        raise
    except Exception as e:
        if not storage.unreachable(e):
            raise
        # The database is out of reach: refuse with a reason the page retries on
        # (static/js/news.js), where a bare failure would leave it offline for good.
        storage.let_go()
        storage.note(e, "connect")
        raise ConnectionRefusedError("unavailable") from None


def _accept(auth) -> bool:
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("unauthorized")
    token = auth.get("csrf") if isinstance(auth, dict) else None
    try:
        validate_csrf(token)
    except ValidationError:
        raise ConnectionRefusedError("csrf") from None
    login_id = accounts.login_session_id(current_user.get_id())
    if login_id is None:
        raise ConnectionRefusedError("unauthorized")
    user = SocketUser(id=current_user.id, login_session_id=login_id)
    SOCKETS[request.sid] = user
    for room in user.rooms:
        join_room(room)
    registry().add(request.sid, user.rooms)
    return True


@socketio.on("disconnect")
def on_disconnect(*_args):
    if _sent_by_client():
        return
    user = SOCKETS.pop(request.sid, None)
    if user is not None:
        registry().remove(request.sid, user.rooms)
        presence.forget_socket(request.sid)


@socketio.on("*")
def on_unknown(event_name, *_args):
    """Events nobody handles get an error acknowledgement, not silence."""
    return error("unknown_event")
