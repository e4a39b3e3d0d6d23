"""SQLite's wait for a busy file, made cooperative (issue 15, part D).

SQLite lets one writer at a time into the file. Another writer waits: with
``PRAGMA busy_timeout`` that wait happens inside SQLite's C code, and under gevent
(``python app.py``) a wait in C stops the whole process: every socket and every page
of everyone froze for up to 5 s whenever another process (the notification run from
cron, a command, a backup) held the file, and each send retried in the meantime froze
it 5 s more, until sends timed out in the browser rather than being answered.

So the busy timeout is 0 (SQLite answers "database is locked" at once) and the wait is
here instead: a statement or a commit that found the file busy is tried again after a
``time.sleep``, which is gevent's in ``python app.py`` (the other greenlets run
meanwhile) and an ordinary sleep on the command line, for up to ``PATIENCE`` seconds
in all, as the busy timeout did. After that the error goes up as before and reaches
people as a retriable answer (``portal.storage``: a 503, or ``unavailable``).

Trying the same statement again is what SQLite's own busy handler does. It is safe
here because pysqlite begins a transaction just before its first write, so a write
that found the file busy holds no lock and has read nothing yet; where waiting cannot
help (another connection wrote after this transaction read), SQLite says "locked"
again each time and the error goes up after ``PATIENCE``, as before.
"""

from __future__ import annotations

import sqlite3
import time

# What the busy timeout was: how long a write may wait for the file in all.
PATIENCE = 5.0
# The busy timeout left to SQLite itself (milliseconds): none, the wait is ours.
C_BUSY_TIMEOUT_MS = 0


def _busy(e: sqlite3.OperationalError) -> bool:
    text = str(e)
    return text.startswith("database is locked") or text.startswith("database is busy")


def _patiently(call, *args):
    deadline = time.monotonic() + PATIENCE
    pause = 0.002
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as e:
            if not _busy(e) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)  # gevent's sleep under python app.py: the others run meanwhile
        pause = min(pause * 2, 0.05)


class PatientCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        return _patiently(super().execute, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        rows = list(seq_of_parameters)  # a second try must send the same rows
        return _patiently(super().executemany, sql, rows)


class PatientConnection(sqlite3.Connection):
    """Passed to ``sqlite3.connect`` as its ``factory`` (portal.create_app)."""

    def cursor(self, factory=PatientCursor):
        return super().cursor(factory)

    def commit(self):
        return _patiently(super().commit)


def engine_options(options: dict) -> dict:
    """The engine options for a SQLite database: ``options`` with the patient connection."""
    connect_args = {**options.get("connect_args", {}), "factory": PatientConnection}
    return {**options, "connect_args": connect_args}
