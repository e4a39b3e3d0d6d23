"""The Redis message queue between Kring's processes (when ``REDIS_URL`` is set).

python-socketio's ``RedisManager`` listens again after losing Redis with a back-off
that doubles up to 60 s (1, 2, 4 ... 32, 60): after an outage of 40 s a process
would stay deaf to the other processes' events for up to another 23 s, though Redis
was back. Plan ticks, meeting answers and news lines from the other processes are
lost in that time (chat catches up through the sequence beat, docs/realtime.md).
Here the wait between attempts grows only to ``REDIS_RETRY_MAX_SECONDS`` (2 s): a
process listens again at most that long after Redis returns, for any outage. One
failed attempt is one connect to a local Redis, so trying every 2 s costs nothing.
"""

from __future__ import annotations

import math
import time

import socketio

CHANNEL = "flask-socketio"  # Flask-SocketIO's own default, which the fault tests watch


class RedisQueue(socketio.RedisManager):
    def __init__(self, url: str, *, retry_max: float) -> None:
        # 0 (or below 0, under gevent) would try in a tight loop, below 0 without gevent
        # end the listener (time.sleep raises in the except below), nan or inf lift the
        # cap: refuse to start instead.
        if not 0 < retry_max < math.inf:
            raise ValueError(
                f"REDIS_RETRY_MAX_SECONDS must be a number of seconds above 0, not {retry_max}"
            )
        super().__init__(url, channel=CHANNEL)
        self.retry_max = retry_max

    def _redis_listen_with_retries(self):  # the library's loop, with the wait capped
        retry_sleep = min(1.0, self.retry_max)
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                retry_sleep = min(1.0, self.retry_max)
                yield from self.pubsub.listen()
            except Exception as exc:
                self._get_logger().error(
                    f"Cannot receive from redis... retrying in {retry_sleep:g} secs",
                    extra={"redis_exception": str(exc)},
                )
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, self.retry_max)
