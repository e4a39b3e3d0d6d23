"""One of the two processes is killed (SIGKILL) while people write (issue 15, part C,
c). Its pages reconnect to the other process and catch up (``chat:join after_seq``);
a message whose answer was lost in the crash is sent again with its client id and
stored once. Every page ends with every message, once, in order."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import Reader, Writer, stored_bodies, wait_until

pytestmark = [pytest.mark.live, pytest.mark.postgres_only]


def test_a_killed_process_loses_nothing(kring_cluster):
    c = kring_cluster
    one, two = c.processes
    cid, people = c.demo_circle, c.people
    a = Reader(people["central"], one, cid)
    b = Reader(people["member"], two, cid)
    watchers = [Reader(people["supporter"], one, cid), Reader(people["coordinator"], two, cid)]
    readers = [a, b, *watchers]
    on_two = [b, watchers[1]]
    base = a.whole
    writers = [Writer(a, "one"), Writer(b, "two")]
    for w in writers:
        w.start()
    assert wait_until(lambda: all(len(w.sent) >= 5 for w in writers), 20)

    killed = time.monotonic()
    two.kill()
    # Its pages notice (the socket drops) and reconnect to the process still up, as a
    # load balancer would send them; connecting catches up after what they hold.
    assert wait_until(lambda: not any(r.connected for r in on_two), 15)
    noticed = time.monotonic() - killed
    for r in on_two:
        r.connect(one)
    back = time.monotonic() - killed
    more = [len(w.sent) + 5 for w in writers]
    assert wait_until(lambda: all(len(w.sent) >= n for w, n in zip(writers, more, strict=True)), 30)
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join(30)

    stored = stored_bodies(a)[base:]
    assert sorted(stored) == sorted(body for w in writers for body in w.sent)
    assert len(set(stored)) == len(stored), "a message was stored twice"
    want = list(range(1, base + len(stored) + 1))
    for r in readers:
        assert wait_until(lambda r=r: r.seqs() == want, 10), (r.person.name, r.whole, len(want))
    print(
        f"noticed {noticed:.1f}s, reconnected {back:.1f}s; {len(stored)} messages, "
        f"resends {[w.failures for w in writers]}, sent {[len(w.sent) for w in writers]}"
    )
