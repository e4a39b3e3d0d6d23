"""Backup and restore (issue 15 B; docs/backup.md): ``flask kring backup PATH`` and
``flask kring restore PATH [--force]``, in both passes (SQLite and PostgreSQL).

What an operator would notice: a family's circle comes back exactly as it was (the
same pages for its members, the same rows), a database that holds anything is not
overwritten by mistake, a backup of the other kind is refused in one line, and the
restored schema's age is told. The backup taken during chat traffic is in
tests/test_backup_live.py.
"""

from __future__ import annotations

import difflib
import re
import shutil
import sqlite3
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db as _db
from portal.models import Membership, Message
from tests.conftest import (
    _TEMPLATE_CODE,
    DATABASE_URL,
    ON_POSTGRES,
    KringClient,
    _Config,
    csrf_from,
)
from tests.family_circle import family_circle, send
from tests.fresh_database import fresh_database


@pytest.fixture
def family(make_circle, add_member):
    """A lived-in circle (tests/family_circle.py) whose chat mentions Sanne: news for her."""
    return family_circle(
        make_circle,
        add_member,
        first="Oma says hello, @Sanne",
        edited="Oma says hello again, @Sanne",
    )


def _pages(family) -> list[str]:
    cid = family["circle"].id
    return [
        f"/c/{cid}/chat",
        f"/c/{cid}/chat/messages/{family['first'].id}/versions",
        f"/c/{cid}/plan",
        f"/c/{cid}/plan/versions",
        f"/c/{cid}/plan/versions/1",
        f"/c/{cid}/plan/versions/2",
        f"/c/{cid}/meetings/{family['meeting'].id}",
        "/notifications",
    ]


def _render(client, paths: list[str]) -> dict[str, str]:
    out = {}
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        html = resp.get_data(as_text=True)
        # What differs between two sign-ins or two visits: the CSRF token, the CSP
        # nonce, and the chat form's fresh client id for the next message.
        html = html.replace(csrf_from(resp), "CSRF")
        html = re.sub(r'nonce="[^"]+"', 'nonce=""', html)
        html = re.sub(r'(name="client_id" type="hidden" value=")[^"]+"', r'\1"', html)
        out[path] = html
    return out


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in sorted(inspect(engine).get_table_names())
        }


def _app_on(url: str):
    class Config(_Config):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    app.jinja_env.bytecode_cache = _TEMPLATE_CODE
    app.test_client_class = KringClient
    app.extensions["kring_outbox"] = []
    return app


def _cli(app, *args: str):
    """``flask kring ...`` on ``app``: inside its own app context, or Flask's CLI would
    use the test's app, whose context is open."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["kring", *args])
        _db.session.remove()
    return result


@pytest.fixture(autouse=True)
def _postgres_tools():
    """The PostgreSQL pass needs pg_dump and pg_restore: fail (not skip) without them."""
    if ON_POSTGRES:
        assert shutil.which("pg_dump") and shutil.which("pg_restore"), (
            "pg_dump/pg_restore missing: install postgresql-client"
        )


def test_a_circle_comes_back_as_it_was(app, db, family, new_client, login, tmp_path):
    paths = _pages(family)
    sanne = SimpleNamespace(username=family["sanne"].user.username)  # no session's object
    first = login(new_client(), sanne)
    _render(first, paths)  # the first visit marks the chat and the news read
    before = _render(first, paths)
    assert "Oma says hello again" in before[paths[0]]
    assert "Oma Riet" in before["/notifications"]
    db.session.commit()
    counts = _counts(db.engine)
    assert counts["messages"] == 2 and counts["plan_versions"] == 2
    assert counts["notifications"] > 0 and counts["meeting_answers"] == 1

    backup = tmp_path / "kring.backup"
    result = _cli(app, "backup", str(backup))
    assert result.exit_code == 0, result.output
    kind, how = ("PostgreSQL", "pg_dump") if ON_POSTGRES else ("SQLite", "sqlite3 backup API")
    assert result.output.startswith(f"{kind} backup ({how}")
    assert f"written to {backup}: " in result.output
    assert backup.stat().st_mode & 0o077 == 0, "a backup is for its owner's eyes only"

    with fresh_database(tmp_path, "restored") as url:
        restored = _app_on(url)
        result = _cli(restored, "restore", str(backup))
        assert result.exit_code == 0, result.output
        assert result.output.count("\n") == 1, result.output  # at the code's head
        with restored.app_context():
            assert _counts(_db.engine) == counts
            after = _render(login(restored.test_client(), sanne), paths)
            _db.session.remove()
            _db.engine.dispose()
    for path in paths:
        diff = difflib.unified_diff(before[path].splitlines(), after[path].splitlines(), n=1)
        assert after[path] == before[path], path + "\n" + "\n".join(diff)


def test_a_database_that_holds_anything_is_kept_unless_forced(app, db, family, tmp_path):
    db.session.commit()
    backup = tmp_path / "kring.backup"
    assert _cli(app, "backup", str(backup)).exit_code == 0
    circle_id, sanne_id = family["circle"].id, family["sanne"].id
    with fresh_database(tmp_path, "forced") as url:
        restored = _app_on(url)
        assert _cli(restored, "restore", str(backup)).exit_code == 0
        with restored.app_context():
            send(_db.session.get(Membership, sanne_id), "Written after the backup")
            # A table newer than the backup (the code was upgraded since), pointing at
            # one of the backup's tables: --force must not trip over it, and must not
            # leave it for `flask db upgrade` to fail on.
            with _db.engine.begin() as conn:
                conn.execute(
                    text("CREATE TABLE newer_feature (circle_id INTEGER REFERENCES circles(id))")
                )
                conn.execute(text("INSERT INTO newer_feature VALUES (:c)"), {"c": circle_id})
            counts = _counts(_db.engine)
            _db.session.remove()

        refused = _cli(restored, "restore", str(backup))
        assert refused.exit_code == 1
        assert refused.output.count("\n") == 1, refused.output
        assert "not empty" in refused.output and "--force" in refused.output
        with restored.app_context():
            assert _counts(_db.engine) == counts  # nothing touched

            forced = _cli(restored, "restore", str(backup), "--force")
            assert forced.exit_code == 0, forced.output
            bodies = _db.session.scalars(
                select(Message.body).where(Message.circle_id == circle_id)
            ).all()
            assert "Written after the backup" not in bodies and len(bodies) == 2
            assert _counts(_db.engine)["messages"] == 2
            assert "newer_feature" not in inspect(_db.engine).get_table_names()
            _db.session.remove()
            _db.engine.dispose()


def test_the_restore_says_when_the_schema_is_older_or_unknown(app, db, family, tmp_path):
    """After a restore the database is at the backup's revision: an older one needs
    ``flask db upgrade``; one this code does not know came from a newer Kring."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(app.extensions["migrate"].directory)
    head = script.get_current_head()
    previous = script.get_revision(head).down_revision
    db.session.commit()
    with fresh_database(tmp_path, "schema") as url:
        restored = _app_on(url)
        backup = tmp_path / "kring.backup"
        assert _cli(app, "backup", str(backup)).exit_code == 0
        for revision, says in (
            (previous, f"older than this Kring's ({head}): run `flask --app app db upgrade`"),
            ("0123456789ab", "does not know revision 0123456789ab"),
        ):
            with restored.app_context():
                # A database that answers to an older (or unknown) revision, backed up.
                _cli(restored, "restore", str(backup), "--force")
                with _db.engine.begin() as conn:
                    conn.execute(
                        text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
                    )
            old = tmp_path / f"{revision}.backup"
            assert _cli(restored, "backup", str(old)).exit_code == 0
            result = _cli(restored, "restore", str(old), "--force")
            assert result.exit_code == 0, result.output
            assert f"schema revision {revision}." in result.output
            assert says in result.output, result.output
        with restored.app_context():
            _db.engine.dispose()


def test_a_backup_of_the_other_kind_or_no_backup_is_refused(app, db, family, tmp_path):
    """The kind is read from the file's first bytes; the database stays as it was."""
    other = tmp_path / "other.backup"
    if ON_POSTGRES:
        sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
        says = "is a SQLite backup and this Kring runs on PostgreSQL"
    else:
        other.write_bytes(b"PGDMP\x01\x0f\x00" + bytes(100))
        says = "is a PostgreSQL backup and this Kring runs on SQLite"
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    db.session.commit()
    counts = _counts(db.engine)
    for path, words in (
        (other, says),
        (junk, "is not a Kring backup"),
        (tmp_path / "missing", "No file at"),
    ):
        result = _cli(app, "restore", str(path), "--force")
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and words in result.output, result.output
    assert _counts(db.engine) == counts
    assert db.session.scalar(select(func.count()).select_from(Message)) == 2


@pytest.mark.postgres_only
def test_no_password_is_printed_or_put_on_a_command_line(app, tmp_path, monkeypatch):
    """pg_dump gets the password through PGPASSWORD, never its arguments (``ps`` shows
    those to every user of the machine), and no output line holds it."""
    import subprocess

    from portal import backup

    seen = []
    real_run = subprocess.run

    def spy(args, **kw):
        seen.append((list(args), kw.get("env", {}).get("PGPASSWORD")))
        return real_run(args, **kw)

    monkeypatch.setattr(backup.subprocess, "run", spy)
    url = make_url(DATABASE_URL).set(password="s3cret-pw")
    engine = create_engine(url)
    try:
        made = backup.backup(engine, tmp_path / "pw.backup")
    except backup.BackupError as e:  # the server may refuse that password: still no leak
        assert "s3cret-pw" not in str(e)
    else:
        assert "s3cret-pw" not in made.source
    engine.dispose()
    ((args, password),) = seen
    assert password == "s3cret-pw"
    assert not any("s3cret-pw" in a for a in args)
    assert any(a.startswith("--dbname=postgresql://") and "+psycopg" not in a for a in args)
