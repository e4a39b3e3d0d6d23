"""The database out of reach for a moment: how Kring recognises it and says so.

A PostgreSQL restart, a failover or a network cut makes every query fail for a few
seconds; on SQLite, a writer that waited longer than ``busy_timeout`` gets "database
is locked". Neither is a bug: what the person asked for was not stored and may simply
be tried again. Pages answer a friendly 503 (portal.errors), socket events answer
``unavailable`` (portal.realtime.protocol), and the browser's outbox keeps the text
and resends it with the same client id (static/js/conversation.js).

The process recovers by itself: ``pool_pre_ping`` (portal.config) tests a pooled
connection before handing it out, SQLAlchemy drops the whole pool when a query fails
with a disconnect, and every request and socket event rolls its session back.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from sqlalchemy import exc

log = logging.getLogger("portal.storage")

# What SQLite says when its file is busy (another writer) or cannot be reached.
SQLITE_AWAY = ("database is locked", "database is busy", "unable to open", "disk I/O error")


def unreachable(e: BaseException) -> bool:
    """Is ``e`` the database being out of reach (or, on SQLite, busy), rather than a bug?

    OperationalError is what the drivers raise for a refused or dropped connection, a
    server shutting down and SQLite's "database is locked"; InterfaceError is psycopg
    on a connection already closed; TimeoutError is the pool having no free connection
    in time. A DBAPIError that SQLAlchemy recognised as a disconnect counts too."""
    orig = getattr(e, "orig", None)
    if isinstance(orig, sqlite3.Error):
        # SQLite says OperationalError for "no such table" too: a missing migration is a
        # bug to see in full, not a moment to wait out.
        return any(words in str(orig) for words in SQLITE_AWAY)
    if isinstance(e, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return True
    return isinstance(e, exc.DBAPIError) and bool(e.connection_invalidated)


def note(e: BaseException, where: str) -> None:
    """One line in the log, without the statement or its parameters: the driver's text
    (SQLAlchemy's ``str(e)``) carries the SQL and its values, a message's body among
    them, and message content never goes to a log."""
    now = time.monotonic()
    if now - _noted.get(where, -NOTE_EVERY) < NOTE_EVERY:
        return  # a background run tries every few seconds: one line per while is enough
    _noted[where] = now
    orig = getattr(e, "orig", None)
    kind = type(orig).__name__ if orig is not None else type(e).__name__
    log.warning("database out of reach (%s) during %s", kind, where)


NOTE_EVERY = 30.0
_noted: dict[str, float] = {}


def let_go() -> None:
    """Roll the session back after a failure, whatever state its connection is in, so
    the next request or event starts from a clean session and a healthy pool."""
    from portal.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the pool drops it
        db.session.close()
