"""The after-commit queue in portal/events.py, per transaction like Django's on_commit.

A savepoint that is released hands its callbacks to the transaction around it; one
that rolls back drops only its own; the outermost rollback drops everything; only the
outermost commit runs them, in order. These run against the real Flask-SQLAlchemy
session and database (SQLite or PostgreSQL), because the behaviour under test is how
SQLAlchemy fires its transaction events.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from portal import events
from portal.extensions import db as _db
from portal.models import User


@pytest.fixture
def ran(app):
    _db.session.rollback()
    out: list[str] = []

    def queue(name: str) -> None:
        events.after_commit(lambda: out.append(name))

    return out, queue


def _touch():
    """Some database work, so the transaction is a real one."""
    _db.session.execute(_db.select(User.id).limit(1)).all()


def test_nothing_runs_before_the_outermost_commit_and_then_in_order(ran):
    out, queue = ran
    _touch()
    queue("a")
    with _db.session.begin_nested():
        queue("b")
        with _db.session.begin_nested():
            queue("c")
        assert out == []  # released, not committed
        queue("d")
    assert out == []
    queue("e")
    _db.session.commit()
    assert out == ["a", "b", "c", "d", "e"]
    _db.session.commit()  # a second commit runs nothing again
    assert out == ["a", "b", "c", "d", "e"]


def test_a_savepoint_rollback_drops_only_its_own_callbacks(ran):
    out, queue = ran
    _touch()
    queue("before")
    try:
        with _db.session.begin_nested():
            queue("inside")
            raise ValueError
    except ValueError:
        pass
    with _db.session.begin_nested():
        queue("kept")
        inner = _db.session.begin_nested()
        queue("dropped")
        inner.rollback()
        queue("kept too")
    queue("after")
    _db.session.commit()
    assert out == ["before", "kept", "kept too", "after"]


def test_the_outermost_rollback_drops_everything(ran):
    out, queue = ran
    _touch()
    queue("a")
    with _db.session.begin_nested():
        queue("b")
    nested = _db.session.begin_nested()
    queue("c")
    _db.session.rollback()  # with a savepoint still open
    assert not nested.is_active
    _db.session.commit()
    assert out == []
    queue("next")
    _db.session.commit()
    assert out == ["next"]


def test_a_queue_without_a_transaction_waits_for_the_next_commit(ran):
    out, queue = ran
    _db.session.commit()
    assert _db.session().get_transaction() is None
    queue("a")
    assert out == []
    _db.session.commit()
    assert out == ["a"]


def test_closing_the_session_without_commit_drops_the_queue(ran):
    out, queue = ran
    _touch()
    queue("a")
    _db.session.close()
    _db.session.commit()
    assert out == []


def test_a_plain_rollback_after_a_failed_flush(ran, make_user):
    out, queue = ran
    taken = make_user("Taken", username="taken")
    queue("lost with the transaction")
    _db.session.add(User(name="Dup", username=taken.username, password_hash="x"))
    with pytest.raises(IntegrityError):
        _db.session.flush()
    _db.session.rollback()
    queue("after")
    _db.session.commit()
    assert out == ["after"]


def test_a_failed_flush_inside_a_savepoint_keeps_the_outer_callbacks(ran, make_user):
    out, queue = ran
    taken = make_user("Taken", username="taken")
    _touch()
    queue("outer")
    with pytest.raises(IntegrityError):
        with _db.session.begin_nested():
            queue("inner")
            _db.session.add(User(name="Dup", username=taken.username, password_hash="x"))
            _db.session.flush()
    queue("after")
    _db.session.commit()
    assert out == ["outer", "after"]


def test_a_released_savepoint_is_not_a_commit(ran):
    """On SQLite a savepoint opened before the transaction's first write used to begin
    (and, when released, commit) a transaction of its own: the outer rollback then
    could not undo it."""
    out, queue = ran
    _touch()  # a read: pysqlite has not begun a transaction yet
    with _db.session.begin_nested():
        _db.session.add(User(name="Ghost", username="ghost", password_hash="x"))
        _db.session.flush()
        queue("ghost")
    _db.session.rollback()
    assert _db.session.scalar(_db.select(User.id).where(User.username == "ghost")) is None
    _db.session.commit()
    assert out == []
