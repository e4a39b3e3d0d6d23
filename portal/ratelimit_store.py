"""The rate limits' in-process storage (one process, no Redis): limits' memory storage
with its clean-up run every few seconds instead of every 10 ms.

``limits.storage.MemoryStorage`` drops expired entries from a timer that, while
anything is being counted, walks every key with a lock 100 times a second. With a
thousand people counted (each chat send takes a slot per person,
``services.allowance``) that walk was a third of the server's Python CPU under chat
load (bench/README.md). The walk only frees memory: every check reads the entries'
own times, so a limit answers the same whenever it runs. Registered as
``kringmemory://`` (config.RATELIMIT_STORAGE_URI); with Redis it is not used.

The sweep runs inline, in the hit that finds it due, not on a timer thread. Asking
whether limits' timer thread was still alive (``Thread.is_alive``) made every hit under
gevent give up the CPU mid-event (gevent's non-blocking lock ``acquire`` on a live
thread's state lock calls ``sleep()``): every chat send paused in the middle of its
transaction while the hub ran everything else that was ready.
"""

from __future__ import annotations

import time

from limits.storage import MemoryStorage

SWEEP_SECONDS = 5.0


class SweepingMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["kringmemory"]

    def __init__(self, uri: str = "kringmemory://", wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the 10 ms timer limits starts: the sweep is inline here
        self.next_sweep = time.monotonic() + SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides limits' private
        now = time.monotonic()
        if now >= getattr(self, "next_sweep", 0.0):
            self.next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()
