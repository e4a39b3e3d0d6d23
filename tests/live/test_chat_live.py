"""The chat socket, driven by real Socket.IO clients against a running server."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
import websocket

from tests.live.conftest import LiveSocket, wait_until

pytestmark = pytest.mark.live


def _seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


def _heard(s: LiveSocket, body: str) -> bool:
    return any(e["message"]["body"] == body for e in s.messages)


def test_reconnecting_client_catches_up_exactly_once_in_order(kring):
    circle_id, (anna, ben) = kring.circle("Catch-up", "Anna", ("Ben", "member"))
    a = anna.socket()
    a.join(circle_id)
    for i in range(3):
        assert a.send(circle_id, f"before {i}")["ok"]

    b = ben.socket()
    seen = b.join(circle_id)
    assert _seqs(seen["messages"]) == [1, 2, 3] and seen["last_seq"] == 3
    last_seen = seen["last_seq"]
    b.close()
    assert wait_until(lambda: not b.sio.connected)

    bodies = [f"while Ben was away {i}" for i in range(50)]
    acks = [a.send(circle_id, body) for body in bodies]
    assert all(ack["ok"] and not ack["duplicate"] for ack in acks)

    b2 = ben.socket()
    got = b2.join(circle_id, after_seq=last_seen)
    assert got["more"] is False
    assert got["last_seq"] == last_seen + 50
    assert _seqs(got["messages"]) == list(range(last_seen + 1, last_seen + 51))  # contiguous
    assert [m["body"] for m in got["messages"]] == bodies  # exactly those, in order
    assert len({m["id"] for m in got["messages"]}) == 50  # no duplicates
    assert [m["id"] for m in got["messages"]] == [ack["message"]["id"] for ack in acks]
    assert {m["author"] for m in got["messages"]} == {"Anna"}
    # The live stream carries on from there, and Anna's next message is the sentinel:
    # once Ben has it, anything sent live on top of the catch-up would have come first.
    assert a.send(circle_id, "welcome back")["ok"]
    assert wait_until(lambda: _heard(b2, "welcome back"))
    assert [e["message"]["body"] for e in b2.messages] == ["welcome back"]
    assert b2.messages[0]["message"]["seq"] == last_seen + 51


def test_other_circles_hear_nothing(kring):
    circle_id, (anna, ben) = kring.circle("Audience one", "Anna", ("Ben", "member"))
    other_id, (zoe,) = kring.circle("Audience two", "Zoe")
    a, b, z = anna.socket(), ben.socket(), zoe.socket()
    a.join(circle_id)
    b.join(circle_id)
    z.join(other_id)

    for i in range(10):
        assert a.send(circle_id, f"private {i}")["ok"]
    # Ben (same circle, connected at the same moment) hears all ten...
    assert wait_until(lambda: len(b.messages) == 10)
    assert [e["message"]["body"] for e in b.messages] == [f"private {i}" for i in range(10)]
    # ...Zoe, in the other circle, nothing at all: her own next message (the sentinel)
    # is the first thing she hears.
    assert z.send(other_id, "Zoe's sentinel 1")["ok"]
    assert wait_until(lambda: _heard(z, "Zoe's sentinel 1"))
    assert [e["message"]["body"] for e in z.messages] == ["Zoe's sentinel 1"]

    # Zoe trying her way in: another circle's id is "not found", nothing is stored or heard.
    assert z.call("chat:join", {"circle_id": circle_id}) == {"ok": False, "error": "not_found"}
    intrusion = z.send(circle_id, "let me in")
    assert intrusion == {"ok": False, "error": "not_found"}
    assert (
        z.call("chat:history", {"circle_id": circle_id, "before_seq": 100})["error"] == "not_found"
    )
    assert a.send(circle_id, "still private")["ok"]
    assert wait_until(lambda: len(b.messages) == 11)
    assert z.send(other_id, "Zoe's sentinel 2")["ok"]
    assert wait_until(lambda: _heard(z, "Zoe's sentinel 2"))
    assert [e["message"]["body"] for e in z.messages] == ["Zoe's sentinel 1", "Zoe's sentinel 2"]
    assert [m["body"] for m in b.join(circle_id, after_seq=10)["messages"]] == ["still private"]


def test_socket_from_a_foreign_origin_is_refused(kring):
    _circle_id, (anna,) = kring.circle("Origins", "Anna")
    evil = {"Origin": "https://evil.example"}

    # The Engine.IO handshake itself is answered 400, with Anna's cookie on it.
    handshake = f"{kring.url}/socket.io/?EIO=4&transport=polling"
    refused = anna.http.get(handshake, headers=evil, timeout=10)
    assert refused.status_code == 400
    assert '"sid"' not in refused.text
    # A WebSocket opened straight away (no polling first) is refused as well.
    with pytest.raises(websocket.WebSocketBadStatusException) as refused_ws:
        websocket.create_connection(
            f"ws://127.0.0.1:{kring.url.rsplit(':', 1)[1]}/socket.io/?EIO=4&transport=websocket",
            origin="https://evil.example",
            cookie=f"kring_session={anna.cookie()}",
            timeout=5,
        )
    assert refused_ws.value.status_code == 400
    # Through the Socket.IO client, both transports, with a valid cookie and CSRF token.
    for transports in (["polling"], ["websocket"]):
        with pytest.raises(socketio.exceptions.ConnectionError):
            LiveSocket(kring, anna.http, anna.csrf(), headers=evil, transports=transports)

    # The right origin (and a client that sends none, like python-socketio's polling) works.
    ok = anna.http.get(handshake, headers={"Origin": kring.url}, timeout=10)
    assert ok.status_code == 200 and '"sid"' in ok.text
    s = LiveSocket(
        kring,
        anna.http,
        anna.csrf(),
        headers={"Origin": kring.url},
        transports=["polling", "websocket"],
    )
    anna.sockets.append(s)
    assert s.connected
    assert s.call("chat:join", {"circle_id": _circle_id})["ok"]


def test_connect_needs_a_login_and_the_csrf_token(kring):
    _circle_id, (anna,) = kring.circle("Handshake", "Anna")
    assert LiveSocket.refused(kring, requests.Session(), None) == {"message": "unauthorized"}
    assert LiveSocket.refused(kring, anna.http, None) == {"message": "csrf"}
    assert LiveSocket.refused(kring, anna.http, "forged-token") == {"message": "csrf"}
    # Anna's valid token with somebody else's (anonymous) cookie is no good either.
    assert LiveSocket.refused(kring, requests.Session(), anna.csrf()) == {"message": "unauthorized"}
    assert anna.socket().connected


def test_removed_member_is_cut_off_within_a_second(kring):
    circle_id, (noor, sanne, ben) = kring.circle(
        "Removal", "Noor", ("Sanne", "central"), ("Ben", "member")
    )
    # Ben is also in a second circle, with the same account.
    other_id, _ = kring.circle("Ben's other circle", "Carla")
    ben.accept(kring.invite(other_id, "Ben"))
    s, b = sanne.socket(), ben.socket()
    s.join(circle_id)
    b.join(circle_id)
    ben_id = b.send(circle_id, "hello")["message"]["author_id"]
    assert wait_until(lambda: len(s.messages) == 1)

    started = time.monotonic()
    resp = sanne.post(
        f"/c/{circle_id}/members/{ben_id}/remove",
        {"csrf_token": sanne.csrf()},
        allow_redirects=False,
    )
    assert resp.status_code == 302
    assert b.disconnected.wait(1.0), "Ben's socket stayed open after his removal"
    assert b.disconnected_at - started < 1.0

    # Ben is still signed in, so he can reconnect, but the circle is gone for him.
    b2 = ben.socket()
    assert b2.call("chat:join", {"circle_id": circle_id}) == {"ok": False, "error": "not_found"}
    assert b2.send(circle_id, "am I still here?") == {"ok": False, "error": "not_found"}
    assert (
        b2.call("chat:history", {"circle_id": circle_id, "before_seq": 5})["error"] == "not_found"
    )
    # His other circle is still his: he follows it, and his own message there is the
    # sentinel that shows he heard nothing of the first circle before it.
    assert b2.join(other_id)["ok"]
    assert s.send(circle_id, "after Ben left")["ok"]
    assert b2.send(other_id, "Ben's sentinel")["ok"]
    assert wait_until(lambda: _heard(b2, "Ben's sentinel"))
    assert [e["message"]["body"] for e in b2.messages] == ["Ben's sentinel"]
    assert [e["message"]["body"] for e in s.messages] == ["hello", "after Ben left"]


def test_logout_closes_that_browsers_socket_and_its_cookie_is_dead(kring):
    circle_id, (anna, ben) = kring.circle("Logout", "Anna", ("Ben", "member"))
    ben_phone = ben.another_browser()
    a, b_laptop, b_phone = anna.socket(), ben.socket(), ben_phone.socket()
    for s in (a, b_laptop, b_phone):
        s.join(circle_id)
    old_cookie, old_csrf = ben.cookie(), ben.csrf()

    started = time.monotonic()
    resp = ben.post("/logout", {"csrf_token": old_csrf}, allow_redirects=False)
    assert resp.status_code == 302
    assert b_laptop.disconnected.wait(1.0), "the socket stayed open after logout"
    assert b_laptop.disconnected_at - started < 1.0

    # His phone (another login session) stays connected and keeps hearing the circle.
    assert a.send(circle_id, "are you there?")["ok"]
    assert wait_until(lambda: len(b_phone.messages) == 1)
    assert b_phone.connected

    # Replaying the old cookie (with its still-matching CSRF token) is refused.
    replay = requests.Session()
    replay.cookies.set("kring_session", old_cookie, domain="127.0.0.1", path="/")
    assert LiveSocket.refused(kring, replay, old_csrf) == {"message": "unauthorized"}
    assert (
        replay.get(f"{kring.url}/c/{circle_id}", allow_redirects=False, timeout=10).status_code
        == 302
    )


def test_oversized_payload_closes_the_socket_and_stores_nothing(kring):
    circle_id, (anna, ben) = kring.circle("Payload size", "Anna", ("Ben", "member"))
    a, b = anna.socket(), ben.socket()
    a.join(circle_id)
    b.join(circle_id)
    assert a.send(circle_id, "small")["ok"]

    # A long message under the frame limit is refused politely, connection kept.
    too_long = a.send(circle_id, "x" * 10_000)
    assert too_long["ok"] is False and too_long["error"] == "invalid" and too_long["message"]
    assert a.connected

    # Over 64 KiB: the server closes the connection, nothing is stored or delivered.
    a.sio.emit(
        "chat:send",
        {"circle_id": circle_id, "client_id": "huge-0000001", "body": "y" * (65 * 1024)},
    )
    assert a.disconnected.wait(5), "an oversized frame did not close the socket"
    assert b.connected
    assert b.join(circle_id)["last_seq"] == 1

    # Over long-polling the same frame is refused at the HTTP level (400) and the
    # session is closed: the client's pending poll receives the Engine.IO "close" packet.
    base = f"{kring.url}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(anna.http.get(base, timeout=10).text[1:])["sid"]
    with ThreadPoolExecutor(1) as pool:
        pending_poll = pool.submit(requests.get, f"{base}&sid={sid}", timeout=10)
        time.sleep(0.2)
        resp = requests.post(f"{base}&sid={sid}", data="4" + "z" * (65 * 1024), timeout=10)
        assert resp.status_code == 400
        assert pending_poll.result().text == "1"  # Engine.IO CLOSE
    assert requests.post(f"{base}&sid={sid}", data="2", timeout=10).status_code == 400

    # The server still serves Ben and Anna's next connection.
    a2 = anna.socket()
    a2.join(circle_id)
    assert b.send(circle_id, "still here")["ok"]
    assert wait_until(lambda: [e["message"]["body"] for e in a2.messages] == ["still here"])


def test_malformed_payloads_get_error_acks_and_others_are_still_served(kring):
    circle_id, (anna, ben) = kring.circle("Malformed", "Anna", ("Ben", "member"))
    a, b = anna.socket(), ben.socket()
    a.join(circle_id)
    b.join(circle_id)

    bad = [
        ("chat:send", "just a string"),
        ("chat:send", ["a", "list"]),
        ("chat:send", 42),
        ("chat:send", None),
        ("chat:join", {"circle_id": "1"}),
        ("chat:join", {"circle_id": True}),
        ("chat:join", {"circle_id": -3}),
        ("chat:history", {"circle_id": circle_id, "before_seq": 5, "limit": 10_000}),
        ("chat:read", {"circle_id": circle_id, "seq": "all"}),
        ("chat:edit", {"circle_id": circle_id, "message_id": {"$ne": 0}, "body": "x"}),
    ]
    for name, payload in bad:
        ack = a.call(name, payload)
        assert ack["ok"] is False and ack["error"] in ("bad_request", "not_found"), (
            name,
            payload,
            ack,
        )
    assert (
        a.call("chat:send", ({"circle_id": circle_id}, "extra", "args"))["error"] == "bad_request"
    )
    assert a.call("no-such-event", {})["error"] == "unknown_event"
    for client_id in (None, 5, "short", "has spaces in it", "x" * 65, "<script>1234"):
        ack = a.call("chat:send", {"circle_id": circle_id, "client_id": client_id, "body": "hi"})
        assert ack["ok"] is False and ack["error"] == "invalid", (client_id, ack)
    for body in (None, 12, "", "   \n ", {"html": "<b>"}):
        ack = a.call(
            "chat:send", {"circle_id": circle_id, "client_id": "fine-client-1", "body": body}
        )
        assert ack["ok"] is False and ack["error"] == "invalid", (body, ack)
    assert a.connected

    # Garbage at the Socket.IO packet level, from a third socket: whatever happens to
    # that socket, the server keeps serving everyone else.
    kring.junk_frames_sent = True
    raw = websocket.create_connection(
        f"ws://127.0.0.1:{kring.url.rsplit(':', 1)[1]}/socket.io/?EIO=4&transport=websocket",
        cookie=f"kring_session={anna.cookie()}",
        timeout=5,
    )
    assert raw.recv().startswith("0{")
    raw.send('40{"csrf":"' + anna.csrf() + '"}')
    assert raw.recv().startswith("40")
    for junk in (
        '42["chat:send",{"circle_id":',
        "42[]",
        "49xyz",
        '42["chat:send"]',
        "\x00\xff",
        "4",
    ):
        try:
            raw.send(junk)
        except websocket.WebSocketException:
            break
    raw.close()

    # Nothing was stored by any of that, and both clients still chat.
    assert b.send(circle_id, "all fine?")["ok"]
    assert a.send(circle_id, "all fine.")["ok"]
    assert wait_until(
        lambda: [e["message"]["body"] for e in b.messages] == ["all fine?", "all fine."]
    )
    assert _seqs(a.join(circle_id)["messages"]) == [1, 2]
