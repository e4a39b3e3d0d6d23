"""Attack review j: the quiet beat's two reads (df3ad33) and the join's count and the
spread full beat (9f3551c), portal/realtime/beat.py and queue.py.

Most of these hold and stay as guards; the one hole found is the beat's emit to a
whole room, which reached a socket that joined while the beat was reading."""

from __future__ import annotations

import zlib

import pytest

from portal import events
from portal.extensions import db as _db
from portal.extensions import socketio
from portal.models import MembershipStatus
from portal.realtime import beat
from portal.services import chat as chat_svc
from portal.services import lines as line_svc
from tests.test_seq_beat import _beat, _received, _send
from tests.test_support_line import pair  # noqa: F401  (a fixture)


def _queue():
    return socketio.server.manager


def _seqs(sock, name="chat:message"):
    return [e["message"]["seq"] for e in _received(sock, name)]


# --- The hole: a socket that joined while the beat read, of someone removed since ---


def test_a_socket_that_joined_during_the_beats_reads_is_checked_too(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """Under gevent the beat yields at each read, after it listed the rooms' sockets: a
    socket can join the room meanwhile (its access checked then), and its person be
    removed before the beat's access read (the close of its sockets lost with Redis).
    The beat read that this person may no longer hear the chat, yet its emit to the
    whole room (everyone it had listed may hear) reached that socket too."""
    circle, _ = make_circle()
    anna, xavier = add_member(circle, name="Anna"), add_member(circle, name="Xavier")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    listed = beat._local_rooms()  # the beat lists the rooms' sockets, then reads

    x = socket_client(xavier.user)
    assert x.emit("chat:join", {"circle_id": circle.id})["ok"]  # joins while it reads
    xavier.status = MembershipStatus.REMOVED  # removed; the close of the socket lost
    _db.session.commit()
    a.get_received(), x.get_received()

    calls = iter([listed])
    real = beat._local_rooms
    monkeypatch.setattr(beat, "_local_rooms", lambda: next(calls, None) or real())
    _beat(app)
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": 0}]
    assert _received(x, "chat:latest") == []


def test_a_socket_that_joined_during_the_beats_reads_and_may_hear_is_told(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """The same, Xavier still a member: told with everyone (the room counts as told,
    so a socket left out would have nothing to catch up from until the next share)."""
    circle, _ = make_circle()
    anna, xavier = add_member(circle, name="Anna"), add_member(circle, name="Xavier")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    listed = beat._local_rooms()
    x = socket_client(xavier.user)
    assert x.emit("chat:join", {"circle_id": circle.id})["ok"]
    a.get_received(), x.get_received()
    calls = iter([listed])
    real = beat._local_rooms
    monkeypatch.setattr(beat, "_local_rooms", lambda: next(calls, None) or real())
    _beat(app)
    want = [{"circle_id": circle.id, "seq": 0}]
    assert _received(a, "chat:latest") == want and _received(x, "chat:latest") == want


# --- What held: the join's count (beat.joined) ---------------------------------------


def test_a_second_socket_joining_after_a_lost_message_does_not_hide_it_from_the_first(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """Anna's socket lacks a lost message; Ben's joins after it (its catch-up brings it):
    the join's count is only for a room new to the beat, so Anna's room still lags."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    carl = add_member(circle, name="Carl")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    a.get_received()
    publish = events.publish
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)
    lost = _send(carl, "j-lost-000001", "Lost")
    monkeypatch.setattr(events, "publish", publish)
    b = socket_client(ben.user)
    res = b.emit("chat:join", {"circle_id": circle.id})
    assert [m["seq"] for m in res["messages"]] == [lost["seq"]]
    assert _queue().heard[events.circle_room(circle.id)] == 0
    _beat(app, full=False)
    want = [{"circle_id": circle.id, "seq": lost["seq"]}]
    assert _received(a, "chat:latest") == want


def test_a_room_forgotten_and_joined_again_counts_from_the_new_join(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """Anna leaves, the beat forgets the room, a message is lost, Ben joins: his
    catch-up brings it (the count is what he read); a message lost after his join is
    told."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    assert a.emit("chat:leave", {"circle_id": circle.id})["ok"]
    _beat(app, full=False)
    room = events.circle_room(circle.id)
    assert room not in _queue().heard
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)
    one = _send(anna, "j-forgot-0001", "One")
    b = socket_client(ben.user)
    res = b.emit("chat:join", {"circle_id": circle.id})
    assert [m["seq"] for m in res["messages"]] == [one["seq"]]
    assert _queue().heard[room] == one["seq"]
    b.get_received()
    two = _send(anna, "j-forgot-0002", "Two")
    _beat(app, full=False)
    assert _received(b, "chat:latest") == [{"circle_id": circle.id, "seq": two["seq"]}]


def test_a_join_whose_catch_up_fails_is_answered_unavailable_and_a_lost_message_told(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """The catch-up read fails after join_room (the database away): the room is counted
    up to what access read, the page is told "unavailable" (it joins again in 5 s), and
    a message lost meanwhile still makes the room lag."""
    from sqlalchemy.exc import OperationalError

    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    _send(ben, "j-before-0001", "Before")
    a = socket_client(anna.user)
    real = chat_svc.messages_after

    def away(*_a, **_k):
        raise OperationalError("SELECT", {}, ConnectionError("gone"))

    monkeypatch.setattr(chat_svc, "messages_after", away)
    res = a.emit("chat:join", {"circle_id": circle.id, "after_seq": 0})
    assert res["ok"] is False and res["error"] in ("unavailable", "server_error")
    monkeypatch.setattr(chat_svc, "messages_after", real)
    room = events.circle_room(circle.id)
    assert _queue().heard[room] == 1  # counted up to what access read
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)
    lost = _send(ben, "j-lost-after1", "Lost")
    a.get_received()
    _beat(app, full=False)
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": lost["seq"]}]
    res = a.emit("chat:join", {"circle_id": circle.id, "after_seq": 0})
    assert [m["seq"] for m in res["messages"]] == [1, lost["seq"]]


def test_a_removed_member_cannot_count_a_room_by_joining(
    app, make_circle, add_member, socket_client
):
    """Access comes before join_room and the count: a refused join counts nothing."""
    circle, _ = make_circle()
    ben = add_member(circle, name="Ben")
    b = socket_client(ben.user)
    ben.status = MembershipStatus.REMOVED
    _db.session.commit()
    res = b.emit("chat:join", {"circle_id": circle.id})
    assert res["ok"] is False
    assert events.circle_room(circle.id) not in _queue().heard


def test_line_and_chat_of_the_same_number_are_counted_apart(
    app,
    pair,  # noqa: F811
    socket_client,
    monkeypatch,
):
    """line:N and circle:N are different rooms: a line join does not count the chat of
    the same number as heard (or the other way round)."""
    p = pair
    ids = {"circle_id": p["circle"].id, "line_id": p["line"].id}
    child = socket_client(p["child"].user)
    assert child.emit("line:join", ids)["ok"]
    q = _queue()
    assert q.heard == {events.line_room(p["line"].id): 0}
    monkeypatch.setattr(events, "publish_line", lambda *a, **k: None)
    child.get_received()
    msg, _ = line_svc.send_message(p["line"], p["supporter"], "j-line-lost01", "Lost")
    _db.session.commit()
    _beat(app, full=False)
    assert _received(child, "line:latest") == [{"line_id": p["line"].id, "seq": msg["seq"]}]


# --- What held: the spread full beat ---------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_every_room_is_due_exactly_once_in_n_beats(n):
    rooms = {f"circle:{i}": [] for i in range(1, 400)} | {f"line:{i}": [] for i in range(1, 400)}
    counts = dict.fromkeys(rooms, 0)
    for count in range(1, n + 1):  # run()'s parts: (count % n, n)
        for room in beat._due(rooms, (count % n, n)):
            counts[room] += 1
    assert set(counts.values()) == {1}
    assert all(zlib.crc32(r.encode()) >= 0 for r in rooms)
