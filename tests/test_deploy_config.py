"""deploy/nginx-kring.conf is a configuration nginx accepts.

``nginx -t`` checks the file as shipped, inside a throw-away main configuration (its own
prefix, pid file and logs in a temporary folder) with a self-signed certificate made by
``openssl`` in place of the real one. ``make test`` installs nginx (the Makefile's
``browser`` step); without nginx this test fails rather than skips.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx-kring.conf"
CERT_DIR = "/etc/letsencrypt/live/kring.example.org/"


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert found, "nginx is not installed (make test installs it: the Makefile's browser step)"
    return found


def test_nginx_accepts_the_shipped_config(tmp_path):
    nginx = _nginx()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=kring.example.org",
         "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (tmp_path / "logs").mkdir()
    site = CONF.read_text()
    assert CERT_DIR in site and "/var/log/nginx/" in site
    site = site.replace(CERT_DIR, f"{tmp_path}/").replace("/var/log/nginx/", f"{tmp_path}/logs/")
    (tmp_path / "kring.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{}}
http {{
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    access_log {tmp_path}/logs/access.log;
    include {tmp_path}/kring.conf;
}}
"""
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr
    assert "[warn]" not in done.stderr, done.stderr


def test_the_proxy_balances_http_and_websocket_and_logs_no_path():
    """What docs/deploy.md promises of the file, read from it: several processes with
    stickiness for long-polling, the WebSocket upgrade, TLS, and an access log format
    without the path (paths carry tokens)."""
    site = CONF.read_text()
    upstream = site.split("upstream kring {", 1)[1].split("}", 1)[0]
    assert "ip_hash;" in upstream and upstream.count("server 127.0.0.1:") >= 2
    assert "proxy_set_header Upgrade $http_upgrade;" in site
    assert "listen 443 ssl;" in site and "ssl_certificate " in site
    log_format = site.split("log_format kring_private", 1)[1].split(";", 1)[0]
    for leaky in ("$request ", "$request_uri", "$uri", "$args", "$http_referer", "$http_cookie"):
        assert leaky not in log_format + " "
    assert "X-Forwarded-For" in site and "X-Forwarded-Proto" in site
    # A proxy_set_header inside a location would silently drop the server's others
    # there (Host, X-Forwarded-*, Connection: the WebSocket handshake failed that way).
    blocks = re.findall(r"^\s*location [^{]*\{(.*?)^\s*\}", site, re.M | re.S)
    assert len(blocks) >= 3
    for block in blocks:
        assert "proxy_set_header" not in block, block
