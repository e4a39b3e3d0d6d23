"""Review (attack) of the hot SQL path, the heard-room beat and the inline rate-limit
sweep: what a user would notice if they broke."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import exc, text

from portal import storage
from portal.extensions import db as _db
from portal.models.types import utcnow
from portal.services.chat import _SEATED_NEXT_SEQ, _SEND_IN_ONE, send_as


class Interrupted(BaseException):
    """What gevent raises in a greenlet mid-statement: ``gevent.Timeout`` or
    ``GreenletExit`` (both BaseException, not Exception)."""


class _Cursor:
    def __init__(self, real):
        self._real = real

    def execute(self, *args, **kwargs):
        raise Interrupted()

    def __getattr__(self, name):
        return getattr(self._real, name)


class _Connection:
    def __init__(self, real):
        self._real = real

    def cursor(self, *args, **kwargs):
        return _Cursor(self._real.cursor(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._real, name)


def _interrupted(conn, run):
    """Run ``run`` with the driver interrupted mid-statement; was the connection invalidated
    (the driver's state unknown: a query half sent, its result unread)?"""
    fairy = conn.connection
    real = fairy.dbapi_connection
    fairy.dbapi_connection = _Connection(real)
    try:
        with pytest.raises(Interrupted):
            run()
    finally:
        if not conn.invalidated:
            fairy.dbapi_connection = real
    invalidated = conn.invalidated
    _db.session.rollback()
    return invalidated


def test_an_interrupted_hot_statement_invalidates_the_connection_as_sqlalchemy_does(
    app, make_circle, add_member
):
    """A greenlet interrupted mid-statement (gevent.Timeout, GreenletExit) leaves a
    PostgreSQL connection mid-protocol: SQLAlchemy's own execute invalidates it so the
    pool never hands it out again. The hot path must do the same."""
    circle, _ = make_circle()
    member = add_member(circle)
    params = {"circle_id": circle.id, "user_id": member.user_id}
    conn = _db.session.connection()
    hot = _SEATED_NEXT_SEQ  # SQLite's first statement of a send; PostgreSQL's only one:
    if conn.dialect.name == "postgresql":
        hot = _SEND_IN_ONE
        now = utcnow()
        params |= {"client_id": "interrupted", "body": "hi", "when": now}
        params["group_key"] = f"messages:{circle.id}"
    assert _interrupted(conn, lambda: conn.execute(hot.statement, params))  # SQLAlchemy's
    conn = _db.session.connection()
    assert _interrupted(conn, lambda: hot.execute(conn, params))  # the hot path
    # And the next send works on a fresh connection.
    message, new = send_as(member.user, circle.id, "after-interrupt", "hello")
    _db.session.commit()
    assert new and message["seq"] >= 1


@pytest.mark.postgres_only
def test_a_killed_postgresql_connection_mid_send_is_unreachable_and_invalidated(
    app, make_circle, add_member
):
    """The server drops the connection between the send's statements (a restart, a
    failover): the send says "unavailable" (not a bug), the connection is thrown away,
    and the outbox's retry with the same client id stores the message once."""
    circle, _ = make_circle()
    member = add_member(circle)
    user, circle_id = member.user, circle.id
    _db.session.commit()
    conn = _db.session.connection()
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with _db.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        other.commit()
    time.sleep(0.2)
    with pytest.raises(exc.DBAPIError) as caught:
        send_as(user, circle_id, "killed-0001", "hello")
    assert storage.unreachable(caught.value)
    assert caught.value.connection_invalidated and conn.invalidated
    _db.session.rollback()
    first, new = send_as(user, circle_id, "killed-0001", "hello")
    _db.session.commit()
    again, new_again = send_as(user, circle_id, "killed-0001", "hello")
    _db.session.commit()
    assert new and not new_again and again["seq"] == first["seq"] == 1


def test_the_inline_sweep_still_refuses_and_frees(monkeypatch):
    """The limit refuses the request over it between sweeps and after one, and a sweep
    frees what expired (no timer thread is left running)."""
    from limits import RateLimitItemPerMinute
    from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

    from portal import ratelimit_store
    from portal.ratelimit_store import SweepingMemoryStorage

    storage_ = SweepingMemoryStorage()
    storage_.timer.join(1)  # cancelled: it ends without sweeping
    assert not storage_.timer.is_alive()
    limit = RateLimitItemPerMinute(3)
    for strategy in (FixedWindowRateLimiter(storage_), MovingWindowRateLimiter(storage_)):
        assert [strategy.hit(limit, "u1") for _ in range(4)] == [True, True, True, False]
        monkeypatch.setattr(ratelimit_store.time, "monotonic", lambda: time.monotonic_ns() + 1e12)
        assert not strategy.hit(limit, "u1")  # a sweep ran: still refused
        monkeypatch.undo()
        assert strategy.hit(limit, "u2")
