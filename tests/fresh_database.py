"""An empty database of the test pass's kind, for tests that restore a backup or run a
live server on a database of their own (tests/test_backup.py, tests/test_backup_live.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import DATABASE_URL, ON_POSTGRES


@contextmanager
def fresh_database(folder: Path, name: str) -> Iterator[str]:
    """Yield the URL of a new SQLite file in ``folder``, or (PostgreSQL pass) of a
    database ``<test database>_<name>`` made here and dropped afterwards."""
    if not ON_POSTGRES:
        yield f"sqlite:///{folder / name}.sqlite3"
        return
    base = make_url(DATABASE_URL)
    dbname = f"{base.database}_{name}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    try:
        yield base.set(database=dbname).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()
