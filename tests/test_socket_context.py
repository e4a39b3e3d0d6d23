"""A socket event's request context (portal/realtime/session.py): Flask-SocketIO builds
one for every event from the handshake's environ. Matching its path against the URL
map raised a NotFound for every event, whose traceback tied the context, its request
and a dozen frames into a cycle: 70 objects per event for the garbage collector, and
under chat load a full collection every few seconds that held every socket of the
process for 50-200 ms. Counted here, not timed."""

from __future__ import annotations

import gc
import types

import pytest
from flask import Request, request, url_for
from flask.ctx import RequestContext
from werkzeug.exceptions import HTTPException

from portal.extensions import socketio

EVENT_KINDS = (RequestContext, Request, HTTPException, types.FrameType, types.TracebackType)


def _garbage_of(run) -> list:
    """The objects that only the cycle collector frees, made by ``run()``."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.parametrize("name", ["chat:read", "chat:send"])
def test_socket_events_leave_nothing_for_the_cycle_collector(
    app, make_circle, add_member, socket_client, name
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    payloads = [
        {"circle_id": circle.id, "seq": 0}
        if name == "chat:read"
        else {"circle_id": circle.id, "client_id": f"cycle-{i:06d}", "body": "hi"}
        for i in range(12)
    ]
    assert a.emit(name, payloads.pop())["ok"]  # warmed up: caches filled

    def run():
        for p in payloads[:10]:
            assert a.emit(name, p)["ok"]

    garbage = _garbage_of(run)
    # What the events themselves leave: their contexts, requests, errors and frames.
    # (Some statements built per call, ``kind IN (...)`` for one, can leave small
    # cycles of SQLAlchemy's own, depending on its caches and on what ran before.)
    left = [o for o in garbage if isinstance(o, EVENT_KINDS)]
    assert left == [], f"{len(left)} objects of the events in cycles"


def test_a_socket_event_still_has_its_request_and_builds_urls(
    app, make_circle, add_member, socket_client
):
    """The match is kept per socket, not lost: no route for the socket's path (as
    before), and ``url_for`` works inside an event."""
    seen = {}

    @socketio.on("test:probe")
    def probe(_payload=None):
        seen["rule"] = request.url_rule
        seen["error"] = type(getattr(request, "routing_exception", None)).__name__
        seen["url"] = url_for("auth.login")
        return {"ok": True}

    try:
        circle, _ = make_circle()
        a = socket_client(add_member(circle).user)
        for _ in range(2):  # the first event matches, the second reuses the match
            seen.clear()
            a.emit("test:probe", {})
            assert seen == {"rule": None, "error": "NotFound", "url": "/login"}
    finally:
        socketio.server.handlers["/"].pop("test:probe", None)
