"""Real clients against a running Kring server.

``kring`` starts ``python app.py`` (gevent, the real Engine.IO stack, the real
middleware) in a subprocess on a free port, over a fresh SQLite file built by the real
migrations. People are created the way operators and invitees create them: the
``flask kring`` CLI prints invitation URLs and each one is redeemed over HTTP with
``requests`` (GET /i/<token> -> /join form). Sockets are opened with
``python-socketio``'s real client, carrying the person's cookie and a CSRF token read
from their /account page, exactly as docs/realtime.md tells client writers to.

These tests are marked ``live``: the server runs on its own SQLite file whatever the
pass, and they run in the PostgreSQL pass (tests/conftest.py says why).
"""

from __future__ import annotations

import itertools
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import socketio

from tests.live_server import kring_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "live test password"
_names = itertools.count(1)


def csrf_in(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert m, "no CSRF token on the page"
    return m.group(1)


def wait_until(pred: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class LiveSocket:
    """A ``socketio.Client`` plus what it heard: chat messages, disconnects, refusals."""

    def __init__(
        self,
        server: LiveServer,
        http: requests.Session,
        csrf: str | None,
        *,
        headers: dict | None = None,
        transports: list[str] | None = None,
    ):
        self.server = server
        self.messages: list[dict] = []  # chat:message payloads, in arrival order
        self.connect_error = None
        self.disconnected = threading.Event()
        self.disconnected_at: float | None = None
        self.sio = socketio.Client(reconnection=False, http_session=http, request_timeout=10)
        self.sio.on("chat:message", self.messages.append)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.connect(
            server.url,
            headers=headers or {},
            auth={"csrf": csrf} if csrf is not None else None,
            transports=transports or ["websocket"],
            wait_timeout=5,
        )

    def _on_connect_error(self, data=None):
        self.connect_error = data

    def _on_disconnect(self, *_reason):
        self.disconnected_at = time.monotonic()
        self.disconnected.set()

    @property
    def connected(self) -> bool:
        return self.sio.connected and not self.disconnected.is_set()

    def call(self, event: str, data=None, timeout: float = 10):
        """Emit with an acknowledgement and return it (a tuple ``data`` sends several args).

        As a well-behaved client does, a ``rate_limited`` answer (more than 5 events a
        second, bursts of 20) is waited out and the same event sent again.
        """
        for _ in range(200):
            ack = self.sio.call(event, data, timeout=timeout)
            if not (isinstance(ack, dict) and ack.get("error") == "rate_limited"):
                return ack
            time.sleep(0.1)
        raise AssertionError("still rate limited after 20 s")

    def join(self, circle_id: int, after_seq: int | None = None) -> dict:
        payload = {"circle_id": circle_id}
        if after_seq is not None:
            payload["after_seq"] = after_seq
        ack = self.call("chat:join", payload)
        assert ack["ok"], ack
        return ack

    def send(self, circle_id: int, body: str, client_id: str | None = None) -> dict:
        """Send a new message (a retry after ``rate_limited`` keeps its client id)."""
        client_id = client_id or secrets.token_hex(8)
        return self.call(
            "chat:send", {"circle_id": circle_id, "client_id": client_id, "body": body}
        )

    @classmethod
    def refused(cls, server: LiveServer, http: requests.Session, csrf: str | None, **kw):
        """Try to connect; assert the server refuses; return its ``connect_error`` data."""
        s = cls.__new__(cls)
        try:
            cls.__init__(s, server, http, csrf, **kw)
        except socketio.exceptions.ConnectionError:
            return s.connect_error
        s.close()
        raise AssertionError("the server accepted the socket")

    def close(self) -> None:
        if self.sio.connected:
            ws = getattr(self.sio.eio, "ws", None)
            if ws is not None:
                # websocket-client waits up to 3 s for the server's answering close
                # frame, which gevent's server never sends; the test is over, so a
                # short wait is enough (this was 3 s of every live test's teardown).
                close_ws = ws.close
                ws.close = lambda *_a, **_kw: close_ws(timeout=0.2)
            try:
                self.sio.disconnect()
            except Exception:  # noqa: BLE001 - closing at teardown, best effort
                pass


@dataclass
class Person:
    server: LiveServer
    name: str
    username: str
    http: requests.Session
    sockets: list[LiveSocket] = field(default_factory=list)

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.server.url + path, timeout=10, **kw)

    def post(self, path: str, data: dict | None = None, **kw) -> requests.Response:
        return self.http.post(self.server.url + path, data=data, timeout=10, **kw)

    def csrf(self) -> str:
        page = self.get("/account")
        assert page.status_code == 200 and page.url.endswith("/account"), page.url
        return csrf_in(page.text)

    def socket(self, **kw) -> LiveSocket:
        s = LiveSocket(self.server, self.http, self.csrf(), **kw)
        self.sockets.append(s)
        return s

    def cookie(self) -> str:
        return self.http.cookies.get("kring_session")

    def accept(self, url: str) -> None:
        """Open another circle's invitation while signed in and accept it."""
        page = self.http.get(url, timeout=10)
        assert page.status_code == 200 and page.url == self.server.url + "/join", page.url
        resp = self.post(
            "/join",
            {"csrf_token": csrf_in(page.text), "display_name": self.name},
            allow_redirects=False,
        )
        assert resp.status_code == 302 and "/c/" in resp.headers["Location"], resp.text[:500]

    def another_browser(self) -> Person:
        """The same person signed in on a second device (its own login session)."""
        http = requests.Session()
        page = http.get(self.server.url + "/login", timeout=10)
        resp = http.post(
            self.server.url + "/login",
            data={"login": self.username, "password": PASSWORD, "csrf_token": csrf_in(page.text)},
            timeout=10,
            allow_redirects=False,
        )
        assert resp.status_code == 302, resp.text[:300]
        other = Person(self.server, self.name, self.username, http)
        self.server.people.append(other)
        return other


@dataclass
class LiveServer:
    url: str
    env: dict
    log: Path
    people: list[Person] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def create_circle(self, title: str, coordinator: str) -> tuple[int, str]:
        out = self.cli(
            "kring",
            "create-circle",
            "--title",
            title,
            "--coordinator-name",
            coordinator,
            "--language",
            "en",
        ).split()
        assert len(out) == 2 and out[0].isdigit(), out
        return int(out[0]), out[1]

    def invite(self, circle_id: int, name: str, role: str = "member") -> str:
        out = self.cli("kring", "invite", str(circle_id), "--name", name, "--role", role).split()
        assert len(out) == 1 and out[0].startswith(self.url + "/i/"), out
        return out[0]

    def redeem(self, url: str, name: str) -> Person:
        """Open an invitation link in a fresh browser and make an account on /join."""
        http = requests.Session()
        page = http.get(url, timeout=10)  # /i/<token> redirects to /join
        assert page.status_code == 200 and page.url == self.url + "/join", (
            page.status_code,
            page.url,
        )
        username = f"{re.sub(r'[^a-z0-9]', '', name.lower()) or 'p'}{next(_names)}"
        resp = http.post(
            self.url + "/join",
            data={
                "csrf_token": csrf_in(page.text),
                "display_name": name,
                "username": username,
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
            timeout=30,
            allow_redirects=False,
        )
        assert resp.status_code == 302 and "/c/" in resp.headers["Location"], resp.text[:500]
        assert http.cookies.get("kring_session")
        person = Person(self, name, username, http)
        self.people.append(person)
        return person

    def circle(
        self, title: str, coordinator: str, *others: tuple[str, str]
    ) -> tuple[int, list[Person]]:
        """A circle, its coordinator and ``(name, role)`` others, all signed in over HTTP."""
        circle_id, url = self.create_circle(title, coordinator)
        with ThreadPoolExecutor(4) as pool:  # each CLI run is a new Python process
            urls = list(pool.map(lambda nr: self.invite(circle_id, *nr), others))
        people = [self.redeem(url, coordinator)]
        people += [self.redeem(u, name) for u, (name, _role) in zip(urls, others, strict=True)]
        return circle_id, people

    def close_sockets(self) -> None:
        """Close every socket of the test, in parallel (python-socketio's client may wait
        up to 3 s for the WebSocket close handshake)."""
        sockets = [s for p in self.people for s in p.sockets]
        self.people.clear()
        if sockets:
            with ThreadPoolExecutor(len(sockets)) as pool:
                list(pool.map(LiveSocket.close, sockets))


@pytest.fixture(scope="session")
def _kring_server():
    with kring_server("kring-live-") as (url, env, log, proc):
        server = LiveServer(url=url, env=env, log=log)
        server.proc = proc
        yield server


@pytest.fixture
def kring(_kring_server):
    """The live server; sockets opened during the test are closed after it, and the
    test fails if the server process died or logged a traceback meanwhile.

    A test that feeds the server broken Engine.IO/Socket.IO frames sets
    ``kring.junk_frames_sent``: python-engineio/python-socketio log a traceback for
    each such frame (upstream behaviour, not Kring's); Kring's own failure logs (a
    socket handler's ``server_error``, an HTTP 500) still fail the test.
    """
    start = _kring_server.log.stat().st_size
    _kring_server.junk_frames_sent = False
    yield _kring_server
    _kring_server.close_sockets()
    assert _kring_server.proc.poll() is None, "the server process died"
    with open(_kring_server.log) as f:
        f.seek(start)
        log = f.read()
    for ours in ("socket event", "Exception on "):
        assert ours not in log, log[-3000:]
    if not _kring_server.junk_frames_sent:
        assert "Traceback" not in log, log[-3000:]
