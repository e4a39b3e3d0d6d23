"""Kring as it runs in production, small: two ``python app.py`` processes sharing one
PostgreSQL database and one Redis (the Socket.IO message queue), each piece started by
the test so it can be stopped, killed and started again.

* ``RedisServer``: its own ``redis-server`` on a free port (no snapshots, no AOF).
* ``pg_database()``: its own PostgreSQL database on the server of TEST_DATABASE_URL
  (tests/fresh_database.py), built by ``flask db upgrade`` and dropped afterwards.
  No TEST_DATABASE_URL or no PostgreSQL: the fixture fails, it never skips.
* ``KringProcess``: one ``python app.py`` on a free port, started and stopped as
  tests/live_server.py does (its env, with DATABASE_URL and REDIS_URL; KRING_ENV unset).
* ``Cluster``: the above together, people made as tests/live does (CLI invitation,
  HTTP join), and ``Reader``: a python-socketio client that follows the catch-up rule
  of docs/realtime.md as conversation.js does, and remembers what it saw.

Shared by the fault tests (tests/faults); import what you need from here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
import socketio

from tests.fresh_database import postgres_database
from tests.live.conftest import LiveServer, Person, csrf_in
from tests.live_server import (
    free_port,
    migrate,
    server_env,
    start_app,
    stop_process,
    wait_healthy,
)

CHANNEL = "flask-socketio"  # Flask-SocketIO's default message-queue channel


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` seconds pass; the last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except Exception:  # noqa: BLE001 - e.g. Redis not up yet: keep polling
            pass
        time.sleep(step)
    return bool(pred())


# --- Redis ---------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of the test's own, on a free port, that can be stopped and
    started again on the same port (never the machine's Redis)."""

    def __init__(self, tmp: Path):
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(lambda: self.client().ping(), 10), "redis-server did not start"

    def stop(self) -> None:
        """Stop it at once (SIGKILL: an outage, not a goodbye)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def subscribers(self, channel: str = CHANNEL) -> int:
        """How many connections listen on the Socket.IO channel (``PUBSUB NUMSUB``)."""
        return dict(self.client().pubsub_numsub(channel)).get(channel.encode(), 0)


# --- PostgreSQL ----------------------------------------------------------------------


@contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database of its own (URL); dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    assert base.startswith("postgresql"), (
        "the fault tests need PostgreSQL: set TEST_DATABASE_URL (see the Makefile)"
    )
    with postgres_database(base, f"kring_faults_{secrets.token_hex(4)}") as url:
        yield url


# --- Kring processes -----------------------------------------------------------------


def base_env(tmp: Path, database_url: str, redis_url: str, port: int, origins: str) -> dict:
    """What every process of the cluster shares: one database, one Redis, one secret
    key (a cookie made on one process is good on the other), one public address (the
    first process's, on ``port``); each process sets its own PORT."""
    return server_env(
        tmp,
        port,
        database_url,
        REDIS_URL=redis_url,
        SOCKET_ALLOWED_ORIGINS=origins,
        CHAT_SEND_RATE_LIMIT="10000 per minute",
        WRITE_RATE_LIMIT="10000 per minute",
        MAIL_SEND_INTERVAL="1",
        PURGE_INTERVAL="0",
    )


class KringProcess:
    """One ``python app.py`` of the cluster."""

    def __init__(self, name: str, tmp: Path, port: int, env: dict):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(env, PORT=str(port))
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = start_app(self.env, self.log, mode="a")

    def wait_ready(self, timeout: float = 60) -> None:
        wait_healthy(self.url, self.proc, self.log, timeout)

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever, as in a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    tmp: Path
    redis: RedisServer
    database_url: str
    processes: list[KringProcess]
    # People are made through the first process (the CLI prints its address).
    site: LiveServer = field(init=False)

    def __post_init__(self):
        first = self.processes[0]
        self.site = LiveServer(url=first.url, env=first.env, log=first.log)

    def circle(self, title: str, coordinator: str, *others: tuple[str, str]):
        """``(circle_id, [people])``: made with the CLI and joined over HTTP."""
        return self.site.circle(title, coordinator, *others)

    def demo(self) -> tuple[int, dict[str, Person]]:
        """The lived-in demo circle (``flask kring demo``: one CLI run gives a plan with
        ticks, a date poll and chat history) and one person per role, joined over HTTP."""
        out = self.site.cli("kring", "demo").strip().splitlines()
        circle_id = int(out[0].split()[2].rstrip(":"))
        people = {}
        for line in out[1:]:
            role, url = line.split(": ", 1)
            people[role] = self.site.redeem(url.strip(), role.capitalize())
        return circle_id, people

    def reader(self, person: Person, process: KringProcess, circle_id: int) -> Reader:
        return Reader(person, process, circle_id)

    def heal(self) -> None:
        """Everything up again after a test that stopped or killed something: Redis
        running, every process alive. (A process subscribes to the queue when its
        first socket connects: python-socketio starts the listener then.)"""
        if self.redis.proc is None:
            self.redis.start()
        for p in self.processes:
            if not p.alive:
                p.start()
        for p in self.processes:
            p.wait_ready()

    def close(self) -> None:
        self.site.close_sockets()


@contextmanager
def cluster(processes: int = 2) -> Iterator[Cluster]:
    """Redis, a PostgreSQL database and ``processes`` Kring processes, all the test's own;
    everything stopped and removed afterwards (KRING_KEEP_E2E=1 keeps the logs)."""
    tmp = Path(tempfile.mkdtemp(prefix="kring-faults-"))
    red = RedisServer(tmp)
    red.start()
    procs: list[KringProcess] = []
    readers_before = list(Reader.open)
    try:
        with pg_database() as db_url:
            ports = [free_port() for _ in range(processes)]
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            env = base_env(tmp, db_url, red.url, ports[0], ",".join(urls))
            migrate(env)
            procs = [KringProcess(f"kring{i + 1}", tmp, p, env) for i, p in enumerate(ports)]
            for p in procs:
                p.start()
            for p in procs:
                p.wait_ready()
            c = Cluster(tmp, red, db_url, procs)
            try:
                yield c
            finally:
                for r in [r for r in Reader.open if r not in readers_before]:
                    r.close()
                c.close()
                for p in procs:
                    p.stop()
    finally:
        for p in procs:
            p.stop()
        red.stop()
        if not os.environ.get("KRING_KEEP_E2E"):
            shutil.rmtree(tmp, ignore_errors=True)


# --- A reader that follows the catch-up rule -----------------------------------------


class Reader:
    """An open chat page, in Python: a socket to one process, joined to one circle,
    that keeps what it saw by ``seq`` and catches up (``chat:join after_seq``) as
    conversation.js does: on (re)connect, on a live message past a hole, and on a beat
    (``chat:latest``) above what it holds whole. Also counts plan and news events."""

    open: list[Reader] = []

    def __init__(self, person: Person, process: KringProcess, circle_id: int):
        self.person = person
        self.circle_id = circle_id
        self.held: dict[int, str] = {}  # seq -> body
        self.live: list[int] = []  # seqs of live chat:message "new" events, as they came
        self.plan_events: list[dict] = []
        self.news_events = 0
        self.beats = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.sio: socketio.Client | None = None
        self.process: KringProcess | None = None
        self.open.append(self)
        self.connect(process)
        self._worker = threading.Thread(target=self._catch_up_loop, daemon=True)
        self._worker.start()

    # What the page shows.
    @property
    def whole(self) -> int:
        with self._lock:
            n = 0
            while n + 1 in self.held:
                n += 1
            return n

    def seqs(self) -> list[int]:
        with self._lock:
            return sorted(self.held)

    def connect(self, process: KringProcess) -> None:
        """Open a socket to ``process`` (a new one after a crash) and catch up."""
        self.process = process
        sio = socketio.Client(reconnection=False, http_session=self.person.http)
        sio.on("chat:message", self._on_message)
        sio.on("chat:latest", self._on_latest)
        sio.on("plan:event", self.plan_events.append)
        sio.on("news", self._on_news)
        csrf = csrf_in(self.person.http.get(process.url + "/account", timeout=10).text)
        sio.connect(process.url, auth={"csrf": csrf}, transports=["websocket"], wait_timeout=10)
        self.sio = sio
        assert sio.call("plan:join", {"circle_id": self.circle_id}, timeout=10)["ok"]
        self.catch_up()

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    def catch_up(self) -> None:
        """``chat:join`` after the last whole stretch, repeated while ``more``."""
        while True:
            ack = self.sio.call(
                "chat:join", {"circle_id": self.circle_id, "after_seq": self.whole}, timeout=10
            )
            assert ack["ok"], ack
            with self._lock:
                for m in ack["messages"]:
                    self.held.setdefault(m["seq"], m["body"])
            if not ack["more"]:
                return

    def _on_message(self, e) -> None:
        m = e["message"]
        if m["circle_id"] != self.circle_id or e["op"] != "new":
            return
        with self._lock:
            self.live.append(m["seq"])
            self.held.setdefault(m["seq"], m["body"])
        if self.whole < max(self.held):
            self._wake.set()  # a hole before it

    def _on_latest(self, e) -> None:
        self.beats += 1
        if e["circle_id"] == self.circle_id and e["seq"] > self.whole:
            self._wake.set()

    def _on_news(self, _e) -> None:
        self.news_events += 1

    def _catch_up_loop(self) -> None:
        # Handlers run on the client's reading thread, which must stay free to read
        # the answer: catch-ups run here.
        while not self._closed:
            if not self._wake.wait(0.5):
                continue
            self._wake.clear()
            try:
                if self.connected:
                    self.catch_up()
            except Exception:  # noqa: BLE001 - no answer, "unavailable", "slow down"
                # conversation.js tries a failed catch-up again while the page stays
                # joined: the beat tells of a hole only a few times.
                if not self._closed and self.connected:
                    time.sleep(1)
                    self._wake.set()

    def send(self, body: str, client_id: str | None = None, timeout: float = 10) -> dict:
        """Send a message; a ``rate_limited`` answer (5 events a second per socket) is
        waited out and sent again with the same client id, as the outbox does."""
        payload = {
            "circle_id": self.circle_id,
            "client_id": client_id or secrets.token_hex(8),
            "body": body,
        }
        deadline = time.monotonic() + 30
        while True:
            ack = self.sio.call("chat:send", payload, timeout=timeout)
            if ack.get("error") != "rate_limited" or time.monotonic() > deadline:
                return ack
            time.sleep(0.2)

    def news_count(self) -> int:
        ack = self.sio.call("news:count", {}, timeout=10)
        assert ack["ok"], ack
        return ack["count"]

    def close(self) -> None:
        self._closed = True
        if self.sio is not None and self.sio.connected:
            ws = getattr(self.sio.eio, "ws", None)
            if ws is not None:  # see tests/live/conftest.py LiveSocket.close
                close_ws = ws.close
                ws.close = lambda *_a, **_kw: close_ws(timeout=0.2)
            try:
                self.sio.disconnect()
            except Exception:  # noqa: BLE001
                pass
        if self in Reader.open:
            Reader.open.remove(self)


class Writer(threading.Thread):
    """Someone typing a message every 0.2 s; each one goes as the outbox sends it: again
    with the same client id after any failure, until the server says ok."""

    def __init__(self, reader: Reader, name: str):
        super().__init__(daemon=True)
        self.reader, self.name = reader, name
        self.stop = threading.Event()
        self.sent: list[str] = []
        self.failures = 0

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            body, client_id = f"{self.name} {i}", secrets.token_hex(8)
            while True:
                try:
                    if self.reader.send(body, client_id, timeout=5).get("ok"):
                        break
                except Exception:  # noqa: BLE001 - no answer: the same message again
                    pass
                self.failures += 1
                time.sleep(0.3)
            self.sent.append(body)
            time.sleep(0.2)


def stored_bodies(reader: Reader) -> list[str]:
    """Every message of the circle as stored, in seq order (a fresh catch-up from 0)."""
    got, after = [], 0
    deadline = time.monotonic() + 30
    while True:
        ack = reader.sio.call(
            "chat:join", {"circle_id": reader.circle_id, "after_seq": after}, timeout=10
        )
        # The reader's own catch-ups use the same socket's allowance (5 events a second):
        # a ``rate_limited`` answer is waited out, as the page does.
        if ack.get("error") == "rate_limited" and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        assert ack.get("ok"), ack
        got += ack["messages"]
        if not ack["more"]:
            break
        after = got[-1]["seq"]
    assert [m["seq"] for m in got] == list(range(1, len(got) + 1)), "stored seqs have holes"
    return [m["body"] for m in got]
