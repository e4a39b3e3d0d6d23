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

from flask.sessions import SecureCookieSessionInterface

_KEY = "kring.socket_session"
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
            if opened is None or request.path.rstrip("/") != "/socket.io":
                return opened
            environ[_KEY] = opened
        return self.session_class(copy.deepcopy(dict(opened)))
