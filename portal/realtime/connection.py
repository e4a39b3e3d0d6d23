"""Connecting: only signed-in people, only from allowed origins.

The Origin allow-list is enforced by Engine.IO (``cors_allowed_origins``) before this
handler runs. Here we refuse anyone without a live login session, and put the socket
in the rooms that let us reach it later: its user (to disconnect on removal or
password change) and its login session (to disconnect on logout).
"""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from portal import events
from portal.extensions import db, socketio
from portal.services import accounts


@socketio.on("connect")
def on_connect(auth=None):
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("unauthorized")
    sid = accounts.login_session_id(current_user.get_id())
    if sid is None:
        raise ConnectionRefusedError("unauthorized")
    join_room(events.user_room(current_user.id))
    join_room(events.login_room(sid))
    db.session.remove()
    return True
