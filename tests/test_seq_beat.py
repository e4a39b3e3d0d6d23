"""The sequence beat (portal/realtime/beat.py): a page that stayed connected while a
live message was lost (Redis away: the publish was given up) hears the latest seq and
catches up. Who hears a beat is asserted as closely as what it holds: only sockets
joined to that chat or line in this process, and only while their person may still
read it (a removed member whose socket was not closed hears nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from portal import events
from portal.access.chat import access_chat_seat
from portal.extensions import db as _db
from portal.models import MembershipStatus, Role
from portal.realtime import beat
from portal.services import chat as chat_svc
from portal.services import circles as circle_svc
from portal.services import lines as line_svc
from tests.test_support_line import pair  # noqa: F401  (a fixture)

AGAIN = 2  # SEQ_BEAT_AGAIN's default: beats that tell a lagging room again


def _received(sock, name):
    return [e["args"][0] for e in sock.get_received() if e["name"] == name]


def _beat(app, *, full: bool = True, part=None) -> tuple[int, int]:
    """Run one beat as the process's loop does; (its return, statements it ran). The
    access tests use full beats, which tell every joined room."""
    _db.session.commit()
    statements = []
    with app.app_context():
        engine = _db.engine

        def count(*_args):
            statements.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            ran = beat.beat(full=full, part=part)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    _db.session.rollback()
    return ran, len(statements)


@pytest.fixture
def lost_publish(monkeypatch):
    """The sender's process gave up publishing (Redis down): nobody hears the message."""
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)
    monkeypatch.setattr(events, "publish_line", lambda *a, **k: None)


def _send(membership, client_id, body):
    with_seat = access_chat_seat(membership.user, membership.circle_id)
    message, _ = chat_svc.send_message(with_seat, client_id, body)
    _db.session.commit()
    return message


def _send_lost(membership, client_id, body):
    with_seat = access_chat_seat(membership.user, membership.circle_id)
    message, _ = chat_svc.send_message(with_seat, client_id, body)
    _db.session.commit()
    return message


def test_a_lost_message_is_announced_to_the_joined_and_caught_up_once(
    app, make_circle, add_member, socket_client, lost_publish
):
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a, b = socket_client(anna.user), socket_client(ben.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    assert b.is_connected()  # connected (the news badge) but not in the chat
    a.get_received(), b.get_received()

    sent = _send_lost(ben, "lost-msg-0001", "Sent while Redis was down")
    assert _received(a, "chat:message") == []  # the live event is lost

    assert _beat(app) == (1, 1)  # one statement
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": sent["seq"]}]
    assert b.get_received() == []  # not joined: no beat

    # The page's catch-up (what conversation.js runs on such a beat) brings it, once.
    got = a.emit("chat:join", {"circle_id": circle.id, "after_seq": 0})
    assert [m["seq"] for m in got["messages"]] == [1] and got["last_seq"] == 1
    assert got["messages"][0]["body"] == "Sent while Redis was down"


def test_no_socket_joined_no_query(app, make_circle, add_member, socket_client):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    a = socket_client(anna.user)
    assert a.is_connected()
    assert _beat(app) == (0, 0)
    # One statement whatever the number of circles and sockets.
    c2, _ = make_circle("Two")
    zoe = add_member(c2, name="Zoe")
    anna2 = add_member(c2, user=anna.user, name="Anna")
    assert anna2.user_id == anna.user_id
    sockets = [socket_client(anna.user), socket_client(zoe.user), socket_client(anna.user)]
    for s, c in zip(sockets, (circle, c2, c2), strict=True):
        assert s.emit("chat:join", {"circle_id": c.id})["ok"]
    for s in sockets:
        s.get_received()
    assert _beat(app) == (1, 1)
    assert _received(sockets[0], "chat:latest") == [{"circle_id": circle.id, "seq": 0}]
    assert _received(sockets[1], "chat:latest") == [{"circle_id": c2.id, "seq": 0}]
    assert _received(sockets[2], "chat:latest") == [{"circle_id": c2.id, "seq": 0}]


def test_a_removed_member_whose_socket_stayed_open_hears_no_beat(
    app, make_circle, add_member, socket_client
):
    """Closing a removed member's sockets goes through Redis too, and may be lost: the
    beat checks membership itself, not only the room."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a, b = socket_client(anna.user), socket_client(ben.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    assert b.emit("chat:join", {"circle_id": circle.id})["ok"]
    a.get_received(), b.get_received()
    ben.status = MembershipStatus.REMOVED  # removed, the socket not closed (lost)
    _db.session.commit()
    assert b.is_connected()

    assert _beat(app) == (1, 1)
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": 0}]
    assert _received(b, "chat:latest") == []


def test_a_professional_hears_the_chat_beat_only_while_the_chat_is_open_to_them(
    app, make_circle, add_member, socket_client
):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL, name="Mum")
    pro = add_member(circle, Role.PROFESSIONAL, name="Social worker")
    circle_svc.set_professionals_read_chat(circle, central, True)
    _db.session.commit()
    p = socket_client(pro.user)
    assert p.emit("chat:join", {"circle_id": circle.id})["ok"]
    p.get_received()
    assert _beat(app) == (1, 1)
    assert _received(p, "chat:latest") == [{"circle_id": circle.id, "seq": 0}]

    circle.professionals_read_chat = False  # closed; the socket not closed (lost)
    _db.session.commit()
    assert p.is_connected()
    _beat(app)
    assert _received(p, "chat:latest") == []


def test_line_beat_reaches_the_pair_only_while_it_stands(
    app,
    pair,  # noqa: F811
    socket_client,
    lost_publish,
):
    p = pair
    ids = {"circle_id": p["circle"].id, "line_id": p["line"].id}
    child, sup = socket_client(p["child"].user), socket_client(p["supporter"].user)
    central = socket_client(p["central"].user)
    assert child.emit("line:join", ids)["ok"] and sup.emit("line:join", ids)["ok"]
    assert central.emit("chat:join", {"circle_id": p["circle"].id})["ok"]
    for s in (child, sup, central):
        s.get_received()

    msg, _ = line_svc.send_message(p["line"], p["supporter"], "line-lost-01", "Hi Sam")
    _db.session.commit()
    assert _received(child, "line:message") == []  # lost

    assert _beat(app) == (1, 1)  # chat and line in the same one statement
    want = {"line_id": p["line"].id, "seq": msg["seq"]}
    assert _received(child, "line:latest") == [want]
    assert _received(sup, "line:latest") == [want]
    got = _received(central, "line:latest")
    assert got == []  # the central person never hears of the line
    caught = child.emit("line:join", dict(ids, after_seq=0))
    assert [m["seq"] for m in caught["messages"]] == [1]

    # The pair no longer stands (the supporter now supports someone else): no beat.
    p["supporter"].supports_id = p["member"].id
    _db.session.commit()
    _beat(app)
    assert _received(child, "line:latest") == [] and _received(sup, "line:latest") == []


def test_chat_sends_while_the_shared_rate_limit_storage_is_away(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """Redis down: the per-person allowance is counted in this process's memory for a
    while instead of refusing every message (a server_error for each send before), and
    still refuses past the limit."""
    from limits.storage import storage_from_string

    from portal.extensions import limiter

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    a = socket_client(anna.user)
    monkeypatch.setitem(app.config, "CHAT_SEND_RATE_LIMIT", "3 per minute")
    monkeypatch.setattr(limiter, "_storage", storage_from_string("redis://127.0.0.1:1/0"))
    answers = [
        a.emit("chat:send", {"circle_id": circle.id, "client_id": f"away-{i:08d}", "body": "hi"})
        for i in range(4)
    ]
    assert [x["ok"] for x in answers] == [True, True, True, False]
    assert answers[3]["error"] == "rate_limited"


def test_a_quiet_beat_tells_only_rooms_that_may_lack_a_message(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """Between full beats, a room whose sockets heard every message live is told
    nothing (no frame to 1,000 sockets every 3 s); a message whose live event was lost
    is told at the next beat, once; a full beat tells everyone again."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    a.get_received()
    latest = {"circle_id": circle.id, "seq": 0}

    # The join's catch-up brought everything: a quiet beat reads only the latest
    # numbers, and says nothing.
    assert _beat(app, full=False) == (1, 1)
    assert _received(a, "chat:latest") == []
    # A full beat (or the room's share of one) tells it anyway: the latest numbers are
    # not read, only who may hear them.
    assert _beat(app, full=True) == (1, 1)
    assert _received(a, "chat:latest") == [latest]

    heard = _send(ben, "heard-live-001", "Heard live")
    assert [m["message"]["seq"] for m in _received(a, "chat:message")] == [heard["seq"]]
    assert _beat(app, full=False) == (1, 1)
    assert _received(a, "chat:latest") == []  # heard live: nothing to tell

    monkeypatch.setattr(events, "publish", lambda *a, **k: None)  # Redis lost it
    lost = _send(ben, "lost-live-001", "Lost on the way")
    assert _received(a, "chat:message") == []
    told = {"circle_id": circle.id, "seq": lost["seq"]}
    for _ in range(1 + AGAIN):  # told at the next beat, and at AGAIN more
        _beat(app, full=False)
        assert _received(a, "chat:latest") == [told]
    _beat(app, full=False)
    assert _received(a, "chat:latest") == []  # then no more
    _beat(app, full=True)
    assert _received(a, "chat:latest") == [told]


def test_a_quiet_beat_tells_a_line_that_lost_a_message(
    app,
    pair,  # noqa: F811
    socket_client,
):
    p = pair
    ids = {"circle_id": p["circle"].id, "line_id": p["line"].id}
    child = socket_client(p["child"].user)
    assert child.emit("line:join", ids)["ok"]
    _beat(app, full=False)
    assert _received(child, "line:latest") == []  # the join brought everything
    line_svc.send_message(p["line"], p["supporter"], "line-heard-01", "Heard")
    _db.session.commit()
    assert len(_received(child, "line:message")) == 1
    _beat(app, full=False)
    assert _received(child, "line:latest") == []


def test_the_loop_tells_every_room_once_in_ten_beats_a_share_at_a_time(app, monkeypatch):
    """``run`` (the process's loop): quiet beats, each with its share ``(k, 10)`` of the
    rooms due (``SEQ_BEAT_FULL_EVERY``), so every room hears its latest once in ten
    beats without one beat writing to every socket; a lagging room is told again
    ``SEQ_BEAT_AGAIN`` times."""
    assert app.config["SEQ_BEAT_FULL_EVERY"] == 10 and app.config["SEQ_BEAT_AGAIN"] == AGAIN
    calls = []

    class Stop(BaseException):
        pass

    def fake_beat(*, full, part, again):
        assert not full and again == AGAIN
        calls.append(part)
        return 0

    def fake_sleep(_seconds):
        if len(calls) == 20:
            raise Stop

    monkeypatch.setattr(beat, "beat", fake_beat)
    monkeypatch.setattr(beat.socketio, "sleep", fake_sleep)
    with pytest.raises(Stop):
        beat.run(app)
    assert calls == [((i + 1) % 10, 10) for i in range(20)]


def test_a_share_of_the_rooms_is_due_at_each_beat(app, make_circle, add_member, socket_client):
    """Three chats joined: over three beats with parts (0, 3), (1, 3), (2, 3) each room
    hears its latest exactly once, though none lacks a message."""
    sockets, expected = [], []
    for i in range(3):
        circle, _ = make_circle(f"Circle {i}")
        member = add_member(circle, name=f"Anna {i}")
        s = socket_client(member.user)
        assert s.emit("chat:join", {"circle_id": circle.id})["ok"]
        sockets.append(s)
        expected.append([{"circle_id": circle.id, "seq": 0}])
    for s in sockets:
        s.get_received()
    heard = [[] for _ in sockets]
    for k in range(3):
        _beat(app, full=False, part=(k, 3))
        for i, s in enumerate(sockets):
            heard[i] += _received(s, "chat:latest")
    assert heard == expected


def test_redis_queue_notes_what_it_delivers_here():
    """Under several processes, a live message reaches a process's sockets through
    ``_handle_emit``: from Redis for the other processes, and straight away in the
    sending one (python-socketio delivers locally before it publishes). Both are
    noted; a process that Redis never told notes nothing, so its beat tells."""
    import socketio

    from portal.realtime.queue import RedisQueue

    sender, other = (RedisQueue("redis://127.0.0.1:1/0", retry_max=1) for _ in range(2))
    for q in (sender, other):
        socketio.Server(client_manager=q)  # the manager's server; no listener started
        q.rooms["/"] = {}
    # From Redis (another process's message) to this process's sockets:
    other._handle_emit(
        {
            "method": "emit",
            "event": "chat:message",
            "namespace": "/",
            "room": "circle:3",
            "data": {"type": "message", "op": "new", "message": {"seq": 7}},
        }
    )
    other._handle_emit(
        {
            "method": "emit",
            "event": "plan:event",
            "namespace": "/",
            "room": "circle:3",
            "data": {"message": {"seq": 99}},
        }
    )
    assert other.heard == {"circle:3": 7}
    # Sent while Redis is away (nothing listens on port 1): delivered in the sending
    # process only; the other process never hears it, so its beat will tell.
    sender.emit("chat:message", {"message": {"seq": 8}}, namespace="/", room="circle:3")
    assert sender.heard == {"circle:3": 8} and other.heard == {"circle:3": 7}
    # The beat's own emits (ignore_queue) are not messages: nothing noted.
    sender.emit("chat:latest", {"seq": 9}, namespace="/", room="circle:3", ignore_queue=True)
    assert sender.heard == {"circle:3": 8}
    # Another process's 8 was lost; its 9 is heard past the hole and does not count.
    other._handle_emit(
        {
            "method": "emit",
            "event": "chat:message",
            "namespace": "/",
            "room": "circle:3",
            "data": {"type": "message", "op": "new", "message": {"seq": 9}},
        }
    )
    assert other.heard == {"circle:3": 7}


def _quiet_room(app, make_circle, add_member, socket_client):
    """(circle, Ben, Anna's socket joined to its chat): a quiet beat tells it only
    what it lacks."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    return circle, ben, a


def test_a_message_heard_past_a_hole_does_not_count_until_the_hole_fills(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """A process that delivered its own message 3 but never another process's 2 (Redis
    lost it) has not heard the room up to 3: the quiet beat tells of 3. What was heard
    past the hole counts again once the beat told of it."""
    circle, ben, a = _quiet_room(app, make_circle, add_member, socket_client)
    _send(ben, "hole-heard-01", "One")
    a.get_received()
    _beat(app, full=False)
    assert _received(a, "chat:latest") == []

    publish = events.publish
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)  # Redis lost it
    _send(ben, "hole-lost-002", "Two")
    monkeypatch.setattr(events, "publish", publish)
    three = _send(ben, "hole-heard-03", "Three")  # heard live, past the hole
    assert [e["message"]["seq"] for e in _received(a, "chat:message")] == [three["seq"]]
    _beat(app, full=False)
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": three["seq"]}]


def test_heard_joins_up_what_came_past_a_hole():
    """The count itself: out of order, past a hole, and joined up by the beat."""
    from portal.realtime.queue import HeardQueue

    q = HeardQueue()

    def hear(seq):
        q.emit("chat:message", {"message": {"seq": seq}}, "/", room="circle:1")

    hear(5)
    assert q.heard == {"circle:1": 5}  # the first of the room
    hear(7)
    hear(8)
    assert q.heard == {"circle:1": 5}  # 6 never came
    hear(6)
    assert q.heard == {"circle:1": 8} and not q.past["circle:1"]
    hear(10)
    hear(12)
    q.told("circle:1", 11, 2)  # the beat told of 11: 10 counts; 12 joins up
    assert q.heard == {"circle:1": 12} and not q.past["circle:1"]
    hear(12)
    hear(3)
    assert q.heard == {"circle:1": 12}
    q.emit("chat:message", {"message": {"seq": 13}}, "/", room="line:1")  # not a line event
    assert "line:1" not in q.heard
    q.forget("circle:1")
    assert q.heard == {} and "circle:1" not in q.past


def test_a_beat_that_fails_halfway_counts_nothing_as_told(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """The database goes away between the quiet beat's two reads: nobody was told, so
    the lost message still counts as unheard, and the next beat tells of it."""
    circle, ben, a = _quiet_room(app, make_circle, add_member, socket_client)
    a.get_received()
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)  # Redis lost it
    lost = _send(ben, "half-lost-001", "Lost on the way")
    statement = beat._statement

    def away(*args):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(beat, "_statement", away)
    with pytest.raises(ConnectionError):
        _beat(app, full=False)
    assert _received(a, "chat:latest") == []
    monkeypatch.setattr(beat, "_statement", statement)
    assert _beat(app, full=False) == (2, 2)
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": lost["seq"]}]
