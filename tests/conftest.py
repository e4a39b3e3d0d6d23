"""Shared fixtures.

Each test gets a fresh application (``app``) over one database per test session,
built by the real Alembic migrations and emptied after every test. The database is
SQLite unless TEST_DATABASE_URL points at PostgreSQL; ``make test`` runs the suite
both ways. Factory fixtures return callables (``make_user(...)``) in the style of
Indico's test suite.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, inspect, text

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db as _db
from portal.extensions import limiter
from portal.models import Membership, Role, User
from portal.services import accounts
from portal.services import circles as circle_svc

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parent.parent

_tmpdir = tempfile.mkdtemp(prefix="kring-tests-")
DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_tmpdir}/test.sqlite3"
ON_POSTGRES = DATABASE_URL.startswith("postgresql")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests run in the PostgreSQL pass; SQLite-only tests (SQLite's own
    file lock, pragmas and log) and the browser tests in the SQLite pass. The
    live-socket tests start their own server on its own SQLite file whatever the pass,
    so they run in the PostgreSQL pass: the two passes run side by side, and
    this evens out their length. Both passes run in CI (see the Makefile), so nothing
    is silently skipped: an unreachable PostgreSQL makes the PostgreSQL pass fail.

    The browser tests run LAST in the SQLite pass, so that on a two-core machine they
    do not run beside the live-socket tests (several server processes, Redis) that
    start the PostgreSQL pass."""
    keep, drop, browser = [], [], []
    for item in items:
        if item.get_closest_marker("postgres_only") and not ON_POSTGRES:
            drop.append(item)
        elif item.get_closest_marker("sqlite_only") and ON_POSTGRES:
            drop.append(item)
        elif item.get_closest_marker("live") and not ON_POSTGRES:
            drop.append(item)
        elif item.get_closest_marker("e2e") and ON_POSTGRES:
            drop.append(item)
        elif item.get_closest_marker("e2e"):
            browser.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep + browser


class _Config(TestConfig):
    SQLALCHEMY_DATABASE_URI = DATABASE_URL
    SQLALCHEMY_ENGINE_OPTIONS = (
        {"pool_pre_ping": True, "pool_size": 30, "max_overflow": 10} if ON_POSTGRES else {}
    )


class _SharedTemplateCode(BytecodeCache):
    """Compiled templates, kept for the whole session in memory.

    Every test gets a fresh application, hence a fresh Jinja environment that would
    parse and compile each template again: that was a large share of the suite's time.
    Jinja checks each entry against its template's source checksum."""

    def __init__(self):
        self._code: dict[str, tuple[str, object]] = {}

    def load_bytecode(self, bucket):
        checksum, code = self._code.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket):
        self._code[bucket.key] = (bucket.checksum, bucket.code)


_TEMPLATE_CODE = _SharedTemplateCode()


def _build_urls_lazily() -> None:
    """Werkzeug compiles two URL builder functions for every route when the route is
    added: 90 % of ``create_app``'s time (~45 ms), paid again by every test's fresh
    app for the ~75 routes, while a test builds a few URLs. In the tests only, each
    builder is compiled the first time it is used. The builders are Werkzeug's own;
    only when they are made changes."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder

    def lazily(self, append_unknown: bool = True):
        compiled = None

        def build(rule, /, **values):
            nonlocal compiled
            if compiled is None:
                compiled = compile_builder(rule, append_unknown)
            return compiled(rule, **values)

        return build

    Rule._compile_builder = lazily


_build_urls_lazily()


@pytest.fixture(scope="session")
def _schema():
    """Build the schema once with the real migrations (never ``create_all``)."""
    if ON_POSTGRES:
        engine = create_engine(DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app(_Config)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        tables = [t for t in inspect(_db.engine).get_table_names() if t != "alembic_version"]
        _db.engine.dispose()
    return tables


class KringClient(FlaskClient):
    """A test client whose every request runs in its own, fresh application context.

    Tests hold an app context open for the factories; Flask would reuse it for each
    request, so ``g`` (Flask-Login's cached user, the CSRF token) would leak from one
    request into the next, unlike a real server. Before each request the test's own
    session commits (so the request sees the setup); afterwards it rolls back (so the
    test reads what the request wrote, not an old snapshot).
    """

    def open(self, *args, **kwargs):
        _db.session.commit()
        # A streamed response (an export) is read to its end inside the request's
        # context, as a server would; a test that measures the stream passes
        # ``buffered=False`` and reads (and closes) it itself.
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        _db.session.rollback()
        return response


class SocketClient:
    """Flask-SocketIO's test client, sharing a browser's cookies, with every call run in a
    fresh application context (same reason as KringClient: no ``g`` shared between
    the test and the server side, as in a real server)."""

    def __init__(self, app, http_client, auth=None):
        from portal.extensions import socketio

        self._app = app
        self._client = self._run(
            lambda: socketio.test_client(app, flask_test_client=http_client, auth=auth)
        )

    def _run(self, fn):
        _db.session.commit()
        with self._app.app_context():
            result = fn()
        _db.session.rollback()
        return result

    def emit(self, event, *args, **kwargs):
        kwargs.setdefault("callback", True)
        return self._run(lambda: self._client.emit(event, *args, **kwargs))

    def get_received(self):
        return self._run(self._client.get_received)

    def is_connected(self):
        return self._client.is_connected()

    def disconnect(self):
        return self._run(self._client.disconnect)


@pytest.fixture
def socket_client(app, login, new_client, csrf):
    """``socket_client(user)``: sign in with a fresh browser, open a socket with the page's
    CSRF token. ``with_csrf=False`` leaves the token out; ``http=`` reuses a browser."""

    def make(user=None, *, with_csrf: bool = True, http=None):
        if http is None:
            http = new_client()
            if user is not None:
                login(http, user)
        token = csrf(http.get("/login" if user is None else "/account")) if with_csrf else None
        return SocketClient(app, http, auth={"csrf": token})

    return make


@pytest.fixture
def app(_schema):
    app = create_app(_Config)
    app.jinja_env.bytecode_cache = _TEMPLATE_CODE
    app.test_client_class = KringClient
    app.extensions["kring_outbox"] = []
    with app.app_context():
        limiter.reset()
        yield app
        _db.session.remove()
        _empty_tables(_schema)
        _db.engine.dispose()


def _empty_tables(tables: list[str]) -> None:
    """Delete every row, children before parents. On PostgreSQL, plain DELETEs of the
    few rows a test made take ~10 ms; ``TRUNCATE ... CASCADE`` of every table took
    ~200 ms, which was most of the PostgreSQL pass. Ids are not reset (nothing should
    depend on them)."""
    ordered = [t.name for t in reversed(_db.metadata.sorted_tables) if t.name in tables]
    ordered += [t for t in tables if t not in ordered]
    with _db.engine.begin() as conn:
        if not ON_POSTGRES:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
        for table in ordered:
            conn.execute(text(f"DELETE FROM {table}"))
        if not ON_POSTGRES:
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def new_client(app):
    """Another browser: a fresh test client with its own cookies."""
    return app.test_client


_counter = itertools.count(1)


@pytest.fixture
def make_user(db):
    def make(
        name: str | None = None,
        *,
        username: str | None = None,
        password: str = PASSWORD,
        email: str | None = None,
        can_create_circles: bool = False,
    ) -> User:
        n = next(_counter)
        user = accounts.create_user(
            name=name or f"Person {n}",
            username=username or f"person{n}",
            password=password,
            email=email,
        )
        user.can_create_circles = can_create_circles
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_circle(db, make_user):
    """A circle with an active coordinator; returns (circle, coordinator_membership)."""

    def make(title: str = "Circle around Sam", *, question: str = "What does Sam need?"):
        coordinator = make_user("Coordinator", can_create_circles=True)
        circle, membership, _ = circle_svc.create_circle(
            title=title, question=question, language="en", coordinator=coordinator
        )
        db.session.commit()
        return circle, membership

    return make


@pytest.fixture
def add_member(db, make_user):
    """Invite and redeem in one go: returns the new active Membership."""

    def add(
        circle,
        role: Role | str = Role.MEMBER,
        name: str | None = None,
        user: User | None = None,
        supporter_of: str | None = None,
    ) -> Membership:
        user = user or make_user(name)
        _inv, token = circle_svc.invite(
            circle,
            None,
            name=name or user.name,
            role=role,
            supporter_of=supporter_of or ("Sam" if Role(role) == Role.SUPPORTER else None),
        )
        membership = circle_svc.redeem_invitation(token, user)
        db.session.commit()
        return membership

    return add


@pytest.fixture
def login():
    """Sign a test client in through the real login form."""

    def do(client, user: User, password: str = PASSWORD):
        page = client.get("/login")
        assert page.status_code == 200
        resp = client.post(
            "/login",
            data={"login": user.username, "password": password, "csrf_token": csrf_from(page)},
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client

    return do


def csrf_from(response) -> str:
    """The CSRF token from a rendered page's first form."""
    import re

    html = response.get_data(as_text=True)
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert m, "no CSRF token on the page"
    return m.group(1)


def statements_of(client, path: str) -> list[str]:
    """The SQL statements a GET of ``path`` sends (its whole body read, so a streamed
    answer counts too), without the savepoints' and SQLite's PRAGMA bookkeeping."""
    from sqlalchemy import event

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA")):
            seen.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
        response.get_data()
        assert response.status_code == 200, (path, response.status_code)
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    return seen


@pytest.fixture
def csrf():
    return csrf_from
