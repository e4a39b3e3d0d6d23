"""Readiness: may a load balancer send people to this process? (``GET /readyz``)

``/healthz`` says the process answers; ``/readyz`` also asks what it needs to serve
anyone: the database (``SELECT 1``) and, when ``REDIS_URL`` is set, Redis (``PING``,
which carries the socket messages between processes and the rate limits). The answer
names only what failed, ``database`` or ``redis``: a probe is public, so nothing about
versions, hosts or errors is told there; the log line says which kind of error it was.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from sqlalchemy import text

from portal.extensions import db

log = logging.getLogger(__name__)

# A PING that takes longer than this is a failing Redis as far as a probe is concerned.
REDIS_TIMEOUT_SECONDS = 0.5


def failing() -> list[str]:
    """The names of what is not ready, in a fixed order; empty when all is well."""
    out = []
    if not _database_ok():
        out.append("database")
    if current_app.config.get("REDIS_URL") and not _redis_ok(current_app._get_current_object()):
        out.append("redis")
    return out


def _database_ok() -> bool:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"
        _warn("the database", e)
        return False


def _redis_ok(app: Flask) -> bool:
    try:
        return bool(_redis(app).ping())
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"
        _warn("Redis", e)
        return False


# The probe is public and asked every few seconds: while something is away, one line
# per while, not one per probe (anyone could fill the log by asking).
WARN_EVERY = 30.0
_warned: dict[str, float] = {}


def _warn(what: str, e: BaseException) -> None:
    now = time.monotonic()
    if now - _warned.get(what, -WARN_EVERY) < WARN_EVERY:
        return
    _warned[what] = now
    log.warning("readiness: %s did not answer (%s)", what, type(e).__name__)


def _redis(app: Flask):
    """One client per app, with short timeouts so a hanging Redis fails the probe
    instead of holding it."""
    client = app.extensions.get("kring_readiness_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        app.extensions["kring_readiness_redis"] = client
    return client
