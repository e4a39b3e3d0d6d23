"""A beat that comes while the page's catch-up is on its way (static/js/conversation.js).

The server tells a lagging room a few times (``SEQ_BEAT_AGAIN``), and every room at each
full beat. Here it tells each room once and never again, so only the page's own rule
can bring the message: a beat seen during a catch-up that read less than the beat told
starts another catch-up when the first one ends."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.live_server import kring_server

from .conftest import DESKTOP, LiveServer
from .test_chat import join, msgs, open_chat
from .test_seq_beat import _send_lost

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server():
    """This module's own server: a room is told once, and no beat is ever full."""
    settings = {"SEQ_BEAT_SECONDS": "1", "SEQ_BEAT_AGAIN": "0", "SEQ_BEAT_FULL_EVERY": "100000"}
    with kring_server("kring-e2e-once-", **settings) as (url, env, log, _proc):
        yield LiveServer(url=url, env=env, log=log)


def test_a_beat_seen_while_a_catch_up_is_on_its_way_is_caught_up_too(live_server, person):
    circle_id, _ = live_server.create_circle("Circle around Fenna", "Noor")
    a = person("Anna", viewport=DESKTOP)
    held: list = []  # the server's answers to Anna's catch-ups, while holding
    holding = {"on": False}

    def route(ws):
        server = ws.connect_to_server()
        ws.on_message(lambda m: server.send(m))

        def to_page(m):
            # A Socket.IO acknowledgement ("43<id>[...]") of a chat:join carries last_seq.
            if holding["on"] and isinstance(m, str) and m.startswith("43") and "last_seq" in m:
                held.append((ws, m))
                return
            ws.send(m)

        server.on_message(to_page)

    a.page.route_web_socket("**/socket.io/**", route)
    join(a, live_server.invite(circle_id, "Anna", "member"), username="anna.once")
    b = person("Ben")
    join(b, live_server.invite(circle_id, "Ben", "member"), username="ben.once")
    a.goto(f"/c/{circle_id}")
    open_chat(a, circle_id)
    a.page.wait_for_timeout(2_500)  # the beats that tell of the room as new have passed

    holding["on"] = True
    _send_lost(live_server, circle_id, "ben.once", "First lost")  # seq 1: the beat tells
    waited = 0
    while not held and waited < 10_000:
        a.page.wait_for_timeout(200)
        waited += 200
    assert held, "the beat did not start a catch-up"
    # While that catch-up's answer (it read up to seq 1) is held, seq 2 is lost too, and
    # the beat tells of it, once, to a page that is still waiting for its catch-up.
    _send_lost(live_server, circle_id, "ben.once", "Second one lost")
    a.page.wait_for_timeout(2_500)  # at least one beat (every 1 s) told of seq 2
    expect(msgs(a.page, "Second one lost")).to_have_count(0)
    holding["on"] = False
    for ws, m in held:
        ws.send(m)
    expect(msgs(a.page, "Second one lost")).to_have_count(1, timeout=8_000)
    bodies = a.page.locator("#messages li.msg p.body").all_text_contents()
    assert bodies == ["First lost", "Second one lost"]
