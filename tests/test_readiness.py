"""/readyz: may a load balancer send people to this process?

It answers 200 ``ok`` when the database answers ``SELECT 1`` and, with REDIS_URL set,
Redis answers PING; otherwise 503 naming only what failed. Like /healthz it is never
rate limited, sets no cookie (even for a browser that has one) and writes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from portal import create_app
from portal.extensions import db as _db
from tests.conftest import _Config
from tests.live_server import free_port

REAL_REDIS = "redis://127.0.0.1:6379/0"


def _statements(app, path: str, client) -> tuple[object, list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement.strip())

    event.listen(_db.engine, "before_cursor_execute", record)
    try:
        resp = client.get(path)
    finally:
        event.remove(_db.engine, "before_cursor_execute", record)
    return resp, seen


def test_ready_when_the_database_answers_and_it_only_reads(app, client):
    resp, statements = _statements(app, "/readyz", client)
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == "ok"
    assert resp.mimetype == "text/plain"
    # One read, nothing written (no access log, no login session touched).
    assert statements == ["SELECT 1"]
    resp, statements = _statements(app, "/healthz", client)
    assert resp.status_code == 200 and statements == []


def test_ready_with_redis_when_redis_answers(app, client):
    """With REDIS_URL set, Redis is asked too. Needs the machine's Redis: fails without it."""
    app.config["REDIS_URL"] = REAL_REDIS
    resp = client.get("/readyz")
    assert (resp.status_code, resp.get_data(as_text=True)) == (200, "ok")


def test_not_ready_names_redis_when_redis_is_down(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    resp = client.get("/readyz")
    assert resp.status_code == 503
    # Only the name: no host, port, error text or version.
    assert resp.get_data(as_text=True) == "redis"
    assert client.get("/healthz").status_code == 200  # alive, just not ready


class _UnreachableDatabase(_Config):
    SQLALCHEMY_DATABASE_URI = (
        f"postgresql+psycopg://kring:secret-db-password@127.0.0.1:{free_port()}/kring"
        "?connect_timeout=3"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}


def test_not_ready_names_the_database_when_it_is_unreachable(app):
    broken = create_app(_UnreachableDatabase)
    with broken.app_context():
        try:
            resp = broken.test_client().get("/readyz")
            body = resp.get_data(as_text=True)
            assert (resp.status_code, body) == (503, "database")
            assert "secret-db-password" not in body
            broken.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
            resp = broken.test_client().get("/readyz")
            assert (resp.status_code, resp.get_data(as_text=True)) == (503, "database redis")
        finally:
            _db.engine.dispose()


def test_probes_set_no_cookie_even_for_a_signed_in_browser(client, make_user, login):
    fresh = client.application.test_client()
    for path in ("/readyz", "/healthz"):
        resp = fresh.get(path)
        assert "Set-Cookie" not in resp.headers, path
    # A browser with a live login session: a normal page refreshes its cookie, a probe
    # leaves it alone.
    login(client, make_user("Ann"))
    assert "Set-Cookie" in client.get("/account").headers
    for path in ("/readyz", "/healthz"):
        resp = client.get(path)
        assert resp.status_code == 200
        assert "Set-Cookie" not in resp.headers, path


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_probes_are_never_rate_limited(client, path):
    """A load balancer asks every few seconds from one address, for ever."""
    statuses = {client.get(path).status_code for _ in range(300)}
    assert statuses == {200}
