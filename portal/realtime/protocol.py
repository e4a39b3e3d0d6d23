"""The frame around every socket event: rate limit, payload checks, error acks.

Each handler is wrapped by ``event``: before any database work it checks that the
socket is known and under its rate limit and that the payload is a dict; a broken
payload or a bug answers ``{"ok": false, "error": ...}`` without a traceback, and
the server carries on serving everyone else.
"""

from __future__ import annotations

import functools
import logging

from flask import request
from werkzeug.exceptions import HTTPException

from portal import logs, storage
from portal.access import CircleClosed
from portal.extensions import db, socketio
from portal.ids import MAX_ID, is_id
from portal.realtime.state import SOCKETS
from portal.services import Forbidden, RateLimited, ServiceError

log = logging.getLogger(__name__)


def error(code: str, message: str | None = None) -> dict:
    out = {"ok": False, "error": code}
    if message:
        out["message"] = message
    return out


class BadRequest(Exception):
    """A payload field has the wrong type or is missing; args[0] names the field."""


def require_int(payload: dict, key: str, *, optional: bool = False, minimum: int = 0) -> int | None:
    """A whole number (a sequence number, a limit) within what the database can hold."""
    value = payload.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_ID:
        raise BadRequest(key)
    return value


def require_id(payload: dict, key: str) -> int:
    """The id of a circle or of something in it.

    Not a number at all: a bad request. A number that cannot be an id (0, -1, 2**63):
    "not_found", exactly as for an id that does not exist (portal.ids).
    """
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(key)
    if not is_id(value):
        raise LookupError(key)
    return value


def answer_for(e: Exception) -> dict:
    """The acknowledgement for an event that failed: one table for every handler."""
    if isinstance(e, BadRequest):
        return error("bad_request", f"invalid field: {e.args[0]}")
    if isinstance(e, RateLimited):  # before ServiceError, its parent
        return error("rate_limited", str(e.message))
    if isinstance(e, ServiceError):
        return error("invalid", str(e.message))
    if isinstance(e, Forbidden):
        return error("forbidden")
    if isinstance(e, LookupError):
        return error("not_found")
    if isinstance(e, CircleClosed):  # before HTTPException, its parent
        return error("closed")
    if isinstance(e, HTTPException):
        return error("not_found" if e.code == 404 else "forbidden")
    if storage.unreachable(e):
        # No ``message``: choosing its language would read the person from the database.
        return error("unavailable")
    return error("server_error")


def event(name: str, *, writes: bool = False):
    """Register ``fn(user, payload)`` as the handler of socket event ``name``.

    ``writes``: the event changes something in a circle, so a closed circle refuses it
    (``access.writing`` reads the mark this leaves on the event's request)."""

    def wrap(fn):
        def answer(user, payload, extra):
            if user is None:
                return error("unauthorized")
            if not user.bucket.take():
                return error("rate_limited")
            if not isinstance(payload, dict) or extra:
                return error("bad_request")
            request.kring_writes = writes
            try:
                result = fn(user, payload)
                db.session.commit()
                return result
            except Exception as e:  # noqa: BLE001 - every failure gets an answer
                storage.let_go()
                answer = answer_for(e)
                if answer["error"] == "server_error":
                    log.exception("socket event %s failed", name)
                elif answer["error"] == "unavailable":
                    storage.note(e, name)
                return answer

        @functools.wraps(fn)
        def handler(payload=None, *extra):
            started = logs.start_socket_event()
            user = SOCKETS.get(request.sid)
            result = answer(user, payload, extra)
            logs.socket_event(name, started, result, user.id if user else None)
            return result

        socketio.on_event(name, handler)
        return handler

    return wrap
