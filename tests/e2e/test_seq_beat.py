"""No gap after an outage, in a real browser (portal/realtime/beat.py and the catch-up
in static/js/conversation.js). A message is stored while its live event is lost (what
happens to a process's publish while Redis is down): the open chat page shows it
within a few seconds, without a reload, once and in its place."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, ROOT
from .test_chat import join, msgs, open_chat, send

pytestmark = pytest.mark.e2e

# Run in a process of its own against the server's database, with the publish
# dropped: stored and numbered as every message is, heard by nobody.
_LOST_SEND = """
import sys
from app import app
from portal import events
from portal.access.chat import access_chat_seat
from portal.extensions import db
from portal.models import Membership, User
from portal.services import chat
events.publish = lambda *a, **k: None
circle_id, username, body = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with app.app_context():
    user = db.session.query(User).filter_by(username=username).one()
    chat.send_message(access_chat_seat(user, circle_id), "lostpublish" + str(len(body)), body)
    db.session.commit()
"""


def _send_lost(live_server, circle_id: int, username: str, body: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOST_SEND, str(circle_id), username, body],
        cwd=ROOT,
        env=live_server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def hold_catch_ups(page) -> tuple[list, dict]:
    """Route the page's socket through Playwright so that, while ``holding["on"]``, the
    server's answers to its catch-ups (``chat:join``) are kept in ``held`` as
    ``(route, frame)`` instead of reaching the page; ``route.send(frame)`` lets one go."""
    held: list = []
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

    page.route_web_socket("**/socket.io/**", route)
    return held, holding


def anna_held_and_ben(live_server, person, name: str):
    """A circle with Anna (her catch-ups' answers can be held: ``hold_catch_ups``) on
    its chat page, and Ben; (circle id, Anna, Ben, held, holding)."""
    circle_id, _ = live_server.create_circle("Circle around Fenna", "Noor")
    a = person("Anna", viewport=DESKTOP)
    held, holding = hold_catch_ups(a.page)
    join(a, live_server.invite(circle_id, "Anna", "member"), username=f"anna.{name}")
    b = person("Ben")
    join(b, live_server.invite(circle_id, "Ben", "member"), username=f"ben.{name}")
    a.goto(f"/c/{circle_id}")
    open_chat(a, circle_id)
    return circle_id, a, b, held, holding


def first_catch_up_held(live_server, circle_id, a, sender: str, held, holding) -> None:
    """Message 1 is stored while its live event is lost; the beat tells Anna's page,
    whose catch-up (reading up to 1) is then held."""
    holding["on"] = True
    _send_lost(live_server, circle_id, sender, "First lost")
    waited = 0
    while not held and waited < 10_000:
        a.page.wait_for_timeout(200)
        waited += 200
    assert held, "the beat did not start a catch-up"


def shown_after_release(a, held, holding) -> list[str]:
    """Let the held catch-up answers reach Anna's page; once "Second one lost" shows
    (within 8 s), the messages on her page, in order."""
    holding["on"] = False
    for ws, m in held:
        ws.send(m)
    expect(msgs(a.page, "Second one lost")).to_have_count(1, timeout=8_000)
    return a.page.locator("#messages li.msg p.body").all_text_contents()


def test_a_message_whose_live_event_was_lost_shows_up_without_reload(live_server, person):
    circle_id, _ = live_server.create_circle("Circle around Fenna", "Noor")
    a = person("Anna", viewport=DESKTOP)
    join(a, live_server.invite(circle_id, "Anna", "member"), username="anna.beat")
    join(person("Ben"), live_server.invite(circle_id, "Ben", "member"), username="ben.beat")
    a.goto(f"/c/{circle_id}")
    open_chat(a, circle_id)
    url = a.page.url

    _send_lost(live_server, circle_id, "ben.beat", "Sent while the queue was down")
    # Within a beat or two (SEQ_BEAT_SECONDS, 3 by default): the 10 s of the promise.
    expect(msgs(a.page, "Sent while the queue was down")).to_have_count(1, timeout=10_000)
    assert a.page.url == url  # no reload

    # A hole, then a message of one's own on top: the lost one still comes, before it.
    _send_lost(live_server, circle_id, "ben.beat", "Also lost, the second")
    send(a, "My answer", enter=True)
    expect(msgs(a.page, "My answer")).to_have_count(1)
    expect(msgs(a.page, "Also lost, the second")).to_have_count(1, timeout=10_000)
    bodies = a.page.locator("#messages li.msg p.body").all_text_contents()
    assert bodies == ["Sent while the queue was down", "Also lost, the second", "My answer"]
    seqs = a.page.locator("#messages li.msg").evaluate_all("els => els.map(e => e.dataset.seq)")
    assert seqs == ["1", "2", "3"]


def test_a_hole_seen_while_a_catch_up_is_on_its_way_is_caught_up_too(live_server, person):
    """The beat tells a room only what its process did not deliver live. So when a live
    message past a hole arrives while a catch-up is on its way, and that catch-up read
    the chat before the hole's message was stored, the page must catch up again on its
    own: the beat will not tell of it (the newest message was heard live)."""
    circle_id, a, b, held, holding = anna_held_and_ben(live_server, person, "hole")
    b.goto(f"/c/{circle_id}")
    open_chat(b, circle_id)
    first_catch_up_held(live_server, circle_id, a, "ben.hole", held, holding)
    # While that catch-up's answer (it read up to seq 1) is held: seq 2 is lost, and
    # seq 3 arrives live.
    _send_lost(live_server, circle_id, "ben.hole", "Second one lost")
    send(b, "Heard live")
    expect(msgs(a.page, "Heard live")).to_have_count(1)
    # Well before the full beat (every 10th beat, 30 s): the page catches up itself.
    assert shown_after_release(a, held, holding) == ["First lost", "Second one lost", "Heard live"]
