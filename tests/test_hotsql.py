"""The chat send's statements through ``portal.hotsql`` store exactly what SQLAlchemy's
own execution stores: the same text for a time, the same value for an enum or JSON."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, text

from portal.extensions import db as _db
from portal.hotsql import HotStatement
from portal.models import Message, Notification
from portal.models.types import UTC
from portal.services.chat import _SEATED_NEXT_SEQ, _SEND_IN_ONE, _STORE
from portal.services.notifications import _MESSAGES_UPSERT

WHEN = datetime(2026, 12, 3, 10, 5, 7, 123456, tzinfo=UTC)


def _raw(conn, sql, **params):
    """Rows as the database holds them (no type conversion on the way out)."""
    return conn.exec_driver_sql(sql, params).all()


def test_the_message_insert_stores_what_sqlalchemy_stores(app, make_circle):
    circle, me = make_circle()
    conn = _db.session.connection()
    hot = _STORE._insert[conn.dialect.name]
    assert isinstance(hot, HotStatement)
    row = dict(circle_id=circle.id, seq=1, author_id=me.id, body="Hallo", created_at=WHEN)
    plain_id = conn.execute(hot.statement, {**row, "client_id": "plain-0001"}).scalar_one()
    hot_id = hot.execute(conn, {**row, "seq": 2, "client_id": "hot-000001"}).scalar_one()
    # A repeated client id inserts nothing, as before.
    again = hot.execute(conn, {**row, "seq": 3, "client_id": "hot-000001"}).scalar_one_or_none()
    assert again is None
    t = Message.__table__
    columns = ", ".join(c.name for c in t.c if c.name not in ("id", "seq", "client_id"))
    select_sql = f"SELECT {columns} FROM messages WHERE id = {{}}"
    plain = conn.exec_driver_sql(select_sql.format(int(plain_id))).one()
    stored = conn.exec_driver_sql(select_sql.format(int(hot_id))).one()
    assert stored == plain
    assert _db.session.get(Message, hot_id).created_at == WHEN


def test_the_news_line_upsert_stores_what_sqlalchemy_stores(app, make_circle, add_member):
    one, coordinator_one = make_circle("One")
    two, coordinator_two = make_circle("Two")
    reader_one, reader_two = add_member(one), add_member(two)
    conn = _db.session.connection()
    hot = _MESSAGES_UPSERT[conn.dialect.name]
    params = {"author_id": coordinator_one.id, "when": WHEN}
    conn.execute(hot.statement, {**params, "circle_id": one.id, "group_key": f"messages:{one.id}"})
    params = {"author_id": coordinator_two.id, "when": WHEN}
    for _ in range(2):  # the second one counts the line up
        rows = hot.execute(conn, {**params, "circle_id": two.id, "group_key": f"messages:{two.id}"})
    assert [tuple(r) for r in rows] == [(reader_two.user_id, 2)]
    t = Notification.__table__
    columns = ", ".join(
        c.name for c in t.c if c.name not in ("id", "user_id", "circle_id", "group_key", "count")
    )
    by_user = f"SELECT {columns} FROM notifications WHERE user_id = {{}}"
    plain = conn.exec_driver_sql(by_user.format(int(reader_one.user_id))).all()
    stored = conn.exec_driver_sql(by_user.format(int(reader_two.user_id))).all()
    assert len(plain) == 1 and stored == plain


def test_the_seat_and_counter_update_runs_the_same_statement(app, make_circle, add_member):
    """SQLite's first statement of a send (the seat and the counter), PostgreSQL's only
    one (the whole send): the same SQL and the same answer as SQLAlchemy's execute."""
    circle, coordinator = make_circle()
    member = add_member(circle, name="Anna")
    circle_id, member_id, reader = circle.id, member.id, coordinator.user_id
    conn = _db.session.connection()
    params = {"circle_id": circle.id, "user_id": member.user_id}
    hot, sent = _SEATED_NEXT_SEQ, {}
    if conn.dialect.name == "postgresql":
        hot = _SEND_IN_ONE
        sent = {"body": "hi", "group_key": f"messages:{circle_id}", "when": WHEN}
    seen = []
    listener = lambda _c, _cur, statement, *args: seen.append(statement)  # noqa: E731
    event.listen(_db.engine, "before_cursor_execute", listener)
    try:
        first = hot.execute(conn, params | sent | ({"client_id": "same-001"} if sent else {}))
        second = conn.execute(
            hot.statement, params | sent | ({"client_id": "same-002"} if sent else {})
        )
        first, second = first.one(), second.one()
    finally:
        event.remove(_db.engine, "before_cursor_execute", listener)
    assert tuple(first)[:3] == (1, member_id, "Anna")
    assert tuple(second)[:3] == (2, member_id, "Anna")
    if sent:  # both stored; the coordinator's news line is new once, then counts up
        assert first[3] and second[3] and first[3] != second[3]
        assert first[4] == [reader] and second[4] is None
    # The same SQL, and the engine's events still see it.
    assert len(seen) == 2 and seen[0] == seen[1]
    counter = conn.execute(
        text("SELECT message_seq FROM circles WHERE id = :id"), {"id": circle_id}
    )
    assert counter.scalar_one() == 2


def test_a_failing_statement_raises_as_sqlalchemy_does_and_events_fire(app):
    """Driver errors come up as SQLAlchemy's own (``portal.storage`` tells "database
    out of reach" from a bug by them), with the driver's error as ``orig``; the engine's
    events see the statement before and after it runs."""
    from sqlalchemy import bindparam, column, exc, insert, table

    from portal import storage

    conn = _db.session.connection()
    missing = HotStatement(insert(table("no_such_table", column("x"))).values(x=bindparam("x")))
    with pytest.raises(exc.DBAPIError) as caught:
        missing.execute(conn, {"x": 1})
    assert caught.value.orig is not None and "no_such_table" in str(caught.value.orig)
    assert not storage.unreachable(caught.value)  # a missing table is a bug, not a wait
    _db.session.rollback()

    seen = []
    before = lambda _c, _cur, statement, *args: seen.append(("before", statement))  # noqa: E731
    after = lambda _c, _cur, statement, *args: seen.append(("after", statement))  # noqa: E731
    event.listen(_db.engine, "before_cursor_execute", before)
    event.listen(_db.engine, "after_cursor_execute", after)
    try:
        conn = _db.session.connection()
        hot = HotStatement(text("SELECT 1 + :x").bindparams(bindparam("x")))
        rows = hot.execute(conn, {"x": 41})
    finally:
        event.remove(_db.engine, "before_cursor_execute", before)
        event.remove(_db.engine, "after_cursor_execute", after)
    assert [tuple(r) for r in rows] == [(42,)]
    assert [when for when, _ in seen] == ["before", "after"] and seen[0][1] == seen[1][1]
