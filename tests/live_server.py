"""The real Kring server (``python app.py``: gevent, Socket.IO, every middleware) in a
subprocess on a free port, over a fresh SQLite file built by the real migrations.

Shared by the browser tests (tests/e2e) and the live-socket tests (tests/live), which
each wrap ``kring_server`` in their own ``LiveServer`` helpers, and by the fault tests
(tests/faults/cluster.py), which start several processes from the same pieces
(``server_env``, ``migrate``, ``start_app``, ``wait_healthy``, ``stop_process``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from portal.config import TEST_PASSWORD_HASH_VALUE, TEST_PASSWORD_HASH_VAR

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(tmp: Path, port: int, database_url: str | None = None, **settings: str) -> dict:
    """The environment of a test server on ``port`` whose files (mail, and by default its
    SQLite database) go in ``tmp``; ``settings`` are further variables, over these.

    The machine's own TEST_DATABASE_URL, REDIS_URL, KRING_ENV, SOCKET_ALLOWED_ORIGINS and
    RATELIMIT_STORAGE_URI are left out: a test server uses only what its test gives it."""
    ours = (
        "TEST_DATABASE_URL",
        "REDIS_URL",
        "KRING_ENV",
        "SOCKET_ALLOWED_ORIGINS",
        "RATELIMIT_STORAGE_URI",
    )
    env = {k: v for k, v in os.environ.items() if k not in ours}
    url = f"http://127.0.0.1:{port}"
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{tmp}/kring.sqlite3",
        SECRET_KEY=secrets.token_hex(32),
        BASE_URL=url,
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONUNBUFFERED="1",
        # Everyone in these tests comes from 127.0.0.1: keep the per-IP limits out of
        # the way (their own tests drive them through the test client).
        LOGIN_RATE_LIMIT="1000 per minute",
        TOKEN_RATE_LIMIT="1000 per minute",
        JOIN_RATE_LIMIT="1000 per minute",
        # No SMTP: the server's background sender writes each mail as a file here.
        MAIL_SERVER="",
        MAIL_OUTBOX_DIR=str(tmp / "outbox"),
        MAIL_SEND_INTERVAL="0.3",
        # No notification run in the background: tests run it with their own clock.
        NOTIFY_INTERVAL="0",
        CHAT_SEND_RATE_LIMIT="1000 per minute",
        WRITE_RATE_LIMIT="1000 per minute",
        # Argon2 with the test suite's costs (as in TestConfig): with production's, every
        # join and sign-in in a browser test took seconds of CPU on a small machine.
        **{TEST_PASSWORD_HASH_VAR: TEST_PASSWORD_HASH_VALUE},
        # No fsync per commit on this throw-away database (WAL keeps it consistent).
        SQLITE_SYNCHRONOUS="NORMAL",
    )
    env.update(settings)
    return env


def migrate(env: dict) -> None:
    """``flask db upgrade`` on the database of ``env``: the real migrations."""
    upgrade = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if upgrade.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{upgrade.stdout}\n{upgrade.stderr}")


def start_app(env: dict, log: Path, mode: str = "w") -> subprocess.Popen:
    """``python app.py`` with ``env``, its output into ``log`` (``mode`` "a": after what a
    previous run of the same server wrote)."""
    with open(log, mode) as out:
        return subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Wait until ``url``/healthz answers 200; fail at once if the process stops."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server {url} stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no answer on {url}/healthz in {timeout:g} s:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL after 10 s without an exit."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def kring_server(
    prefix: str, database_url: str | None = None, **settings: str
) -> Iterator[tuple[str, dict, Path, subprocess.Popen]]:
    """Yield ``(url, env, log_path, process)`` of a running server; stop it afterwards.
    With KRING_KEEP_E2E=1 its folder (database, log, mail) stays, to look at after a failure.

    ``database_url``: an empty database for the server (the caller makes and drops it;
    PostgreSQL, say); by default a fresh SQLite file in the server's folder.
    ``settings`` are further environment variables (``KRING_ENV="production"``)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    port = free_port()
    env = server_env(tmp, port, database_url, **settings)
    url = f"http://127.0.0.1:{port}"  # BASE_URL may be another (a proxy's) in settings
    log = tmp / "server.log"
    migrate(env)
    proc = start_app(env, log)
    try:
        wait_healthy(url, proc, log)
        yield url, env, log, proc
    finally:
        stop_process(proc)
        if not os.environ.get("KRING_KEEP_E2E"):
            shutil.rmtree(tmp, ignore_errors=True)
