"""Page speed on a lived-in circle, against a bare page of the same server.

    .venv/bin/python bench/pages.py            # or: make bench-pages
    .venv/bin/python bench/pages.py --smoke    # tiny circle, a few requests: does it run?

Seeds one circle through Kring's services (tests/big_circle.py: 12 people, 40 weekly
commitments with 6 months of ticks, 20,000 chat messages, 30 meetings), starts the
real server (``python app.py``) on a fresh SQLite file, signs in a central person and
the circle's professional over HTTP, and times each page with keep-alive on (one
``requests.Session`` per person, as a browser keeps its connection): median and p95
of ``--repeat`` requests after ``--warmup`` untimed ones, in rounds (each round
requests every page once, so all see the same moments of a shared machine's load).
The bare page is the anonymous ``/login`` form, rendered by the same server in the
same run; each page's ratio is its median over the bare page's.

Targets: every page's median at most 10x the bare page's; no p95 above 100 ms.
``--check`` makes the exit status say whether they were met. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/common.py (bench/ is on sys.path)
from common import PASSWORD, ROOT, Server, csrf_in, free_port, kring_env, upgrade_database

sys.path.insert(0, str(ROOT))  # tests/big_circle.py, when run as a script
LOAD_BEFORE = Path("/proc/loadavg").read_text().split()[0]
FULL = dict(people=12, commitments=40, months=6, messages=20_000, meetings_n=30)
SMOKE = dict(people=4, commitments=3, months=1, messages=50, meetings_n=2)
MEDIAN_RATIO, P95_MS = 10.0, 100.0
DOWNLOAD = "circle export (ZIP download)"


def log(msg: str) -> None:
    print(f"[pages] {msg}", file=sys.stderr, flush=True)


def seed(sizes: dict) -> None:
    """Seed the circle (in the bench server's environment); print what to visit as JSON."""
    from portal import create_app
    from tests.big_circle import seed_circle

    app = create_app()
    with app.app_context():
        s = seed_circle("bench", password=PASSWORD, **sizes)
        print(
            json.dumps(
                {
                    "circle": s.circle.id,
                    "poll": s.poll_id,
                    "fixed": s.fixed_id,
                    "central": s.central.user.username,
                    "professional": s.professional.user.username,
                }
            )
        )


def sign_in(url: str, username: str):
    import requests

    http = requests.Session()
    token = csrf_in(http.get(url + "/login", timeout=30).text)
    resp = http.post(
        url + "/login",
        data={"login": username, "password": PASSWORD, "csrf_token": token},
        timeout=30,
        allow_redirects=False,
    )
    if resp.status_code != 302:
        raise SystemExit(f"login of {username} failed: {resp.status_code}")
    return http


def pages(w: dict) -> list[tuple[str, str, str]]:
    """(label, who, path): who is "anon", "central" or "professional"."""
    c = w["circle"]
    rows = [("bare page: /login (anonymous)", "anon", "/login")]
    for label, path in [
        ("plan", f"/c/{c}/plan"),
        ("print view", f"/c/{c}/plan/print"),
        ("meeting (date poll)", f"/c/{c}/meetings/{w['poll']}"),
        ("meeting (fixed, agenda)", f"/c/{c}/meetings/{w['fixed']}"),
        ("plan export (JSON)", f"/c/{c}/plan/export.json"),
        ("chat", f"/c/{c}/chat"),
        ("circle home", f"/c/{c}"),
        ("meetings", f"/c/{c}/meetings"),
        ("my commitments", "/me/commitments"),
        ("history", f"/c/{c}/history"),
        ("notifications", "/notifications"),
        ("people", f"/c/{c}/people"),
    ]:
        rows.append((label, "central", path))
    # A professional's plan and meeting pages differ (conditions, acceptance; every
    # look is written to the access log).
    for label, path in [
        ("plan (professional)", f"/c/{c}/plan"),
        ("meeting, fixed (professional)", f"/c/{c}/meetings/{w['fixed']}"),
        ("plan export (JSON, professional)", f"/c/{c}/plan/export.json"),
    ]:
        rows.append((label, "professional", path))
    # A download of the whole history, not a page: timed in the same rounds, reported
    # apart from the pages' targets (its cost grows with the chat by design).
    rows.append((DOWNLOAD, "central", f"/c/{c}/export"))
    return rows


def measure(sessions: dict, url: str, rows: list, warmup: int, repeat: int) -> list[dict]:
    """Time every page once per round, ``warmup + repeat`` rounds: the bare page and
    the others see the same moments of a shared machine's load."""
    times: dict[str, list[float]] = {label: [] for label, _who, _path in rows}
    size: dict[str, int] = {}
    for i in range(warmup + repeat):
        for label, who, path in rows:
            t = time.perf_counter()
            resp = sessions[who].get(url + path, timeout=60)
            body = resp.content
            took = (time.perf_counter() - t) * 1000
            if resp.status_code != 200:
                raise SystemExit(f"{path}: HTTP {resp.status_code}")
            if i >= warmup:
                times[label].append(took)
            size[label] = len(body)
    out = []
    for label, _who, path in rows:
        ts = sorted(times[label])
        p95 = ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]
        out.append(
            {
                "page": label,
                "path": path,
                "median_ms": statistics.median(ts),
                "p95_ms": p95,
                "bytes": size[label],
                "n": len(ts),
            }
        )
    return out


def run(args, workdir: Path) -> list[dict]:
    sizes = SMOKE if args.smoke else FULL
    env = kring_env(
        f"sqlite:///{workdir}/pages.sqlite3",
        free_port(),
        LOGIN_RATE_LIMIT="100000 per minute",
        EXPORT_RATE_LIMIT="100000 per hour",
        WRITE_RATE_LIMIT="100000 per minute",
        # The server's own background runs would compete with the requests timed.
        MAIL_SEND_INTERVAL="0",
        NOTIFY_INTERVAL="0",
        PURGE_INTERVAL="0",
    )
    url = env["BASE_URL"]
    t = time.monotonic()
    upgrade_database(env)
    from portal.config import TEST_PASSWORD_HASH_VALUE, TEST_PASSWORD_HASH_VAR

    # Cheap argon2 costs for the seeded accounts only (the server keeps its defaults;
    # a sign-in reads the costs from the stored hash).
    seed_env = dict(env, **{TEST_PASSWORD_HASH_VAR: TEST_PASSWORD_HASH_VALUE})
    seeded = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--seed"]
        + (["--smoke"] if args.smoke else []),
        cwd=ROOT,
        env=seed_env,
        capture_output=True,
        text=True,
    )
    if seeded.returncode:
        raise SystemExit(f"seeding failed:\n{seeded.stderr[-3000:]}")
    world = json.loads(seeded.stdout.strip().splitlines()[-1])
    log(f"seeded {sizes} in {time.monotonic() - t:.1f} s")

    server = Server("kring", [sys.executable, "app.py"], env, url, workdir / "server.log")
    try:
        import requests

        sessions = {
            "anon": requests.Session(),
            "central": sign_in(url, world["central"]),
            "professional": sign_in(url, world["professional"]),
        }
        rows = [
            row
            for row in pages(world)
            if row[1] == "anon" or not args.only or any(o in row[0] for o in args.only)
        ]
        results = measure(sessions, url, rows, args.warmup, args.repeat)
        errors = server.tracebacks()
        if errors:
            log_tail = server.logfile.read_text()[-3000:]
            raise SystemExit(f"the server logged {errors} errors:\n{log_tail}")
        return results
    finally:
        server.stop()


def report(results: list[dict], args) -> bool:
    bare = results[0]["median_ms"]
    print(
        f"\nPages, keep-alive on, {results[0]['n']} timed requests each "
        f"(load average before: {LOAD_BEFORE}){' [SMOKE: tiny circle]' if args.smoke else ''}"
    )
    print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'x bare':>7} {'KB':>8}")
    ok = True
    download = [r for r in results if r["page"] == DOWNLOAD]
    for r in results:
        if r["page"] == DOWNLOAD:
            continue
        ratio = r["median_ms"] / bare
        missed = ratio > MEDIAN_RATIO or r["p95_ms"] > P95_MS
        ok &= not missed
        print(
            f"{r['page']:34} {r['median_ms']:10.1f} {r['p95_ms']:8.1f} {ratio:6.1f}x "
            f"{r['bytes'] / 1024:8.1f}{'  MISSED' if missed else ''}"
        )
    print(
        f"Targets: median <= {MEDIAN_RATIO:.0f}x the bare page, p95 <= {P95_MS:.0f} ms: "
        + ("met" if ok else "MISSED")
        + (" (not enforced in smoke mode)" if args.smoke else "")
    )
    for r in download:
        messages = (SMOKE if args.smoke else FULL)["messages"]
        print(
            f"\nDownload, not a page (no target): {r['page']}, {messages:,} messages: "
            f"median {r['median_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
            f"{r['median_ms'] / bare:.0f}x bare, {r['bytes'] / 1024:.0f} KB; "
            f"{r['median_ms'] * 1000 / messages:.0f} us per message (whole median / messages)"
        )
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, help="timed requests per page (default 40; smoke 3)")
    p.add_argument("--warmup", type=int, help="untimed requests first (default 3; smoke 1)")
    p.add_argument("--only", nargs="*", help="only pages whose label contains one of these")
    p.add_argument(
        "--smoke", action="store_true", help="a tiny circle and a few requests: does it run?"
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--keep", action="store_true", help="keep the work directory (DB, log)")
    p.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.seed:
        seed(SMOKE if args.smoke else FULL)
        return 0
    args.repeat = args.repeat or (3 if args.smoke else 40)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 3)
    workdir = Path(tempfile.mkdtemp(prefix="kring-pages-"))
    started = time.monotonic()
    try:
        results = run(args, workdir)
        ok = report(results, args)
        print(f"(total {time.monotonic() - started:.0f} s)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0 if ok or not args.check or args.smoke else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
