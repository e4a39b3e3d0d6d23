"""Concurrent chat sends on PostgreSQL: numbering without gaps, retries stored once.

Each thread is one server worker handling one ``chat:send``: its own application
context (so its own database session and connection), its own access check, the
service, the commit. A barrier releases them together. On PostgreSQL the counter's
``UPDATE ... RETURNING`` takes the circle row's lock, so the senders are numbered one
after another; the unique (circle, author, client_id) constraint catches retries.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.access import access_chat_seat
from portal.extensions import db as _db
from portal.extensions import socketio
from portal.models import Circle, Message
from portal.realtime.state import SocketUser
from portal.services import chat as svc

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def published(monkeypatch):
    """What the server sent to sockets (event, payload, room), as clients would hear it."""
    sent: list[tuple[str, dict, str]] = []
    lock = threading.Lock()

    def record(event, payload=None, *args, to=None, **kwargs):
        with lock:
            sent.append((event, payload, to))

    monkeypatch.setattr(socketio, "emit", record)
    return sent


def _concurrently(app, jobs):
    """Run ``send(circle_id, user_id, client_id, body)`` jobs at once; return the acks
    (or the exception each raised)."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(i, circle_id, user_id, client_id, body):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                seat = access_chat_seat(SocketUser(id=user_id, login_session_id=0), circle_id)
                message, created = svc.send_message(seat, client_id, body)
                _db.session.commit()
                results[i] = (message, created)
            except Exception as e:  # noqa: BLE001 - reported by the test
                _db.session.rollback()
                results[i] = e
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sender hung"
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def test_concurrent_senders_get_consecutive_numbers(app, make_circle, add_member, published):
    circle, _ = make_circle()
    members = [add_member(circle, name=f"Sender {i}") for i in range(20)]
    jobs = [
        (circle.id, m.user_id, f"client-{i:04d}-x", f"message from sender {i}")
        for i, m in enumerate(members)
    ]

    results = _concurrently(app, jobs)

    assert all(created for _m, created in results)
    assert sorted(m["seq"] for m, _c in results) == list(range(1, 21))
    rows = _db.session.execute(
        select(Message.seq, Message.author_id, Message.body)
        .where(Message.circle_id == circle.id)
        .order_by(Message.seq)
    ).all()
    assert [r.seq for r in rows] == list(range(1, 21))  # no gaps, no repeats
    # Each sender's message is stored once, under the number its sender was told.
    told = {m["id"]: m["seq"] for m, _c in results}
    assert len(told) == 20
    assert {(r.author_id, r.body) for r in rows} == {
        (m.id, f"message from sender {i}") for i, m in enumerate(members)
    }
    assert _db.session.scalar(select(Circle.message_seq).where(Circle.id == circle.id)) == 20
    # Everyone in the circle hears each message exactly once, in its own room only.
    heard = [(p["message"]["seq"], to) for e, p, to in published if e == "chat:message"]
    assert sorted(heard) == [(seq, f"circle:{circle.id}") for seq in range(1, 21)]


def test_concurrent_retries_of_one_message_store_it_once(app, make_circle, add_member, published):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    jobs = [(circle.id, anna.user_id, "same-client-id-1", "Only once, please")] * 10

    results = _concurrently(app, jobs)

    ids = {m["id"] for m, _c in results}
    assert len(ids) == 1, "the callers were told about different messages"
    assert sum(created for _m, created in results) == 1  # the others are duplicates
    assert {m["seq"] for m, _c in results} == {1}
    assert (
        _db.session.scalar(
            select(func.count()).select_from(Message).where(Message.circle_id == circle.id)
        )
        == 1
    )
    # The retries used up no numbers, and the room heard the message once.
    assert _db.session.scalar(select(Circle.message_seq).where(Circle.id == circle.id)) == 1
    assert [p["message"]["id"] for e, p, _to in published if e == "chat:message"] == list(ids)
    ((nxt, created),) = _concurrently(app, [(circle.id, anna.user_id, "next-client-id-1", "Two")])
    assert created and nxt["seq"] == 2


def test_same_client_id_from_two_people_is_two_messages(app, make_circle, add_member, published):
    """client_id is the sender's own: another member reusing it (by chance or on purpose)
    neither overwrites nor receives the first person's message."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    jobs = [
        (circle.id, anna.user_id, "shared-client-1", "from Anna"),
        (circle.id, ben.user_id, "shared-client-1", "from Ben"),
    ] * 5

    results = _concurrently(app, jobs)

    by_author = {}
    for message, _created in results:
        by_author.setdefault(message["author"], set()).add((message["id"], message["body"]))
    assert {a: len(v) for a, v in by_author.items()} == {"Anna": 1, "Ben": 1}
    assert {body for v in by_author.values() for _id, body in v} == {"from Anna", "from Ben"}
    rows = _db.session.scalars(
        select(Message.seq).where(Message.circle_id == circle.id).order_by(Message.seq)
    ).all()
    assert rows == [1, 2]
