"""Store a numbered message once: the circle chat (``services.chat``) and the private
line (``services.lines``) deliver the same way (docs/realtime.md).

Each conversation numbers its messages without gaps: the counter on its row (the
circle's or the line's ``message_seq``) goes up first, which takes a row lock, so
concurrent senders are numbered one after another and a rollback leaves no gap. The
insert does nothing for a resent message (same author and client id, ``ON CONFLICT DO
NOTHING`` on the unique constraint); then the number is given back, still under the
lock, and the stored message is loaded instead. Two statements on the normal path; the
transaction is never rolled back here (that would drop the caller's other work, its
queued events above all). The statements are built once.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.extensions import db
from portal.hotsql import HotStatement
from portal.models.types import utcnow


class NumberedMessages:
    """Messages of ``model`` numbered by ``counter_model.message_seq``; ``owner`` is the
    message column naming the counter's row (``circle_id``, ``line_id``)."""

    def __init__(self, model, counter_model, owner: str):
        counters = counter_model.__table__
        messages = model.__table__
        self.model = model
        self.owner = owner
        self._owner_column = getattr(model, owner)
        self._next_seq = (
            update(counters)
            .where(counters.c.id == bindparam("owner_id"))
            .values(message_seq=counters.c.message_seq + 1)
            .returning(counters.c.message_seq)
        )
        self._give_back = (
            update(counters)
            .where(counters.c.id == bindparam("owner_id"))
            .values(message_seq=counters.c.message_seq - 1)
        )
        self._insert = {
            name: HotStatement(
                dialect_insert(messages)
                .on_conflict_do_nothing(index_elements=[owner, "author_id", "client_id"])
                .returning(messages.c.id)
            )
            for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
        }

    def store(self, owner_id: int, author_id: int, client_id: str, text: str):
        """Store the message once. Returns ``(row, None)`` for a new message (``row``:
        the stored columns and its ``id``, to shape for clients without loading it
        back) or ``(None, existing)`` for a resent client id."""
        conn = db.session.connection()
        seq = conn.execute(self._next_seq, {"owner_id": owner_id}).scalar_one()
        return self.store_numbered(owner_id, seq, author_id, client_id, text, conn=conn)

    def store_numbered(
        self, owner_id: int, seq: int, author_id: int, client_id: str, text: str, *, conn=None
    ):
        """``store`` after the counter was already moved on to ``seq`` (under its row
        lock) by the caller's own statement. ``conn``: the session's connection, when
        the caller has it already (asking the session again costs a little per message)."""
        if conn is None:
            conn = db.session.connection()
        row = self.row(owner_id, seq, author_id, client_id, text, utcnow())
        message_id = self._insert[conn.dialect.name].execute(conn, row).scalar_one_or_none()
        if message_id is not None:
            return {"id": message_id, **row}, None
        return None, self.resent(owner_id, author_id, client_id, conn=conn)

    def row(self, owner_id: int, seq: int, author_id: int, client_id: str, text: str, at):
        """The stored message's columns, as the insert writes them."""
        return {
            self.owner: owner_id,
            "seq": seq,
            "author_id": author_id,
            "client_id": client_id,
            "body": text,
            "created_at": at,
        }

    def resent(self, owner_id: int, author_id: int, client_id: str, *, conn):
        """The counter was moved on for a client id already stored: give the number
        back (still under the row lock) and return the stored message."""
        conn.execute(self._give_back, {"owner_id": owner_id})
        return db.session.scalar(
            select(self.model).where(
                self._owner_column == owner_id,
                self.model.author_id == author_id,
                self.model.client_id == client_id,
            )
        )
