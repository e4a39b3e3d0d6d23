"""Backup and restore of Kring's database (``flask --app app kring backup|restore``;
docs/backup.md).

A backup is taken ONLINE, while Kring serves, and is one consistent moment:

- SQLite: the sqlite3 backup API copies the pages under one read transaction. In WAL
  mode writers go on meanwhile; a plain file copy could catch the database file and its
  write-ahead log at two different moments and make a corrupt copy.
- PostgreSQL: ``pg_dump --format=custom`` dumps one snapshot (a repeatable-read
  transaction) while the server serves.

A restore goes into an EMPTY database and refuses one that holds anything, unless the
operator says ``--force``. A file's kind is read from its first bytes, so a SQLite
backup is never fed to PostgreSQL nor the other way round.

Nothing printed holds a password: the PostgreSQL URL's password reaches ``pg_dump`` and
``pg_restore`` through their environment (PGPASSWORD), never their command line, which
any user of the machine can read in ``ps``.

This module reads the database through SQLAlchemy's engine only; it imports no
blueprint, service or realtime code.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

SQLITE_HEADER = b"SQLite format 3\x00"
PGDUMP_HEADER = b"PGDMP"
KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class BackupError(Exception):
    """Something the operator must hear, in one line (the CLI prints it and exits 1)."""


@dataclass(frozen=True)
class Backup:
    kind: str  # "sqlite" or "postgresql"
    path: Path
    size: int
    source: str  # the database, named without any secret


@dataclass(frozen=True)
class Restored:
    kind: str
    target: str
    revision: str | None  # the backup's alembic version, now the database's
    head: str | None  # this code's newest migration
    older: bool  # the backup's schema is behind the code's: run ``flask db upgrade``
    unknown: bool  # the code does not know the backup's revision (a newer Kring made it)


def kind_of_url(url: URL) -> str:
    name = url.get_backend_name()
    if name not in KINDS:
        raise BackupError(f"Backups are made for SQLite and PostgreSQL only, not {name}.")
    return name


def kind_of_file(path: Path) -> str:
    """``sqlite`` or ``postgresql``, from the file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        raise BackupError(f"No file at {path}.") from None
    except IsADirectoryError:
        raise BackupError(f"{path} is a folder, not a backup file.") from None
    if head == SQLITE_HEADER:
        return "sqlite"
    if head.startswith(PGDUMP_HEADER):
        return "postgresql"
    raise BackupError(
        f"{path} is not a Kring backup (neither a SQLite database nor a pg_dump custom file)."
    )


def describe(url: URL) -> str:
    """The database, for the operator: a SQLite file's path, or PostgreSQL's database
    name and host (never the user's password)."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    where = url.host or "local socket"
    if url.port:
        where += f":{url.port}"
    return f"database {url.database} on {where}"


# --- backup -------------------------------------------------------------------------


def backup(engine: Engine, path: Path) -> Backup:
    """Write a consistent copy of the database behind ``engine`` to ``path``.

    The copy is written next to ``path`` under a temporary name and moved into place at
    the end, so a failed backup never leaves a half-written file under the real name.
    The file is readable by its owner only: it holds every family's messages."""
    kind = kind_of_url(engine.url)
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give the backup file's name.")
    if not path.parent.is_dir():
        raise BackupError(f"No folder {path.parent} to write the backup into.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o600)
        if kind == "sqlite":
            _sqlite_backup(_sqlite_path(engine.url), tmp)
        else:
            _pg_dump(engine.url, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Backup(kind, path, path.stat().st_size, describe(engine.url))


def _sqlite_path(url: URL) -> Path:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        raise BackupError("This SQLite database lives in memory; there is no file to back up.")
    return Path(db)


def _sqlite_backup(source: Path, dest: Path) -> None:
    if not source.is_file():
        raise BackupError(f"No SQLite database at {source}.")
    # Not read-only: a WAL database's reader may need to create the -shm index.
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # pages=-1 (the default): the whole copy in one step, under one read
        # transaction, so it is one moment of the database however busy it is.
        src.backup(dst)
        # A backup is one self-contained file: no write-ahead log beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        ok = dst.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if ok != "ok":
        raise BackupError(f"The copy failed SQLite's check ({ok}); nothing was written.")


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL for libpq (``postgresql://``, without ``+psycopg``) with no password in
    it, and the environment that carries the password."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    # ``URL.set(password=None)`` keeps the password (None means "unchanged" there);
    # URL is a named tuple, and ``_replace`` does clear it.
    plain = url._replace(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed; install PostgreSQL's client tools "
            f"(Debian: apt install postgresql-client) of the server's version or newer."
        )
    return found


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # pg_dump's and pg_restore's errors name objects and the database, never the
        # password (it is not on their command line). Keep the first error line (the
        # reason; pg_restore follows it with the failed SQL command).
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        reason = (errors or lines or [f"exit status {done.returncode}"])[0]
        raise BackupError(f"{what} failed: {reason}")


def _pg_dump(url: URL, dest: Path) -> None:
    dsn, env = _libpq(url)
    _run(
        [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={dest}", f"--dbname={dsn}"],
        env,
        "pg_dump",
    )


# --- restore ------------------------------------------------------------------------


def holdings(engine: Engine) -> tuple[int, int]:
    """(tables, rows) in the database, ``alembic_version`` left out: (0, 0) is empty."""
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    rows = 0
    with engine.connect() as conn:
        for table in tables:
            rows += conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
    return len(tables), rows


def restore(engine: Engine, path: Path, *, force: bool, migrations: Path | None = None) -> Restored:
    """Restore the backup at ``path`` into the database behind ``engine``.

    Refuses a backup of the other kind, and a database that holds any row unless
    ``force``. A database that holds Kring's tables but no row (``flask db upgrade``
    was run) counts as empty: nothing is lost by replacing it."""
    kind = kind_of_url(engine.url)
    path = Path(path).expanduser().absolute()
    file_kind = kind_of_file(path)
    if file_kind != kind:
        raise BackupError(
            f"{path} is a {KINDS[file_kind]} backup and this Kring runs on {KINDS[kind]}; "
            f"restore it into a {KINDS[file_kind]} database."
        )
    tables, rows = holdings(engine)
    if rows and not force:
        raise BackupError(
            f"The database is not empty ({rows} rows in {tables} tables); "
            f"restore into an empty one, or add --force to replace everything in it."
        )
    # Every pooled connection closed: PostgreSQL's DROP waits for none of ours, and
    # SQLite's file is replaced under no open transaction of ours.
    engine.dispose()
    if kind == "sqlite":
        _sqlite_restore(path, _sqlite_path(engine.url))
    else:
        _drop_tables_not_in(engine, _pg_backup_tables(engine.url, path))
        _pg_restore(engine.url, path, clean=bool(tables))
    engine.dispose()
    return _versions(engine, migrations)


def _sqlite_restore(source: Path, target: Path) -> None:
    if not target.parent.is_dir():
        raise BackupError(f"No folder {target.parent} for the database.")
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        ok = src.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise BackupError(f"{source} failed SQLite's check ({ok}); nothing was restored.")
        # The backup API replaces the target's every page in one write transaction: a
        # failure half-way leaves the database as it was.
        src.backup(dst)
        # Kring runs SQLite in WAL mode (portal._sqlite_pragmas sets it on every
        # connection); set it now so the first reader does not have to.
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


_LISTED_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ", re.M)


def _pg_backup_tables(url: URL, source: Path) -> set[str]:
    """The tables (of the public schema) a pg_dump file holds, from ``pg_restore --list``."""
    _dsn, env = _libpq(url)
    done = subprocess.run(
        [_tool("pg_restore"), "--list", str(source)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(f"{source} cannot be read by pg_restore; nothing was restored.")
    return {name for schema, name in _LISTED_TABLE.findall(done.stdout) if schema == "public"}


def _drop_tables_not_in(engine: Engine, keep: set[str]) -> None:
    """Before ``--clean``: drop the tables the backup does not hold. They are newer than
    the backup (a restore after an upgrade went wrong): left in place, their foreign keys
    would stop ``--clean`` from dropping the backup's tables, and ``flask db upgrade``
    would then fail making them again. Only reached with rows in none of them or with
    ``--force``."""
    extra = [t for t in inspect(engine).get_table_names() if t not in keep]
    if extra:
        with engine.begin() as conn:
            for table in extra:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    engine.dispose()


def _pg_restore(url: URL, source: Path, *, clean: bool) -> None:
    """``pg_restore`` in one transaction: on an error nothing of the backup is in.

    ``--clean --if-exists`` drops each object of the backup before making it again;
    it is used when the database already has tables (``--force``, or tables without
    rows). ``--no-owner``: the objects belong to the user Kring connects as, whatever
    user made the backup."""
    dsn, env = _libpq(url)
    args = [_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error"]
    if clean:
        args += ["--clean", "--if-exists"]
    _run([*args, "--no-password", f"--dbname={dsn}", str(source)], env, "pg_restore")


def _versions(engine: Engine, migrations: Path | None) -> Restored:
    from alembic.script import ScriptDirectory

    revision = None
    if "alembic_version" in inspect(engine).get_table_names():
        with engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = older = unknown = None
    if migrations is not None:
        script = ScriptDirectory(str(migrations))
        head = script.get_current_head()
        if revision is None:
            older = True
        elif revision != head:
            try:
                script.get_revision(revision)
            except Exception:  # noqa: BLE001 - alembic raises several kinds for "unknown"
                unknown = True
            else:
                older = True
    return Restored(
        kind_of_url(engine.url),
        describe(engine.url),
        revision,
        head,
        bool(older),
        bool(unknown),
    )
