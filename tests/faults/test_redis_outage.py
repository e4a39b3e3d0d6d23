"""Redis (the Socket.IO message queue) stops for 5 s while people write on both
processes, then comes back (issue 15, part C, b). Both processes listen on the queue
again within 5 s, and every open page holds every stored message, once and in order,
without a reload: the live events lost meanwhile come through the sequence beat
(portal/realtime/beat.py) and the catch-up."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import Reader, Writer, stored_bodies, wait_until

pytestmark = [pytest.mark.live, pytest.mark.postgres_only]


def test_redis_outage_loses_nothing_on_open_pages(kring_cluster):
    c = kring_cluster
    one, two = c.processes
    cid, people = c.demo_circle, c.people
    a = Reader(people["central"], one, cid)
    b = Reader(people["member"], two, cid)
    others = [Reader(people["supporter"], one, cid), Reader(people["coordinator"], two, cid)]
    readers = [a, b, *others]
    assert wait_until(lambda: c.redis.subscribers() == 2, 10)
    base = a.whole
    writers = [Writer(a, "one"), Writer(b, "two")]
    for w in writers:
        w.start()
    assert wait_until(lambda: all(len(w.sent) >= 5 for w in writers), 20)

    c.redis.stop()
    down = time.monotonic()
    time.sleep(5)  # the outage (not an assertion)
    sent_during = sum(len(w.sent) for w in writers)
    c.redis.start()
    up = time.monotonic()
    assert wait_until(lambda: c.redis.subscribers() == 2, 5), "not subscribed again in 5 s"
    resubscribed = time.monotonic() - up

    assert wait_until(lambda: all(len(w.sent) >= 5 + 3 for w in writers), 20)
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join(30)
    stored = stored_bodies(a)[base:]
    # Each message stored once (the retries after failures were not stored twice).
    assert sorted(stored) == sorted(b for w in writers for b in w.sent)
    assert len(set(stored)) == len(stored)
    want = list(range(1, base + len(stored) + 1))
    for r in readers:
        assert r.connected, "the page's socket stayed open"
        assert wait_until(lambda r=r: r.seqs() == want, 10), (r.person.name, r.whole, len(want))
        assert len(set(r.live)) == len(r.live), "a live event came twice"
    print(
        f"outage {up - down:.1f}s, resubscribed after {resubscribed:.1f}s, "
        f"{len(stored)} messages, {sum(w.failures for w in writers)} send failures, "
        f"{sent_during} sent before the restart, beats seen {sum(r.beats for r in readers)}"
    )
