"""The gevent HTTP handler ``python app.py`` serves with (see ``app.py``).

gevent's ``pywsgi`` writes a response's headers and its body in two ``send`` calls.
On a kept-alive connection Nagle's algorithm holds the second (small) segment until
the client acknowledges the first, and the client delays that acknowledgement by
about 40 ms: every request after the first on a connection took ~42 ms instead of
1-5 ms (bench/README.md, "Pages"). Setting ``TCP_NODELAY`` on each accepted socket
sends every write at once. WebSocket frames are small writes too, and gain the same.
"""

from __future__ import annotations

import contextlib
import socket

from gevent import pywsgi


def set_nodelay(sock) -> None:
    """Switch Nagle's algorithm off on a TCP socket (nothing to do on a Unix socket)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # The peer may already be gone: the handler will notice, nothing to do here.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHandler(pywsgi.WSGIHandler):
    """gevent's WSGI handler with ``TCP_NODELAY`` set on the connection it serves."""

    def __init__(self, sock, address, server, rfile=None):
        set_nodelay(sock)
        super().__init__(sock, address, server, rfile)
