"""Logs an operator can search: one JSON line per HTTP request and per socket event.

In production (``KRING_ENV=production``) every log record, ours and the libraries'
(Flask, Engine.IO, the mail sender...), goes through structlog's stdlib integration and
comes out on stderr as one JSON object per line. The embedded default keeps Python's
plain messages and logs no requests, as before.

What a line may hold is fixed here, and it is never a secret: the route's *name*
(``invitations.open``), never the path, since paths carry invitation, re-entry, e-mail
and calendar tokens (``/i/<token>``, ``/r/<token>``, ``/e/<token>``,
``/calendar/<token>.ics``); no query string, cookie, header, form field or message body;
a socket's event name and the code of its answer, never its payload or its Engine.IO
session id (with long-polling that id is what lets a client speak for the socket).
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time

import structlog
from flask import Flask, Response, current_app, g, has_request_context, request

log = structlog.get_logger("kring.requests")

# Probes answer many times a minute and say nothing about people: not logged.
QUIET_ENDPOINTS = frozenset({"pages.health", "pages.ready"})
# A request id set by the proxy (nginx's $request_id) is kept, so one id follows a request
# through both logs; anything else a client sends there is replaced by our own.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")

_json_logs = False


def init_app(app: Flask) -> None:
    """Production: JSON logs for the whole process, and a line per request. Registered
    first in ``create_app``, so its clock starts before any other ``before_request``."""
    if app.config.get("KRING_ENV") != "production":
        return
    configure_json()
    app.before_request(_start)
    app.after_request(_finish)


def configure_json(stream=None) -> None:
    """Route every stdlib and structlog record to one JSON line on ``stream`` (stderr)."""
    global _json_logs
    shared = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
        _hide_socket_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    # Engine.IO and Socket.IO give their loggers a plain stderr handler of their own
    # unless a level is already set; with ours they only reach the JSON handler above.
    for name in ("engineio.server", "socketio.server"):
        logging.getLogger(name).setLevel(logging.ERROR)
        logging.getLogger(name).handlers[:] = []
    # Alembic announces each of its plugins at INFO whenever it is imported.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    _json_logs = True


def _add_request_id(_logger, _name, event_dict: dict) -> dict:
    """A record written while a request or socket event runs carries its id."""
    if "request_id" not in event_dict and has_request_context():
        request_id = g.get("request_id")
        if request_id:
            event_dict["request_id"] = request_id
    return event_dict


# Engine.IO names a connection's session id in its own messages ("Invalid session X").
_SOCKET_ID = re.compile(r"\b(session|sid)([ =:]+)[\w-]+", re.I)


def _hide_socket_ids(_logger, _name, event_dict: dict) -> dict:
    """A socket's session id is what a long-polling client presents to speak for the
    connection: never in the log, whoever wrote the line."""
    if str(event_dict.get("logger", "")).startswith(("engineio", "socketio")):
        event = event_dict.get("event")
        if isinstance(event, str):
            event_dict["event"] = _SOCKET_ID.sub(r"\1\2…", event)
    return event_dict


def new_request_id() -> str:
    """nginx's id when Kring runs behind it (PROXY_HOPS), which sets the header on every
    request; without a proxy the header is the visitor's own, and a visitor must not
    choose the id their requests carry in the log (another person's, to muddle it)."""
    behind_proxy = has_request_context() and current_app.config.get("PROXY_HOPS", 0) > 0
    given = request.headers.get("X-Request-ID", "") if behind_proxy else ""
    return given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


def person_id() -> int | None:
    """The signed-in person's user id, if this request already loaded them (Flask-Login
    keeps the user in ``g``); a request that never needed them is not made to load them."""
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id
    return None


def _start() -> None:
    g.request_id = new_request_id()
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    if request.endpoint in QUIET_ENDPOINTS:
        return response
    started = g.get("request_started") or time.perf_counter()
    log.info(
        "http",
        request_id=g.get("request_id"),
        route=request.endpoint,
        method=request.method,
        status=response.status_code,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        person_id=person_id(),
    )
    return response


def start_socket_event() -> float:
    """The clock and a fresh request id for one socket event (each event is its own
    request: the handshake's id would be shared by every event of the socket)."""
    if _json_logs:
        g.request_id = secrets.token_hex(8)
    return time.perf_counter()


def socket_event(name: str, started: float, answer, user_id: int | None) -> None:
    """One line for a socket event (production only): its name, ``ok`` or ``error``
    with the answer's code (``forbidden``, ``rate_limited``...), how long it took."""
    if not _json_logs:
        return
    ok = answer is not False and not (isinstance(answer, dict) and answer.get("ok") is False)
    fields = {"error": answer.get("error")} if isinstance(answer, dict) and not ok else {}
    log.info(
        "socket",
        request_id=g.get("request_id"),
        route=name,
        status="ok" if ok else "error",
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        person_id=user_id,
        **fields,
    )


# What a client sent, quoted in gevent's own messages ("Invalid HTTP method: '...'", the
# request line, a WSGI environ printed with a traceback): never copied into the log.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


class ServerErrors:
    """A file-like sink for what gevent writes by itself (its WSGI server's error log,
    its hub's tracebacks): each line becomes a JSON record, with anything quoted (bytes
    a client sent, request lines, the environ's values) replaced by ``'…'``."""

    _log = logging.getLogger("gevent")

    def write(self, text: str) -> int:
        for line in text.splitlines():
            line = _QUOTED.sub("'…'", line).strip()
            if line:
                self._log.warning("%s", line[:500])
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: ``write`` hands each line to the logger at once."""
