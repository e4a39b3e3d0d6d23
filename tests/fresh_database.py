"""An empty database of the test pass's kind, for tests that restore a backup or run a
live server on a database of their own (tests/test_backup.py, tests/test_backup_live.py),
and an empty PostgreSQL database for the fault tests (tests/faults)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import DATABASE_URL, ON_POSTGRES


@contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Yield the URL of a new, empty database ``name`` on the PostgreSQL server of
    ``server_url`` (one left over by an earlier run is dropped first); dropped afterwards.
    No server there: this fails, it never skips."""
    base = make_url(server_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(folder: Path, name: str) -> Iterator[str]:
    """Yield the URL of a new SQLite file in ``folder``, or (PostgreSQL pass) of a
    database ``<test database>_<name>`` made here and dropped afterwards."""
    if not ON_POSTGRES:
        yield f"sqlite:///{folder / name}.sqlite3"
        return
    with postgres_database(DATABASE_URL, f"{make_url(DATABASE_URL).database}_{name}") as url:
        yield url
