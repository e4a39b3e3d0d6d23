"""Extension objects, created unbound and attached in ``create_app``.

Keeping them here (and not in ``__init__``) lets any module import ``db`` or
``socketio`` without importing the application factory, which avoids import cycles.
"""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from portal import ratelimit_store  # noqa: F401 - registers the kringmemory:// storage

# Named constraints, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# gevent, set explicitly: auto-detection would pick eventlet if it were ever installed.
socketio = SocketIO(async_mode="gevent")

# For an INSERT of many rows at once (the notification run): one statement rather than
# SQLAlchemy's default pages of 1,000 rows (it still splits a batch at the driver's
# limit on bound parameters, about 32,000).
BULK_INSERT = {"insertmanyvalues_page_size": 100_000}


def forget_old_pages(patience: float = 10.0) -> bool:
    """After an erasure has committed: on SQLite, copy the write-ahead log into the
    database file and empty it (``wal_checkpoint(TRUNCATE)``), so no earlier copy of an
    overwritten page is left in the ``-wal`` file. With ``secure_delete`` (set on every
    connection, ``portal._sqlite_pragmas``) the freed space in the file is zeroed too.
    PostgreSQL: VACUUM does this (docs/privacy.md); nothing to do here.

    A TRUNCATE checkpoint waits for every reader (an export streaming, say). SQLite's
    busy handler would wait inside C, which under gevent stops every socket of the
    process; so it is tried without waiting, with a cooperative sleep between tries
    (``time.sleep`` is gevent's in ``python app.py``), for up to ``patience`` seconds.
    Returns whether the log was emptied (if not, the next checkpoint finishes it)."""
    if db.engine.dialect.name != "sqlite":
        return True
    import time

    from portal.sqlite_wait import C_BUSY_TIMEOUT_MS

    conn = db.session.connection()
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        for _ in range(int(patience / 0.05) + 1):
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0]
            if not busy:
                return True
            time.sleep(0.05)
        return False
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={C_BUSY_TIMEOUT_MS}")
        db.session.commit()
