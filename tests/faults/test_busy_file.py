"""The private line while SQLite's file is held by another writer for longer than the
server waits (5 s, portal.sqlite_wait), in the test app: the line's socket send answers
``unavailable`` and its form a 503 that gives the text back with its client id; once
the file is free, the same client id is stored once, both ways. (The chat does the same
against a live server: tests/faults/test_sqlite_writers.py, test_database_outage.py.)
SQLite only: the lock is SQLite's file lock; the PostgreSQL cut is in
test_database_outage.py."""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from portal.models import LineMessage
from tests import test_support_line as support
from tests.conftest import csrf_from
from tests.test_support_line import _browser, _ids, _url

pair = support.pair  # the line fixture of the line's own tests
pytestmark = pytest.mark.sqlite_only  # SQLite's file lock; see the module


@contextmanager
def file_held(app):
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _stored(db, client_id: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(LineMessage).where(LineMessage.client_id == client_id)
    )


def test_a_line_message_waits_for_the_file_and_is_stored_once(
    app,
    db,
    pair,
    socket_client,
    new_client,
    login,
    caplog,
):
    p = pair
    child = socket_client(p["child"].user)
    assert child.emit("line:join", _ids(p))["ok"]
    payload = {**_ids(p), "client_id": "busy-file-0001", "body": "Said while the file was held"}
    with file_held(app):
        assert child.emit("line:send", payload) == {"ok": False, "error": "unavailable"}
    assert _stored(db, "busy-file-0001") == 0
    first = child.emit("line:send", payload)
    assert first["ok"] and not first["duplicate"], first
    assert child.emit("line:send", payload)["duplicate"] is True
    assert _stored(db, "busy-file-0001") == 1

    # The form, without JavaScript: a 503 in plain words, the text kept for "Send again".
    browser = _browser(new_client, login, p["supporter"])
    token = csrf_from(browser.get(_url(p)))
    form = {"csrf_token": token, "client_id": "busy-file-0002", "body": "Posted while held"}
    with file_held(app):
        held = browser.post(_url(p), data=form)
    page = held.get_data(as_text=True)
    assert held.status_code == 503
    assert "Kring is not working for a moment." in page
    assert "Posted while held" in page and 'value="busy-file-0002"' in page
    assert "locked" not in page and "Traceback" not in page
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    assert action == _url(p)
    assert _stored(db, "busy-file-0002") == 0
    for _ in range(2):  # "Send again", pressed twice
        assert browser.post(action, data=form).status_code == 302
    assert _stored(db, "busy-file-0002") == 1
    # The log says the database was out of reach, and not a word of either message.
    logged = caplog.text
    assert "database out of reach" in logged
    assert "while the file was held" not in logged and "Posted while held" not in logged


@pytest.mark.parametrize(
    ("said", "away"),
    [
        ("database is locked", True),
        ("unable to open database file", True),
        ("no such table: messages", False),  # a migration not run: a bug, shown in full
        ("no such column: messages.seq", False),
    ],
)
def test_only_a_busy_or_missing_file_counts_as_the_database_away(said, away):
    from sqlalchemy.exc import OperationalError

    from portal import storage

    e = OperationalError("SELECT 1", {}, sqlite3.OperationalError(said))
    assert storage.unreachable(e) is away
