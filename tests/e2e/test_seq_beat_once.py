"""A beat that comes while the page's catch-up is on its way (static/js/conversation.js).

The server tells a lagging room a few times (``SEQ_BEAT_AGAIN``), and every room at each
full beat. Here it tells each room once and never again, so only the page's own rule
can bring the message: a beat seen during a catch-up that read less than the beat told
starts another catch-up when the first one ends."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.live_server import kring_server

from .conftest import LiveServer
from .test_chat import msgs
from .test_seq_beat import (
    _send_lost,
    anna_held_and_ben,
    first_catch_up_held,
    shown_after_release,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server():
    """This module's own server: a room is told once, and a room's share of the full
    beat comes once in 100,000 beats (for circle 1, at the 24,963rd: never here)."""
    settings = {"SEQ_BEAT_SECONDS": "1", "SEQ_BEAT_AGAIN": "0", "SEQ_BEAT_FULL_EVERY": "100000"}
    with kring_server("kring-e2e-once-", **settings) as (url, env, log, _proc):
        yield LiveServer(url=url, env=env, log=log)


def test_a_beat_seen_while_a_catch_up_is_on_its_way_is_caught_up_too(live_server, person):
    circle_id, a, _b, held, holding = anna_held_and_ben(live_server, person, "once")
    first_catch_up_held(live_server, circle_id, a, "ben.once", held, holding)
    # While that catch-up's answer (it read up to seq 1) is held, seq 2 is lost too, and
    # the beat tells of it, once, to a page that is still waiting for its catch-up.
    _send_lost(live_server, circle_id, "ben.once", "Second one lost")
    a.page.wait_for_timeout(2_500)  # at least one beat (every 1 s) told of seq 2
    expect(msgs(a.page, "Second one lost")).to_have_count(0)
    assert shown_after_release(a, held, holding) == ["First lost", "Second one lost"]
