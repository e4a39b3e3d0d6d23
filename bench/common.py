"""What the benchmarks share (each runs as a script, so ``bench/`` is on ``sys.path``):
the processes they start (a Kring or baseline server, a private Redis, the load
generator), what they read of them (CPU seconds, RSS), and signing people in."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 1"  # every seeded account's (fanout.seed)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def reset_postgres(url: str) -> None:
    """Empty the given PostgreSQL database (drop and recreate its public schema),
    creating it first when it does not exist yet (``make bench-smoke`` uses its own)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url)
    try:
        engine.connect().close()
    except OperationalError as e:
        if "does not exist" not in str(e):
            raise
        name = make_url(url).database
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# --- processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process in seconds, from /proc/<pid>/stat (fields 14, 15):
    time in the process's own code, and in the kernel on its behalf (socket writes,
    fsync)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    rest = stat[stat.rindex(")") + 2 :].split()
    return int(rest[11]) / CLK_TCK, int(rest[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process."""
    return sum(cpu_split(pid))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """A server process (``argv`` in the repo's root), its output in ``logfile``; the
    constructor returns once ``url``/healthz answers 200."""

    def __init__(self, label: str, argv: list[str], env: dict, url: str, logfile: Path):
        self.label, self.url, self.logfile = label, url, logfile
        with open(logfile, "w") as f:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()  # not left running when it never answered
            raise

    def _wait_healthy(self) -> None:
        import requests

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"{self.label} server stopped:\n{self.logfile.read_text()[-3000:]}"
                )
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.label} server did not answer /healthz in 30 s")

    def tracebacks(self) -> int:
        return self.logfile.read_text().count("Traceback")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_baseline(workdir: Path) -> Server:
    """bench/baseline_server.py (Flask-SocketIO on gevent, ``emit(to=room)`` only)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PORT=str(port), BASE_URL=url, PYTHONUNBUFFERED="1")
    argv = [sys.executable, str(ROOT / "bench" / "baseline_server.py")]
    return Server("baseline", argv, env, url, workdir / "baseline.log")


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A private ``redis-server`` on a free port (the machine's Redis is shared): the
    process and its URL."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(50):
        try:
            subprocess.run(["redis-cli", "-p", str(port), "ping"], check=True, capture_output=True)
            break
        except subprocess.CalledProcessError:
            time.sleep(0.1)
    return proc, f"redis://127.0.0.1:{port}/0"


# --- Kring: its environment, its database, its people --------------------------------


def kring_env(database_url: str, port: int, **settings: str) -> dict:
    """The environment of a bench Kring server on ``port``: a fresh secret key, the
    machine's TEST_DATABASE_URL and REDIS_URL left out; ``settings`` over these (the
    rate limits a benchmark raises, REDIS_URL, a shared SECRET_KEY and BASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_hex(32),
        BASE_URL=f"http://127.0.0.1:{port}",
        HOST="127.0.0.1",
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def upgrade_database(env: dict) -> None:
    """``flask db upgrade`` on the database of ``env``: the real migrations."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def seed_kring(env: dict, circles: int, members: int) -> list[dict]:
    """Build the database of ``env`` (a PostgreSQL one emptied first) with ``flask db
    upgrade`` and seed it through Kring's services (``fanout.py --seed``): circles of
    ``members`` people, as ``[{"circle": id, "users": [username, ...]}, ...]``."""
    if env["DATABASE_URL"].startswith("postgres"):
        reset_postgres(env["DATABASE_URL"])
    upgrade_database(env)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fanout.py"), "--seed", "--circles", str(circles),
         "--members", str(members)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def csrf_in(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "no CSRF token"
    return m.group(1)


def login_page(url: str) -> tuple[str, str]:
    """The login page's cookies and CSRF token (the form a browser would submit)."""
    import requests

    with requests.Session() as http:
        page = http.get(url + "/login", timeout=30)
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items()), csrf_in(page.text)


def sign_in(url: str, username: str, form: tuple[str, str]) -> tuple[str, str]:
    """POST /login as a browser would; return (cookie header, CSRF token for the socket).

    Everyone submits the same login page (its cookie and token), like people opening
    one page in many tabs; that saves 1,000 page renders in the setup.
    """
    import requests

    cookie, form_token = form
    with requests.Session() as http:
        resp = http.post(
            url + "/login",
            data={"login": username, "password": PASSWORD, "csrf_token": form_token},
            headers={"Cookie": cookie},
            timeout=30,
            allow_redirects=False,
        )
        if resp.status_code != 302:
            raise SystemExit(f"login of {username} failed: {resp.status_code}")
        csrf = csrf_in(http.get(url + "/account", timeout=30).text)
        return f"kring_session={http.cookies['kring_session']}", csrf


def sign_in_all(url: str, world: list[dict]) -> list[dict]:
    """Everyone of the seeded ``world`` signed in on ``url`` (8 at a time): one loadgen
    client entry each, ``{"circle", "cookie", "csrf"}``, circle by circle."""
    from concurrent.futures import ThreadPoolExecutor

    people = [(c["circle"], u) for c in world for u in c["users"]]
    form = login_page(url)
    with ThreadPoolExecutor(8) as pool:
        creds = list(pool.map(lambda p: sign_in(url, p[1], form), people))
    return [
        {"circle": circle, "cookie": cookie, "csrf": csrf}
        for (circle, _u), (cookie, csrf) in zip(people, creds, strict=True)
    ]


# --- the load generator ----------------------------------------------------------------


class Loadgen:
    """bench/loadgen.js (the official socket.io-client on Node) for one run: ``cfg`` as
    it reads it. It connects every client and says READY; ``go()`` sends the load and
    returns its RESULT; ``bye()`` lets it exit. A FAILED line or an early exit raises
    RuntimeError."""

    def __init__(self, cfg: dict, path: Path, *, quiet: bool = False):
        path.write_text(json.dumps(cfg))
        self.label = cfg["label"]
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "bench" / "loadgen.js"), str(path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else None,
            text=True,
            bufsize=1,
        )

    def expect(self, prefix: str) -> str:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"loadgen ({self.label}) stopped before {prefix}")
            if line.startswith("FAILED"):
                raise RuntimeError(f"loadgen ({self.label}): {line.strip()}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def _say(self, word: str) -> None:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def go(self) -> dict:
        self._say("GO")
        return json.loads(self.expect("RESULT"))

    def bye(self) -> None:
        self._say("BYE")
        self.proc.wait(timeout=60)
