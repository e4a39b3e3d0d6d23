"""Production mode (KRING_ENV=production) refuses to start half-configured.

Each case starts the real entry point (``python app.py``, or a ``flask --app app``
command) in a subprocess, as an operator or systemd would: a refusal is ONE line on
stderr, no traceback, and a non-zero exit; a valid configuration serves.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.live_server import free_port, migrate, start_app, stop_process

ROOT = Path(__file__).resolve().parent.parent
KEY = secrets.token_hex(32)
# Whatever the test run itself was given, the server under test sees only what a case sets.
OURS = ("KRING_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "BASE_URL", "TEST_DATABASE_URL")
OURS += ("SOCKET_ALLOWED_ORIGINS", "HOST", "PORT", "PREFERRED_URL_SCHEME")


def _env(tmp_path: Path, **settings: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OURS}
    env.update(
        KRING_ENV="production",
        SECRET_KEY=KEY,
        DATABASE_URL=f"sqlite:///{tmp_path}/kring.sqlite3",
        MAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
        NOTIFY_INTERVAL="0",
        PURGE_INTERVAL="0",
        MAIL_SEND_INTERVAL="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return {k: v for k, v in env.items() if v is not None}


def _refused(env: dict, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, *(command or ("app.py",))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, not a traceback
    assert lines[0].startswith("Kring cannot start: ")
    return lines[0]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # (a) the secret key: missing (no quiet fallback to a key file), or too short
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY"),
        # (b) one queue for several processes, but each its own SQLite file
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "REDIS_URL"),
        # (c) links and cookies over plain HTTP across a network
        ({"BASE_URL": "http://kring.example.org"}, "BASE_URL"),
        ({"BASE_URL": "http://192.0.2.10:8080/kring"}, "BASE_URL"),
        (
            {"BASE_URL": "https://kring.example.org", "SOCKET_ALLOWED_ORIGINS": "http://evil.lan"},
            "SOCKET_ALLOWED_ORIGINS",
        ),
        # a typo must not quietly select the forgiving default
        ({"KRING_ENV": "prod"}, "KRING_ENV"),
    ],
)
def test_production_refuses_to_start(tmp_path, settings, named):
    line = _refused(_env(tmp_path, **settings))
    assert named in line
    if "SECRET_KEY" in settings and settings["SECRET_KEY"]:
        assert settings["SECRET_KEY"] not in line  # a secret is never repeated


def test_the_command_line_refuses_too(tmp_path):
    """``flask --app app ...`` (migrations, invitations) builds the same app: no
    invitation link is printed on a base address people cannot safely use."""
    env = _env(tmp_path, BASE_URL="http://kring.example.org")
    line = _refused(env, "-m", "flask", "--app", "app", "kring", "invite", "1", "--name", "X")
    assert "BASE_URL" in line


def _serve(env: dict, port: int, log: Path) -> subprocess.Popen:
    migrate(env)
    return start_app(env, log)


def _get(url: str, deadline: float):
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("base", ["http://127.0.0.1:{port}", "https://kring.example.org"])
def test_a_valid_production_config_serves(tmp_path, base):
    """Loopback over plain HTTP (one machine), or the public HTTPS address behind a proxy:
    both start. Behind HTTPS the cookies are Secure without any further setting."""
    port = free_port()
    env = _env(tmp_path, HOST="127.0.0.1", PORT=str(port), BASE_URL=base.format(port=port))
    log = tmp_path / "server.log"
    proc = _serve(env, port, log)
    try:
        with _get(f"http://127.0.0.1:{port}/readyz", time.monotonic() + 30) as resp:
            assert (resp.status, resp.read()) == (200, b"ok")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as resp:
            cookie = resp.headers["Set-Cookie"]
        assert ("; Secure" in cookie) == base.startswith("https"), cookie
        assert proc.poll() is None
    finally:
        stop_process(proc)
