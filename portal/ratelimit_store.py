"""The rate limits' in-process storage (one process, no Redis): limits' memory storage
with its clean-up run every few seconds instead of every 10 ms.

``limits.storage.MemoryStorage`` drops expired entries from a timer that, while
anything is being counted, walks every key with a lock 100 times a second. With a
thousand people counted (each chat send takes a slot per person,
``services.allowance``) that walk was a third of the server's Python CPU under chat
load (bench/README.md). The walk only frees memory: every check reads the entries'
own times, so a limit answers the same whenever it runs. Registered as
``kringmemory://`` (config.RATELIMIT_STORAGE_URI); with Redis it is not used.
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage

SWEEP_SECONDS = 5.0


class SweepingMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["kringmemory"]

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides limits' private
        if not self.timer.is_alive():
            self.timer = threading.Timer(SWEEP_SECONDS, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()
