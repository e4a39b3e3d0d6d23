"""The login cookie of a socket, read once instead of on every event.

Flask-SocketIO runs each socket event inside a request context built from the
environ of the socket's handshake, so Flask opens the session cookie again for every
message: checking its signature and decoding it cost about a tenth of the server's
CPU under chat load (bench/README.md). The cookie of a socket never changes after the
handshake, so decoding it once gives exactly the same session. Each event gets its own
deep copy, as it would from a fresh decode: nothing an event changes reaches the next.

Logging out still closes the socket at once (``events.disconnect_room``); nothing
here keeps a session alive.
"""

from __future__ import annotations

import copy

from flask.ctx import RequestContext
from flask.sessions import SecureCookieSessionInterface

_KEY = "kring.socket_session"
_ADAPTER, _MATCHED = "kring.socket_url_adapter", "kring.socket_match"
# The probes a load balancer calls (portal/pages.py) get no session at all: nothing is
# read or written, so they never set or refresh a cookie, even for a browser that has one.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class SocketSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if request.path in PROBE_PATHS:
            return self.make_null_session(app)
        environ = request.environ
        opened = environ.get(_KEY)
        if opened is None:
            opened = super().open_session(app, request)
            if opened is None or not is_socket(environ):
                return opened
            environ[_KEY] = opened
        return self.session_class(copy.deepcopy(dict(opened)))


def is_socket(environ) -> bool:
    """The environ of a socket's handshake, from which Flask-SocketIO builds the request
    context of each of its events."""
    return environ.get("PATH_INFO", "").rstrip("/") == "/socket.io"


def url_adapter(environ, make):
    """The URL map bound to a socket's environ, bound once (``make()``) per socket."""
    adapter = environ.get(_ADAPTER)
    if adapter is None:
        adapter = environ[_ADAPTER] = make()
    return adapter


class SocketRequestContext(RequestContext):
    """The request context of one socket event. Matching the handshake's path against
    the URL map gives the same answer for every event (no route: ``/socket.io/`` is not
    Flask's), so it is matched once per socket. Before, every event raised a
    ``NotFound`` whose traceback tied the context, its request and a dozen frames into a
    cycle that only the garbage collector frees: 70 objects per event, and under chat
    load a full collection of ~20,000 of them every few seconds, which held the process
    for 50-200 ms (bench/README.md)."""

    def match_request(self) -> None:
        environ = self.request.environ
        matched = environ.get(_MATCHED)
        if matched is None:
            super().match_request()
            error = getattr(self.request, "routing_exception", None)
            if error is not None:  # kept without this event's frames
                error.__traceback__ = error.__context__ = None
            matched = environ[_MATCHED] = (self.request.url_rule, self.request.view_args, error)
        rule, args, error = matched
        self.request.url_rule = rule
        self.request.view_args = None if args is None else dict(args)
        if error is not None:
            self.request.routing_exception = error
