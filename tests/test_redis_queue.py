"""After losing Redis, each process listens again soon after Redis returns, however
long it was away (portal/realtime/queue.py). The waits between attempts are recorded
instead of slept; Redis is a real ``redis-server`` of the test's own, down at first
and started partway through."""

from __future__ import annotations

import threading
import time

import socketio

from portal import create_app
from portal.extensions import socketio as socketio_ext
from portal.realtime.queue import CHANNEL, RedisQueue
from tests.conftest import _Config
from tests.faults.cluster import RedisServer, wait_until
from tests.live_server import free_port


def _listen_through_outage(manager, server: RedisServer, monkeypatch, attempts: int) -> list:
    """Iterate the listener while Redis is down; Redis comes back after ``attempts``
    failed tries. Returns the waits asked for and the first message heard."""
    waits: list[float] = []
    real_sleep, listener = time.sleep, threading.current_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is not listener:  # the publisher below waits truly
            return real_sleep(seconds)
        waits.append(seconds)
        if len(waits) == attempts:
            server.start()
            # Subscribe confirmations are not handed on: once the listener is back,
            # publish something for it to hear.
            threading.Thread(target=publish_when_heard, daemon=True).start()

    def publish_when_heard() -> None:
        if wait_until(lambda: server.subscribers() == 1, 10):
            server.client().publish(CHANNEL, b"back")

    monkeypatch.setattr(time, "sleep", sleep)  # the module both managers call
    listening = manager._redis_listen_with_retries()
    first = next(listening)
    manager.pubsub.close()
    return waits, first


def test_listens_again_within_two_seconds_of_redis_returning(tmp_path, monkeypatch):
    server = RedisServer(tmp_path)  # not started: Redis is away
    try:
        queue = RedisQueue(server.url, retry_max=2)
        waits, first = _listen_through_outage(queue, server, monkeypatch, attempts=10)
        assert (first["type"], first["channel"], first["data"]) == (
            "message",
            CHANNEL.encode(),
            b"back",
        )
        # 19 s of outage: never more than 2 s between two tries.
        assert waits == [1, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    finally:
        server.stop()


def test_the_library_alone_would_wait_up_to_a_minute(tmp_path, monkeypatch):
    """Why the queue is Kring's own: python-socketio's manager, the same outage."""
    server = RedisServer(tmp_path)
    try:
        manager = socketio.RedisManager(server.url, channel=CHANNEL)
        waits, first = _listen_through_outage(manager, server, monkeypatch, attempts=8)
        assert first["data"] == b"back"
        assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    finally:
        server.stop()


class _WithRedis(_Config):
    REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: never used here


def test_kring_uses_its_queue_when_redis_is_configured(app):
    assert not isinstance(socketio_ext.server.manager, RedisQueue)  # one process: in memory
    with_redis = create_app(_WithRedis)
    manager = with_redis.extensions["socketio"].server.manager
    assert isinstance(manager, RedisQueue)
    assert manager.channel == CHANNEL
    assert manager.retry_max == with_redis.config["REDIS_RETRY_MAX_SECONDS"] == 2
