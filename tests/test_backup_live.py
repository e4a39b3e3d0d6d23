"""A backup taken while people chat (issue 15 B; docs/backup.md).

The real server (``python app.py``) runs on a database of the pass's kind: a SQLite
file in the SQLite pass, a PostgreSQL database made for the test in the PostgreSQL
pass. Three people send messages from their own threads over real sockets;
``flask kring backup`` runs meanwhile, as cron would. The backup, restored into an
empty database, holds one moment of the chat: seq 1..n with no gap, only messages
whose senders were told "stored", every message acknowledged before the backup began,
and (SQLite) a file that passes ``PRAGMA integrity_check``.

Not marked ``live``: this test runs in both passes, on the pass's database.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import ON_POSTGRES
from tests.fresh_database import fresh_database
from tests.live.conftest import ROOT, LiveServer, wait_until
from tests.live_server import kring_server


def _flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_backup_during_chat_traffic_is_one_consistent_moment(tmp_path: Path):
    with fresh_database(tmp_path, "live_source") as source_url:
        with kring_server("kring-backup-", source_url if ON_POSTGRES else None) as (
            url,
            env,
            log,
            proc,
        ):
            server = LiveServer(url=url, env=env, log=log)
            try:
                circle_id, people = server.circle(
                    "Backup while chatting", "Anna", ("Ben", "member"), ("Cas", "member")
                )
                acked: list[tuple[int, str]] = []  # (seq, body) the server said it stored
                lock = threading.Lock()
                stop = threading.Event()
                failures: list[object] = []

                def chat(person) -> None:
                    s = person.socket()
                    s.join(circle_id)
                    for i in range(1, 10_000):
                        if stop.is_set():
                            return
                        body = f"{person.name} {i}"
                        ack = s.send(circle_id, body)
                        if not ack.get("ok"):
                            failures.append(ack)
                            return
                        with lock:
                            acked.append((ack["message"]["seq"], body))

                threads = [threading.Thread(target=chat, args=(p,)) for p in people]
                for t in threads:
                    t.start()
                try:
                    assert wait_until(lambda: len(acked) >= 30, timeout=60), failures
                    with lock:
                        before = set(acked)
                    backup = tmp_path / "during-chat.backup"
                    made = _flask(env, "kring", "backup", str(backup))
                    assert made.returncode == 0, made.stdout + made.stderr
                    with lock:
                        at_end_of_backup = len(acked)
                    # Traffic goes on after the backup, so the backup is a moment in it.
                    assert wait_until(lambda: len(acked) >= at_end_of_backup + 30, timeout=60)
                finally:
                    stop.set()
                    for t in threads:
                        t.join(timeout=30)
                assert not failures, failures
                assert proc.poll() is None, "the server stopped"
            finally:
                server.close_sockets()
    how = "PostgreSQL backup (pg_dump" if ON_POSTGRES else "SQLite backup (sqlite3 backup API"
    assert made.stdout.startswith(how), made.stdout

    with fresh_database(tmp_path, "live_restored") as target_url:
        restore = _flask({**env, "DATABASE_URL": target_url}, "kring", "restore", str(backup))
        assert restore.returncode == 0, restore.stdout + restore.stderr
        engine = create_engine(target_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT seq, body FROM messages WHERE circle_id = :c ORDER BY seq"),
                    {"c": circle_id},
                ).all()
                if not ON_POSTGRES:
                    checked = conn.execute(text("PRAGMA integrity_check")).scalars().all()
                    assert checked == ["ok"]
        finally:
            engine.dispose()
    restored = {(seq, body) for seq, body in rows}
    seqs = [seq for seq, _ in rows]
    assert seqs == list(range(1, len(rows) + 1)), "a gap in the restored chat"
    assert restored <= set(acked), "a message in the backup nobody was told was stored"
    assert before <= restored, "a message stored before the backup began is missing"
    assert len(before) <= len(rows) < len(acked)
    print(f"backup during traffic: {len(rows)} of {len(acked)} messages, {made.stdout.strip()}")
