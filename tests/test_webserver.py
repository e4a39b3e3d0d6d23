"""The HTTP server ``python app.py`` runs: Nagle's algorithm is off on each connection.

Without ``TCP_NODELAY`` every request after the first on a kept-alive connection
waited ~40 ms (gevent writes headers and body separately; Nagle held the body until
the client's delayed acknowledgement). The delay itself is measured in bench/pages.py;
these tests check the socket option and that ``app.py`` uses the handler that sets it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import gevent
from gevent import pywsgi
from gevent import socket as gsocket

from portal.webserver import NoDelayHandler
from tests.conftest import ROOT


def _nodelay_seen_by_server(handler_class) -> list[int]:
    """Serve two kept-alive requests; each answers its connection's TCP_NODELAY."""

    class Handler(handler_class):
        def get_environ(self):  # hand the accepted socket to the test's app
            return {**super().get_environ(), "test.socket": self.socket}

    def wsgi_app(environ, start_response):
        sock = environ["test.socket"]
        body = str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    server = pywsgi.WSGIServer(("127.0.0.1", 0), wsgi_app, handler_class=Handler, log=None)
    server.start()
    try:
        with gevent.Timeout(10):
            conn = gsocket.create_connection(("127.0.0.1", server.server_port))
            answers = []
            reader = conn.makefile("rb")
            for _ in range(2):  # the same connection twice: keep-alive
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                answers.append(int(reader.read(length)))
            conn.close()
            return answers
    finally:
        server.stop()


def test_every_accepted_connection_has_nagle_off():
    assert _nodelay_seen_by_server(NoDelayHandler) == [1, 1]
    # gevent's own handler leaves it on: that is what the handler is for.
    assert _nodelay_seen_by_server(pywsgi.WSGIHandler) == [0, 0]


def test_app_py_serves_with_the_nodelay_handler(tmp_path):
    """``python app.py`` hands NoDelayHandler to the server (run stubbed: no port)."""
    wrapper = (
        "import runpy, flask_socketio\n"
        "def run(self, app, **kw):\n"
        "    print('handler', kw['handler_class'].__module__, kw['handler_class'].__name__)\n"
        "flask_socketio.SocketIO.run = run\n"
        "runpy.run_path('app.py', run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/k.sqlite3",
        SECRET_KEY="x" * 32,
        MAIL_SEND_INTERVAL="0",
        NOTIFY_INTERVAL="0",
        PURGE_INTERVAL="0",
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "handler portal.webserver NoDelayHandler" in out.stdout
