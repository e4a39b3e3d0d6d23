"""The message queues between sockets: what this process delivered live, and (when
``REDIS_URL`` is set) the Redis queue between Kring's processes.

**HeardQueue** is python-socketio's in-memory manager that also remembers, per chat
and line room, up to which message ``seq`` it delivered live to this process's
sockets without a hole: a message heard past a hole (its predecessor lost) is kept
aside until the hole fills, so a process that heard its own message 134 but never
another process's 133 counts the room as heard up to 132. The sequence beat
(portal/realtime/beat.py) tells a room nothing while that number is the room's
latest: its sockets heard every message already. Every local
delivery passes through ``Manager.emit``, whether the event started here or came in
over Redis (``PubSubManager._handle_emit`` calls it), so a message whose live event was
lost (Redis away, the sending process killed) is exactly one this process never heard.

**RedisQueue**: python-socketio's ``RedisManager`` listens again after losing Redis with
a back-off that doubles up to 60 s (1, 2, 4 ... 32, 60): after an outage of 40 s a
process would stay deaf to the other processes' events for up to another 23 s, though
Redis was back. Plan ticks, meeting answers and news lines from the other processes
are lost in that time (chat catches up through the sequence beat, docs/realtime.md).
Here the wait between attempts grows only to ``REDIS_RETRY_MAX_SECONDS`` (2 s): a
process listens again at most that long after Redis returns, for any outage. One
failed attempt is one connect to a local Redis, so trying every 2 s costs nothing.
"""

from __future__ import annotations

import math
import time

import socketio

CHANNEL = "flask-socketio"  # Flask-SocketIO's own default, which the fault tests watch

# The live events that carry a numbered message, and the rooms they go to.
NUMBERED = {"chat:message": "circle:", "line:message": "line:"}

# At most this many seqs kept aside past a hole, per room. Only the beat empties
# ``past`` (it tells the room, or forgets it); without the beat (``SEQ_BEAT_SECONDS=0``)
# a room that once lost a message kept every later seq, for good. A seq not kept only
# makes the room count as heard up to less: the beat tells it (the safe side).
PAST_MAX = 1000


class HeardQueue(socketio.Manager):
    """The in-memory manager, plus what the sequence beat needs to know per chat and
    line room: ``heard`` (room -> the ``seq`` up to which this process delivered every
    message live, or was told of it by the beat), ``past`` (seqs delivered live beyond
    a hole) and ``owed`` (beats that still tell the room again, after it was behind)."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: dict[str, int] = {}
        self.past: dict[str, set[int]] = {}
        self.owed: dict[str, int] = {}

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kw):
        prefix = NUMBERED.get(event)
        target = to or room
        if prefix and isinstance(target, str) and target.startswith(prefix):
            message = data.get("message") if isinstance(data, dict) else None
            seq = message.get("seq") if isinstance(message, dict) else None
            if isinstance(seq, int):
                # Noted before the delivery: a room with no socket here keeps no entry
                # for long (the beat forgets rooms that have no socket in this process).
                self._note(target, seq)
        return super().emit(
            event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kw
        )

    def _note(self, room: str, seq: int) -> None:
        heard = self.heard.get(room)
        if heard is None:  # the first this process hears of the room
            self.heard[room] = seq
        elif seq == heard + 1:
            self._join_up(room, seq)
        elif seq > heard + 1:  # a hole before it: not heard up to here
            past = self.past.setdefault(room, set())
            if len(past) < PAST_MAX:
                past.add(seq)

    def lags(self, room: str, seq: int) -> bool:
        """Whether a quiet beat tells the room that its latest is ``seq``: its sockets
        may lack a message, or it lacked one lately and is still owed a beat."""
        return self.heard.get(room, -1) < seq or bool(self.owed.get(room))

    def told(self, room: str, seq: int, again: int) -> None:
        """The beat told the room's sockets that its latest is ``seq``: it counts as
        heard up to there; when it lagged, it is told again at the next ``again``
        beats, else it is owed one beat fewer."""
        if self.heard.get(room, -1) < seq:
            self._join_up(room, seq)
            self.owed[room] = again
        elif self.owed.get(room):
            self.owed[room] -= 1

    def _join_up(self, room: str, heard: int) -> None:
        """Heard up to ``heard``, and on through what was kept aside past it."""
        past = self.past.get(room)
        if past:
            past.difference_update([s for s in past if s <= heard])
            while heard + 1 in past:
                heard += 1
                past.discard(heard)
        self.heard[room] = heard

    def forget(self, room: str) -> None:
        """No socket of this process is in the room any more."""
        self.heard.pop(room, None)
        self.past.pop(room, None)
        self.owed.pop(room, None)


class RedisQueue(socketio.RedisManager, HeardQueue):
    """Redis between processes; ``HeardQueue`` sits under ``PubSubManager`` in the method
    order, so what arrives over Redis (and the beat's ``ignore_queue`` emits) is noted
    when it is delivered here, and a publish that Redis lost is never noted."""

    def __init__(self, url: str, *, retry_max: float) -> None:
        # 0 (or below 0, under gevent) would try in a tight loop, below 0 without gevent
        # end the listener (time.sleep raises in the except below), nan or inf lift the
        # cap: refuse to start instead.
        if not 0 < retry_max < math.inf:
            raise ValueError(
                f"REDIS_RETRY_MAX_SECONDS must be a number of seconds above 0, not {retry_max}"
            )
        super().__init__(url, channel=CHANNEL)  # HeardQueue.__init__ runs in the chain
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
