"""The embedded default (one ``python app.py`` on SQLite) with 50 people writing at once
(issue 15, part D).

Fifty people, each in their own thread with their own browser session and socket, are
released together; each sends chat messages over the socket and ticks their own
commitment's turns over HTTP, as fast as the server answers. What a person could notice:

- no "database is locked" (nor any other error) reaches anyone: every send is answered
  ``ok``, or with a retriable answer (``unavailable``, ``rate_limited``) that the client
  retries with the same client id until it is ``ok``; every tick is a redirect, or a
  503 that the same tick again turns into one;
- no write is lost or doubled: every acknowledged message is stored once, numbered
  1..n without a gap, and every tick is stored once.

Marked ``live`` (its server runs on its own SQLite file whatever the pass), like
tests/live.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests

from tests.live.conftest import PASSWORD, ROOT, LiveServer, LiveSocket, csrf_in
from tests.live_server import kring_server

pytestmark = [pytest.mark.live]

PEOPLE = 50
MESSAGES = 8  # each
DAYS = 6  # each ticks the last six days of their own daily commitment
RETRIABLE = {"unavailable", "rate_limited"}

# Run in the server's environment (its DATABASE_URL): a circle, fifty members who can
# sign in, and a daily commitment for each, agreed. Prints what the test needs (JSON).
SEED = f"""
import json
from datetime import timedelta
from app import app
from portal.extensions import db
from portal.services import accounts, circles, plan
from portal.services.schedule import Schedule, today_in

with app.app_context():
    boss = accounts.create_user(name="Coordinator", username="coordinator", password={PASSWORD!r})
    circle, coord, _ = circles.create_circle(title="Busy", language="en", coordinator=boss)
    today = today_in(circle.timezone)
    people = []
    for n in range({PEOPLE}):
        user = accounts.create_user(name=f"Person {{n}}", username=f"writer{{n}}",
                                    password={PASSWORD!r})
        _inv, token = circles.invite(circle, None, name=user.name, role="member")
        m = circles.redeem_invitation(token, user)
        db.session.flush()
        every_day = Schedule(kind="weekly", start=today - timedelta(days=30),
                             weekdays=frozenset(range(7)))
        plan.change(circle, None, "add_commitment", payload=plan.CommitmentData(
            what=f"Job {{n}}", assignee_ids=[m.id], schedule=every_day).to_payload())
        people.append([user.username, m.id])
    db.session.flush()
    from portal.models import Commitment
    from sqlalchemy import select
    mine = {{a.id: c.id for c in db.session.scalars(
        select(Commitment).where(Commitment.circle_id == circle.id)) for a in c.assignees}}
    plan.record_agreement(circle, coord, [m for _, m in people])
    db.session.commit()
    days = [(today - timedelta(days=d)).isoformat() for d in range({DAYS})]
    print(json.dumps({{"circle": circle.id, "days": days,
                      "people": [[u, mine[m]] for u, m in people]}}))
"""


def _seed(server: LiveServer) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SEED],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cron(server: LiveServer, stop: threading.Event) -> None:
    server.cron_runs = []
    while not stop.is_set():
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "kring", "send-notifications"],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        server.cron_runs.append((done.returncode, done.stdout + done.stderr))


class Writer:
    """One person: signs in, opens a socket, then sends and ticks when released."""

    def __init__(self, server: LiveServer, username: str, commitment_id: int):
        self.server, self.commitment_id = server, commitment_id
        self.http = requests.Session()
        page = self.http.get(server.url + "/login", timeout=30)
        resp = self.http.post(
            server.url + "/login",
            data={"login": username, "password": PASSWORD, "csrf_token": csrf_in(page.text)},
            timeout=30,
            allow_redirects=False,
        )
        assert resp.status_code == 302, resp.text[:300]
        self.csrf = csrf_in(self.http.get(server.url + "/account", timeout=30).text)
        self.socket = LiveSocket(server, self.http, self.csrf)
        self.acked: list[str] = []  # client ids the server said ok to
        self.seen: list[dict] = []  # every answer that was not ok: what a person would see
        self.ticks: list[int] = []  # final HTTP status of each tick
        self.failure: BaseException | None = None

    def send(self, circle_id: int, body: str) -> None:
        client_id = secrets.token_hex(8)
        for _ in range(100):
            ack = self.socket.sio.call(
                "chat:send",
                {"circle_id": circle_id, "client_id": client_id, "body": body},
                timeout=60,
            )
            if ack.get("ok"):
                self.acked.append(client_id)
                return
            self.seen.append(ack)
            if ack.get("error") not in RETRIABLE:
                return  # a final "no": the test fails on it below
            time.sleep(0.2)  # as the browser's outbox does, a little later
        raise AssertionError(f"{client_id} never went through: {self.seen[-3:]}")

    def tick(self, circle_id: int, day: str) -> None:
        url = f"{self.server.url}/c/{circle_id}/plan/commitments/{self.commitment_id}/tick"
        for _ in range(50):
            resp = self.http.post(
                url,
                data={"csrf_token": self.csrf, "occurrence": day},
                timeout=60,
                allow_redirects=False,
            )
            if resp.status_code != 503:
                self.ticks.append(resp.status_code)
                return
            self.seen.append({"tick": 503})
            time.sleep(0.2)
        raise AssertionError("a tick never went through")

    def run(self, circle_id: int, days: list[str], start: threading.Barrier) -> None:
        try:
            start.wait(timeout=120)
            for i in range(MESSAGES):
                self.send(circle_id, f"{self.commitment_id}: message {i}")
                if i < len(days):
                    self.tick(circle_id, days[i])
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.failure = e


@pytest.fixture(scope="module")
def busy():
    """One server on its own SQLite file, seeded with the fifty (for this module)."""
    with kring_server("kring-writers-") as (url, env, log, proc):
        server = LiveServer(url=url, env=env, log=log)
        server.proc = proc
        yield server, _seed(server)


def test_fifty_people_writing_at_once_on_sqlite(busy):
    server, seeded = busy
    env, log, proc = server.env, server.log, server.proc
    circle_id, days = seeded["circle"], seeded["days"]
    writers = [Writer(server, u, c) for u, c in seeded["people"]]
    try:
        for w in writers:
            w.socket.join(circle_id)
        start = threading.Barrier(PEOPLE)
        threads = [threading.Thread(target=w.run, args=(circle_id, days, start)) for w in writers]
        # The notification run from cron, a second process writing the same file
        # meanwhile (docs/operations: "safe next to cron"), over and over.
        stop = threading.Event()
        cron = threading.Thread(target=_cron, args=(server, stop))
        began = time.monotonic()
        cron.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        took = time.monotonic() - began
        stop.set()
        cron.join(timeout=300)
        assert server.cron_runs and all(rc == 0 for rc, _ in server.cron_runs), [
            out for rc, out in server.cron_runs if rc
        ][:1]
        assert not any(t.is_alive() for t in threads), "a writer hung"
    finally:
        for w in writers:
            w.socket.close()
    failures = [w.failure for w in writers if w.failure]
    assert not failures, failures[:3]

    answers = [a for w in writers for a in w.seen]
    # Nothing but a retriable "not yet" ever came back, and never the word "locked".
    assert all(a.get("error") in RETRIABLE or a.get("tick") == 503 for a in answers), answers[:5]
    assert not any("locked" in json.dumps(a) for a in answers)
    assert all(s == 302 for w in writers for s in w.ticks)

    # Every acknowledged message stored once, numbered 1..n; every tick stored once.
    acked = [c for w in writers for c in w.acked]
    assert len(acked) == PEOPLE * MESSAGES
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT client_id, seq FROM messages WHERE circle_id = ? ORDER BY seq",
            (circle_id,),
        ).fetchall()
        ticks = db.execute(
            "SELECT commitment_id, occurrence FROM completions WHERE undone_at IS NULL"
        ).fetchall()
    assert Counter(c for c, _ in rows) == Counter(acked)
    assert [s for _, s in rows] == list(range(1, len(acked) + 1))
    expected = {(w.commitment_id, d) for w in writers for d in days}
    assert len(ticks) == len(expected) and set(ticks) == expected

    text = log.read_text()
    assert "locked" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert proc.poll() is None
    print(
        f"\n{PEOPLE} writers: {len(acked)} messages and {len(expected)} ticks in {took:.1f} s;"
        f" {len(answers)} retriable answers on the way;"
        f" {len(server.cron_runs)} notification runs beside them"
    )


def test_a_writer_holding_the_file_too_long_is_a_retriable_answer(busy):
    """Another process (a long command, a backup tool) holds SQLite's write lock longer
    than the server waits for it (5 s, portal.sqlite_wait): the server keeps serving
    everyone else meanwhile; the send is answered ``unavailable`` and a tick a 503 in
    plain words, never "database is locked"; once the file is free, the same client id
    goes through, once."""
    server, seeded = busy
    circle_id = seeded["circle"]
    username, commitment_id = seeded["people"][0]
    w = Writer(server, username, commitment_id)
    database = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    client_id = secrets.token_hex(8)
    payload = {"circle_id": circle_id, "client_id": client_id, "body": "while it is held"}
    try:
        w.socket.join(circle_id)
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held across the server's tries
        try:
            answered: list[dict] = []
            sending = threading.Thread(
                target=lambda: answered.append(w.socket.sio.call("chat:send", payload, timeout=60))
            )
            sending.start()
            time.sleep(1)  # the send is now waiting for the file (for up to 5 s)
            # Meanwhile the server serves everyone else: the wait is cooperative. (With
            # SQLite's busy timeout the wait was in C and the whole process stood still:
            # this page came only after the send's answer.)
            t0 = time.monotonic()
            assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
            waited = time.monotonic() - t0
            assert not answered, f"the server stood still while the send waited ({waited:.1f} s)"
            print(f"\n/healthz answered in {waited:.2f} s while a send waited for the file")
            sending.join(timeout=60)
            assert answered == [{"ok": False, "error": "unavailable"}], answered
            tick = w.http.post(
                f"{server.url}/c/{circle_id}/plan/commitments/{commitment_id}/tick",
                data={"csrf_token": w.csrf, "occurrence": seeded["days"][-1]},
                timeout=60,
                allow_redirects=False,
            )
            assert tick.status_code == 503, tick.text[:300]
            assert "is not working for a moment" in tick.text
            assert "locked" not in tick.text and "Traceback" not in tick.text
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        again = w.socket.sio.call("chat:send", payload, timeout=60)
        assert again["ok"] and not again["duplicate"], again
        twice = w.socket.sio.call("chat:send", payload, timeout=60)
        assert twice["ok"] and twice["duplicate"], twice
    finally:
        w.socket.close()
    with sqlite3.connect(database) as db:
        stored = db.execute("SELECT count(*) FROM messages WHERE client_id = ?", (client_id,))
        assert stored.fetchone()[0] == 1
    text = server.log.read_text()
    assert "database out of reach (OperationalError) during chat:send" in text
    assert "Traceback" not in text and "while it is held" not in text, text[-3000:]
