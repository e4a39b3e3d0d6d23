"""The rate limits' in-process storage: same answers as limits' memory storage, without
walking every key 100 times a second (that walk was a third of the server's CPU
under chat load with a thousand people counted; bench/README.md)."""

from __future__ import annotations

import time

import limits
from limits.strategies import MovingWindowRateLimiter

from portal.extensions import limiter
from portal.ratelimit_store import SweepingMemoryStorage


def test_the_app_counts_in_the_sweeping_storage(app):
    assert isinstance(limiter.storage, SweepingMemoryStorage)


def test_a_moving_window_limit_refuses_and_forgets_as_before():
    storage = SweepingMemoryStorage("kringmemory://")
    window = MovingWindowRateLimiter(storage)
    item = limits.parse("3 per 1 second")
    assert [window.hit(item, "chat-send", "7") for _ in range(4)] == [True, True, True, False]
    assert window.hit(item, "chat-send", "8")  # another person has their own allowance
    time.sleep(1.05)
    assert window.hit(item, "chat-send", "7")  # the window moved on, sweep or no sweep


def test_a_thousand_people_counted_are_not_walked_a_hundred_times_a_second():
    storage = SweepingMemoryStorage("kringmemory://")
    walks = []
    original = storage._MemoryStorage__expire_events
    storage._MemoryStorage__expire_events = lambda: (walks.append(1), original())
    storage.timer.cancel()  # the one limits starts in __init__ (10 ms)
    window = MovingWindowRateLimiter(storage)
    item = limits.parse("30 per minute")
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        for person in range(1000):
            window.hit(item, "chat-send", str(person))
    # limits' own storage walks all 1,000 keys every 10 ms: about 50 times here.
    assert len(walks) <= 1


def test_the_sweep_runs_inline_once_due_and_frees_what_expired(monkeypatch):
    """No timer thread (under gevent, asking whether it was alive paused every hit):
    the first hit after ``SWEEP_SECONDS`` walks the keys and drops the expired entries
    (limits keeps an empty list per key, as its own sweep does)."""
    import threading

    from portal import ratelimit_store

    def no_threads(*_a, **_k):
        raise AssertionError("a hit asked about a thread")

    monkeypatch.setattr(ratelimit_store, "SWEEP_SECONDS", 0.2)
    storage = SweepingMemoryStorage("kringmemory://")  # limits' __init__ starts one timer
    monkeypatch.setattr(threading.Thread, "is_alive", no_threads)
    monkeypatch.setattr(threading.Thread, "start", no_threads)
    window = MovingWindowRateLimiter(storage)
    short = limits.parse("5 per 1 second")
    for person in range(50):
        assert window.hit(short, "chat-send", str(person))
    assert len(storage.events) == 50
    time.sleep(1.1)  # every entry expired, and a sweep is due
    assert window.hit(short, "chat-send", "new")
    held = {key: len(entries) for key, entries in storage.events.items() if entries}
    assert list(held.values()) == [1] and next(iter(held)).endswith("/new/5/1/second")
