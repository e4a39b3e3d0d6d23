"""Chat over Socket.IO, with Flask-SocketIO's test client sharing the HTTP session."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from portal.extensions import db as _db
from portal.models import MembershipStatus, Message


@pytest.fixture
def connect(socket_client):
    return socket_client


def _events(sock, name="chat:message"):
    return [e["args"][0] for e in sock.get_received() if e["name"] == name]


def test_send_is_stored_acknowledged_and_delivered_to_the_circle(
    app, make_circle, add_member, connect
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    a, b = connect(anna.user), connect(ben.user)
    assert a.is_connected() and b.is_connected()
    assert a.emit("chat:join", {"circle_id": circle.id}, callback=True)["ok"]
    assert b.emit("chat:join", {"circle_id": circle.id}, callback=True)["ok"]
    b.get_received()

    ack = a.emit(
        "chat:send",
        {"circle_id": circle.id, "client_id": "abcdef123456", "body": "Hallo allemaal"},
        callback=True,
    )
    assert ack["ok"] and ack["message"]["seq"] == 1 and ack["message"]["id"]
    stored = _db.session.scalar(select(Message).where(Message.id == ack["message"]["id"]))
    assert stored.body == "Hallo allemaal"
    got = _events(b)
    assert [e["message"]["body"] for e in got] == ["Hallo allemaal"]
    assert got[0]["type"] == "message" and got[0]["op"] == "new"


def test_repeated_send_returns_the_stored_message(app, make_circle, add_member, connect):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    a = connect(anna.user)
    payload = {"circle_id": circle.id, "client_id": "retry-0000001", "body": "Only once"}
    first = a.emit("chat:send", payload, callback=True)
    again = a.emit("chat:send", payload, callback=True)
    assert first["message"]["id"] == again["message"]["id"] and again["duplicate"] is True
    assert _db.session.scalar(select(_db.func.count()).select_from(Message)) == 1
    # The next new message still gets the next number: the duplicate used none.
    nxt = a.emit(
        "chat:send",
        {"circle_id": circle.id, "client_id": "retry-0000002", "body": "Two"},
        callback=True,
    )
    assert nxt["message"]["seq"] == 2


def test_other_circle_hears_nothing(app, make_circle, add_member, connect):
    c1, _ = make_circle("One")
    c2, _ = make_circle("Two")
    anna = add_member(c1, name="Anna")
    zoe = add_member(c2, name="Zoe")
    a, z = connect(anna.user), connect(zoe.user)
    a.emit("chat:join", {"circle_id": c1.id}, callback=True)
    z.emit("chat:join", {"circle_id": c2.id}, callback=True)
    z.get_received()
    a.emit(
        "chat:send",
        {"circle_id": c1.id, "client_id": "secret-000001", "body": "private"},
        callback=True,
    )
    assert z.get_received() == []
    # And Zoe cannot join or post in circle one.
    assert z.emit("chat:join", {"circle_id": c1.id}, callback=True) == {
        "ok": False,
        "error": "not_found",
    }
    assert (
        z.emit(
            "chat:send",
            {"circle_id": c1.id, "client_id": "intrude-00001", "body": "x"},
            callback=True,
        )["error"]
        == "not_found"
    )
    assert z.get_received() == []


def test_connect_needs_login_and_csrf(app, make_circle, add_member, connect, client):
    anon = connect(None)
    assert not anon.is_connected()
    circle, _ = make_circle()
    anna = add_member(circle)
    assert not connect(anna.user, with_csrf=False).is_connected()
    assert connect(anna.user).is_connected()


def test_send_costs_three_queries(app, make_circle, add_member, connect):
    """Access with the circle's counter, the insert, and the readers' "new messages"
    news line (one statement whatever the circle's size; issue 12): three statements on
    SQLite, and on PostgreSQL all three in one (services.chat._send_in_one)."""
    circle, _ = make_circle()
    anna = add_member(circle)
    a = connect(anna.user)
    a.emit("chat:join", {"circle_id": circle.id}, callback=True)
    statements = []
    circle_id = circle.id
    _db.session.commit()

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA")):
            statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        ack = a.emit(
            "chat:send", {"circle_id": circle_id, "client_id": "count-000001", "body": "hi"}
        )
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    assert ack["ok"]
    # The access check and the counter are one UPDATE (services.chat.send_as).
    assert len(statements) == (1 if _db.engine.dialect.name == "postgresql" else 3), statements


def test_a_refused_body_or_a_refused_person_leaves_no_gap_in_the_numbers(
    app, make_circle, add_member, connect
):
    """The counter may move before the body is checked (PostgreSQL's one statement);
    a refused send must not use a number all the same."""
    circle, coordinator = make_circle()
    anna = add_member(circle, name="Anna")
    a = connect(anna.user)
    send = {"circle_id": circle.id, "client_id": "gap-00000001"}
    assert a.emit("chat:send", send | {"body": "   "}, callback=True)["error"] == "invalid"
    assert a.emit("chat:send", send | {"client_id": "x"}, callback=True)["error"] == "invalid"
    ok = a.emit("chat:send", send | {"body": "first"}, callback=True)
    assert ok["ok"] and ok["message"]["seq"] == 1
    assert ok["message"]["author"] == "Anna" and ok["message"]["author_id"] == anna.id
    # A removed member: no number taken, and the same "not found" as an outsider.
    anna.status = MembershipStatus.REMOVED
    _db.session.commit()
    gone = a.emit("chat:send", send | {"client_id": "gap-00000002", "body": "x"}, callback=True)
    assert gone["ok"] is False
    nxt = connect(coordinator.user).emit(
        "chat:send", send | {"client_id": "gap-00000003", "body": "second"}, callback=True
    )
    assert nxt["message"]["seq"] == 2


def test_socket_events_read_the_login_cookie_once_and_still_act_as_the_person(
    app, make_circle, add_member, connect, monkeypatch
):
    """Opening the signed cookie on every event cost a tenth of the server's CPU; a
    socket's cookie never changes, so it is read at connect only. Events must still
    act for the signed-in person: their name on messages, their language in errors."""
    from itsdangerous import URLSafeTimedSerializer

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    anna.user.locale = "fr"
    _db.session.commit()
    a = connect(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id}, callback=True)["ok"]
    decoded = []
    real_loads = URLSafeTimedSerializer.loads

    def counting_loads(self, *args, **kwargs):
        decoded.append(1)
        return real_loads(self, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", counting_loads)
    acks = [
        a.emit(
            "chat:send",
            {"circle_id": circle.id, "client_id": f"once-{i:08d}", "body": f"Bonjour {i}"},
            callback=True,
        )
        for i in range(5)
    ]
    refused = a.emit(
        "chat:send",
        {"circle_id": circle.id, "client_id": "once-empty01", "body": "  "},
        callback=True,
    )
    assert decoded == []
    assert [ack["message"]["author"] for ack in acks] == ["Anna"] * 5
    assert refused == {"ok": False, "error": "invalid", "message": "Écrivez un message."}


def test_each_socket_event_gets_its_own_copy_of_the_login_cookie(app):
    """The decoded cookie is kept per socket, but one event's changes (even inside a
    list) never show up in the next event, just as with a fresh decode."""
    from flask import session
    from werkzeug.test import EnvironBuilder

    signed = app.session_interface.get_signing_serializer(app).dumps(
        {"_user_id": "7", "_flashes": [["info", "hello"]]}
    )
    environ = EnvironBuilder(
        path="/socket.io/", headers={"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={signed}"}
    ).get_environ()
    with app.request_context(environ):
        session["_flashes"].append(["error", "changed by an event"])
        session["extra"] = True
    with app.request_context(environ):
        assert dict(session) == {"_user_id": "7", "_flashes": [["info", "hello"]]}
    # An ordinary page never reuses a decoded cookie.
    page = EnvironBuilder(path="/circles", headers={"Cookie": environ["HTTP_COOKIE"]})
    page_environ = page.get_environ()
    with app.request_context(page_environ):
        assert session["_user_id"] == "7"
    assert "kring.socket_session" not in page_environ


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "text",
        5,
        [1, 2],
        {"circle_id": "1"},
        {"circle_id": True},
        {"client_id": "x"},
        {"circle_id": -1, "client_id": "abcdefgh", "body": "x"},
    ],
)
def test_malformed_payloads_get_an_error_ack(app, make_circle, add_member, connect, payload):
    circle, _ = make_circle()
    a = connect(add_member(circle).user)
    ack = a.emit("chat:send", payload, callback=True)
    assert ack["ok"] is False and ack["error"] in ("bad_request", "not_found")
    assert "Traceback" not in str(ack)
    # The server still serves this socket afterwards.
    ok = a.emit(
        "chat:send",
        {"circle_id": circle.id, "client_id": "after-000001", "body": "still here"},
        callback=True,
    )
    assert ok["ok"]


def test_unknown_event_gets_an_error_ack(app, make_circle, add_member, connect):
    circle, _ = make_circle()
    a = connect(add_member(circle).user)
    assert a.emit("chat:explode", {"x": 1}, callback=True) == {
        "ok": False,
        "error": "unknown_event",
    }


def test_rate_limit_applies_before_database_work(app, make_circle, add_member, connect):
    circle, _ = make_circle()
    a = connect(add_member(circle).user)
    answers = [
        a.emit(
            "chat:send",
            {"circle_id": circle.id, "client_id": f"burst-{i:07d}", "body": f"m{i}"},
            callback=True,
        )
        for i in range(40)
    ]
    limited = [x for x in answers if x.get("error") == "rate_limited"]
    assert limited, "a burst of 40 sends was never limited"
    stored = _db.session.scalar(select(_db.func.count()).select_from(Message))
    assert stored == len([x for x in answers if x.get("ok")]) < 40
