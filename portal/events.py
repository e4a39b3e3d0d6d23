"""Realtime events, sent only after the transaction that caused them has committed.

Services call ``publish`` or ``disconnect_user`` while they work; nothing leaves the
server until the database commit succeeds. A rollback drops the queue, so no one is
told about something that did not happen. Events go to one circle's room (or one
user's), never to everyone.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_sqlalchemy.session import Session
from sqlalchemy import event

from portal.extensions import socketio

_KEY = "kring_after_commit"


def circle_room(circle_id: int) -> str:
    return f"circle:{circle_id}"


def plan_room(circle_id: int) -> str:
    """Those following the plan and meetings (``plan:join``): professionals too, so it is
    kept apart from the circle room, which carries the chat and who is in it."""
    return f"plan:{circle_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def login_room(login_session_id: int) -> str:
    return f"login:{login_session_id}"


def _queue(session, fn: Callable[[], None]) -> None:
    session.info.setdefault(_KEY, []).append(fn)


def _current_session():
    from portal.extensions import db

    return db.session()


def after_commit(fn: Callable[[], None]) -> None:
    """Run ``fn`` once the current transaction has committed (dropped on rollback)."""
    _queue(_current_session(), fn)


def publish(circle_id: int, payload: dict, *, event_name: str = "event") -> None:
    """Send ``payload`` (a dict with ``type`` and ``op``) to the circle's room after commit
    (``plan:event`` to the circle's plan room)."""
    assert "type" in payload and "op" in payload
    room = plan_room(circle_id) if event_name == "plan:event" else circle_room(circle_id)
    _queue(_current_session(), lambda: socketio.emit(event_name, payload, to=room))


def emit_to_user(user_id: int, event_name: str, payload: dict) -> None:
    """Send now (call it from an after-commit callback) to one person's sockets."""
    socketio.emit(event_name, payload, to=user_room(user_id))


def disconnect_room(room: str) -> None:
    """Close every socket in ``room`` after commit (used on removal and logout)."""
    _queue(_current_session(), lambda: _disconnect_now(room))


def disconnect_user(user_id: int) -> None:
    """Close the user's sockets: they reconnect and rejoin only what they may still see."""
    disconnect_room(user_room(user_id))


def _disconnect_now(room: str) -> None:
    """Close the sockets registered under ``room``, in this process or any other (with
    the Redis message queue, ``disconnect`` is forwarded to the owning process)."""
    from portal.realtime.registry import registry

    server = socketio.server
    if server is None:
        return
    for sid in registry().members(room):
        server.disconnect(sid, namespace="/")


@event.listens_for(Session, "after_commit")
def _run_after_commit(session) -> None:
    pending = session.info.pop(_KEY, [])
    for fn in pending:
        fn()


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session) -> None:
    session.info.pop(_KEY, None)
