"""``PORT=5601 make run`` with no ``BASE_URL``: the printed links point at the port
actually served, and a page loaded from there may open its socket (the allowed origin
follows the same address). Before, both still said port 5000 and chat was refused."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from portal.config import TEST_PASSWORD_HASH_VALUE, TEST_PASSWORD_HASH_VAR
from tests.live.conftest import LiveServer, LiveSocket
from tests.live_server import free_port, migrate, start_app, stop_process, wait_healthy

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server_without_base_url():
    tmp = Path(tempfile.mkdtemp(prefix="kring-port-"))
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TEST_DATABASE_URL", "REDIS_URL", "BASE_URL", "SOCKET_ALLOWED_ORIGINS")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp}/kring.sqlite3",
        SECRET_KEY=secrets.token_hex(32),
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONUNBUFFERED="1",
        LOGIN_RATE_LIMIT="1000 per minute",
        TOKEN_RATE_LIMIT="1000 per minute",
        # Argon2 with the test suite's costs (see tests/live_server.py).
        **{TEST_PASSWORD_HASH_VAR: TEST_PASSWORD_HASH_VALUE},
    )
    migrate(env)
    log = tmp / "server.log"
    proc = start_app(env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield LiveServer(url=url, env=env, log=log)
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def test_links_and_socket_origin_follow_port(server_without_base_url):
    server = server_without_base_url
    out = server.cli("kring", "create-circle", "--title", "Port", "--coordinator-name", "Noor")
    circle_id, link = out.split()
    # The link printed by the command line opens the server that is running.
    assert re.fullmatch(re.escape(server.url) + r"/i/[A-Za-z0-9_\-]{20,}", link), link
    noor = server.redeem(link, "Noor")
    # A browser on that page sends its own origin; the socket must be let in. (Polling:
    # the WebSocket client library would add a second Origin header of its own.)
    page_origin = {"headers": {"Origin": server.url}, "transports": ["polling"]}
    sock = LiveSocket(server, noor.http, noor.csrf(), **page_origin)
    try:
        assert sock.connected
        sock.join(int(circle_id))
        ack = sock.send(int(circle_id), "Hello from the port I was given")
        assert ack["ok"], ack
        # Another origin (the old default) is still refused.
        LiveSocket.refused(
            server,
            noor.http,
            noor.csrf(),
            headers={"Origin": "http://127.0.0.1:5000"},
            transports=["polling"],
        )
    finally:
        sock.close()
