"""A short PostgreSQL outage, seen by the people using Kring (issue 15, part D).

A real server (``python app.py``) runs on a PostgreSQL database of its own, reached
through a TCP proxy in this file that can cut every connection and refuse new ones,
as a restart or a failover does. During the cut: a page answers a friendly 503 (no
traceback), a socket send answers ``unavailable``, the chat form answers 503 with the
text kept for "Send again". When the proxy is back, without restarting anything: the
same client ids resent are stored once, pages answer 200, and the other person has
every message exactly once, in order.

It needs PostgreSQL (TEST_DATABASE_URL's server) and runs in the PostgreSQL pass; it
fails, not skips, when that server cannot be reached.
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from contextlib import contextmanager, suppress

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.fresh_database import postgres_database
from tests.live.conftest import LiveServer, LiveSocket, csrf_in, wait_until
from tests.live_server import free_port, kring_server

pytestmark = [pytest.mark.postgres_only]

AWAY = "Kring is not working for a moment."


class CuttableProxy:
    """Accepts on a free local port and pipes each connection to PostgreSQL.

    ``cut()`` closes every piped connection and, until ``restore()``, closes each new
    one as soon as it is accepted: to the server's driver, the database is gone."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = free_port()
        self.refusing = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        with suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            s.close()

    def cut(self) -> None:
        self.refusing.set()
        with self._lock:
            live = list(self._open)
        for s in live:
            self._close(s)

    def restore(self) -> None:
        self.refusing.clear()

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        with suppress(OSError):
            self._listener.close()


@contextmanager
def own_database():
    """A fresh database on TEST_DATABASE_URL's server (its URL), dropped afterwards."""
    assert ON_POSTGRES, "this test runs in the PostgreSQL pass (TEST_DATABASE_URL)"
    with postgres_database(DATABASE_URL, f"kring_outage_{secrets.token_hex(4)}") as url:
        yield make_url(url)


def _client_ids(html: str) -> str:
    m = re.search(r'name="client_id"[^>]*value="([^"]*)"', html) or re.search(
        r'value="([^"]*)"[^>]*name="client_id"', html
    )
    assert m, "no client_id on the page"
    return m.group(1)


def test_a_short_outage_loses_nothing_and_doubles_nothing():
    with own_database() as url:
        proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
        through_proxy = url.set(host="127.0.0.1", port=proxy.port)
        try:
            with kring_server(
                "kring-outage-", database_url=through_proxy.render_as_string(False)
            ) as (server_url, env, log, proc):
                _outage(LiveServer(url=server_url, env=env, log=log), proc, log, proxy)
        finally:
            proxy.stop()


def _outage(kring: LiveServer, proc, log, proxy: CuttableProxy) -> None:
    circle_id, (ann, bob) = kring.circle("Outage", "Ann", ("Bob", "member"))
    chat = f"/c/{circle_id}/chat"
    page = ann.get(chat)
    assert page.status_code == 200
    form_csrf, form_client_id = csrf_in(page.text), _client_ids(page.text)
    a, b = ann.socket(), bob.socket()
    try:
        a.join(circle_id)
        b.join(circle_id)
        before = a.send(circle_id, "before the cut")
        assert before["ok"], before
        csrf_for_later = ann.csrf()

        proxy.cut()
        # A page: the friendly words, no traceback, and a 503 that says to come back.
        down = ann.get(chat)
        assert down.status_code == 503, down.text[:500]
        assert AWAY in down.text and "Nothing you typed is lost" in down.text
        assert "Traceback" not in down.text and "psycopg" not in down.text
        assert down.headers.get("Retry-After")
        # A socket send: "not sent yet", for the outbox to keep and resend.
        cut_id = secrets.token_hex(8)
        ack = a.send(circle_id, "typed during the cut", client_id=cut_id)
        assert ack == {"ok": False, "error": "unavailable"}, ack
        # The chat form (no JavaScript): 503, and the text comes back, ready to resend.
        posted = ann.post(
            chat,
            {"csrf_token": form_csrf, "client_id": form_client_id, "body": "posted during the cut"},
            allow_redirects=False,
        )
        assert posted.status_code == 503, posted.text[:500]
        assert "posted during the cut" in posted.text and form_client_id in posted.text
        assert "Traceback" not in posted.text
        # A socket opened now is refused with a reason the page retries on.
        assert LiveSocket.refused(kring, ann.http, csrf_for_later) == {"message": "unavailable"}
        time.sleep(5)  # the outage lasts 5 s in all
        ack = a.send(circle_id, "typed during the cut", client_id=cut_id)
        assert ack["error"] == "unavailable", ack

        proxy.restore()
        # The same process recovers by itself: pages answer again.
        assert wait_until(lambda: ann.get(chat).status_code == 200, timeout=30)
        # The outbox resends with the same client id: stored once, the second a duplicate.
        again = a.send(circle_id, "typed during the cut", client_id=cut_id)
        assert again["ok"] and not again["duplicate"], again
        twice = a.send(circle_id, "typed during the cut", client_id=cut_id)
        assert twice["ok"] and twice["duplicate"], twice
        assert twice["message"]["id"] == again["message"]["id"]
        # "Send again" on the 503 page posts what it was given: stored once too.
        for _ in range(2):
            resent = ann.post(
                chat,
                {
                    "csrf_token": csrf_in(posted.text),
                    "client_id": _client_ids(posted.text),
                    "body": "posted during the cut",
                },
                allow_redirects=False,
            )
            assert resent.status_code == 302, resent.text[:500]
        after = a.send(circle_id, "after the cut")
        assert after["ok"], after

        bodies = [
            "before the cut",
            "typed during the cut",
            "posted during the cut",
            "after the cut",
        ]
        # Bob, connected all along, heard each message once, in order.
        assert wait_until(lambda: len(b.messages) >= len(bodies), timeout=10)
        time.sleep(0.5)  # a double would arrive now
        assert [m["message"]["body"] for m in b.messages] == bodies, b.messages
        # And a catch-up from the start has each once, numbered without a gap.
        caught = bob.socket().join(circle_id, after_seq=0)["messages"]
        assert [m["body"] for m in caught] == bodies
        assert [m["seq"] for m in caught] == [1, 2, 3, 4]
    finally:
        kring.close_sockets()
    assert proc.poll() is None, "the server process died"
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "database out of reach" in text  # the operator hears of it...
    assert "during the cut" not in text  # ...without a word of anyone's message
