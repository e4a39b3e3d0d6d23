"""Who is here now, per circle, for circles that switched it on.

Kept in this process's memory: with several processes behind a load balancer each
knows only its own sockets (see docs/architecture.md). Nothing is sent for a circle
with presence off, so nobody's online status leaks where the circle did not allow it.
"""

from __future__ import annotations

from portal import events
from portal.extensions import socketio
from portal.models import Circle

# circle id -> socket id -> display name
_HERE: dict[int, dict[str, str]] = {}
# circle id -> whether the circle shows presence, as last seen. Kept here so that a
# disconnect (which can happen inside a commit hook) needs no database query.
_ENABLED: dict[int, bool] = {}


def names(circle_id: int) -> list[str]:
    return sorted(set(_HERE.get(circle_id, {}).values()))


def arrive(circle: Circle, sid: str, name: str) -> None:
    _HERE.setdefault(circle.id, {})[sid] = name
    _ENABLED[circle.id] = circle.presence_enabled
    if circle.presence_enabled:
        _announce(circle.id)


def leave(circle_id: int, sid: str) -> None:
    here = _HERE.get(circle_id)
    if here and here.pop(sid, None) is not None and _ENABLED.get(circle_id):
        _announce(circle_id)


def set_enabled(circle_id: int, enabled: bool) -> None:
    """Called after commit when the central persons switch presence on or off
    (``events.presence_switched``; registered in ``portal.realtime``)."""
    _ENABLED[circle_id] = enabled
    if enabled:
        _announce(circle_id)
    else:
        socketio.emit(
            "presence",
            {"type": "presence", "op": "update", "circle_id": circle_id, "here": None},
            to=events.circle_room(circle_id),
        )


def forget_socket(sid: str) -> None:
    for circle_id in [cid for cid, here in _HERE.items() if sid in here]:
        leave(circle_id, sid)


def _announce(circle_id: int) -> None:
    socketio.emit(
        "presence",
        {"type": "presence", "op": "update", "circle_id": circle_id, "here": names(circle_id)},
        to=events.circle_room(circle_id),
    )
