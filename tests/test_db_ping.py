"""PostgreSQL: a pooled connection that died while idle is replaced before use.

Kring pings a connection taken from the pool only when it has been idle longer than
``DB_PING_IDLE_SECONDS`` (config.py: pinging on every checkout cost a round trip per
socket event). A server restart or a firewall dropping idle connections must still
go unnoticed by the next person."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from portal import create_app
from portal.extensions import db
from tests.conftest import _Config

pytestmark = pytest.mark.postgres_only


class _Pinging(_Config):
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 1, "max_overflow": 0}  # no pool_pre_ping
    DB_PING_IDLE_SECONDS = 0.0


def _backend_pid(app) -> int:
    with app.app_context():
        pid = db.session.scalar(text("select pg_backend_pid()"))
        db.session.remove()
    return pid


def test_a_connection_killed_while_idle_is_replaced_unnoticed():
    app = create_app(_Pinging)
    first = _backend_pid(app)
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as other:
        other.execute("select pg_terminate_backend(%s)", (first,))
    with app.app_context():
        assert db.session.scalar(text("select 1")) == 1  # no error reaches anyone
        assert db.session.scalar(text("select pg_backend_pid()")) != first
        db.session.remove()
