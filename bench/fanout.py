"""Chat fan-out benchmark: Kring's server against a bare Flask-SocketIO baseline.

    .venv/bin/python bench/fanout.py            # or: make bench
    .venv/bin/python bench/fanout.py --duration 10 --rate 100 --json out.json

One run measures two servers, one after the other, under the same load from
bench/loadgen.js (the official socket.io-client on Node):

* **kring**: ``python app.py`` over a fresh SQLite database, seeded through Kring's
  own services with 200 circles of 5 people (1,000 accounts). Every person signs in
  over HTTP (``POST /login``) and opens a socket with their cookie and CSRF token, as
  a browser does. Each send is authorised, stored and committed before it fans out.
* **baseline**: bench/baseline_server.py, the same stack (Flask-SocketIO, gevent)
  doing nothing but ``emit(to=room)``.

Load: 1,000 WebSockets, each in its circle's room; 200 ``chat:send`` a second for
20 s, spread over the circles. Each body carries the send time; each of the 5
receivers in the circle (the sender included) records the delivery latency.

Reported per server: delivery latency p50/p95/p99/max, the server's CPU seconds
(utime+stime from /proc/<pid>/stat over the send and drain window) per delivered
message, and lost, duplicated and misdelivered messages. Targets: Kring's p99 and
CPU per delivery at most 2x the baseline's, nothing lost or duplicated. ``--check``
makes the exit status say whether the targets were met. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/common.py (bench/ is on sys.path)
from common import (
    PASSWORD,
    ROOT,
    Loadgen,
    Server,
    cpu_split,
    free_port,
    kring_env,
    rss_mib,
    seed_kring,
    sign_in_all,
    start_baseline,
)

LOAD_BEFORE = Path("/proc/loadavg").read_text().split()[0]


def log(msg: str) -> None:
    print(f"[fanout] {msg}", file=sys.stderr, flush=True)


# --- seeding (runs in a subprocess with the bench server's environment) -------------


def seed(circles: int, members: int) -> None:
    """Create the circles and accounts with Kring's services; print them as JSON."""
    from portal import create_app
    from portal.extensions import db
    from portal.models import Role
    from portal.services import accounts
    from portal.services import circles as circle_svc

    app = create_app()
    # Cheap password hashes for the 1,000 bench accounts (argon2id still; the login
    # check reads the parameters from the stored hash). Seeding only: the running
    # server keeps its default parameters for anything it hashes itself.
    app.config["PASSWORD_HASH_PARAMS"] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    out = []
    with app.app_context():
        for c in range(circles):
            users = [
                accounts.create_user(
                    name=f"Person {c}.{m}", username=f"b{c}m{m}", password=PASSWORD
                )
                for m in range(members)
            ]
            circle, coordinator, _ = circle_svc.create_circle(
                title=f"Bench circle {c}", language="en", coordinator=users[0]
            )
            for user in users[1:]:
                _inv, token = circle_svc.invite(
                    circle, coordinator, name=user.name, role=Role.MEMBER
                )
                circle_svc.redeem_invitation(token, user)
            db.session.commit()
            out.append({"circle": circle.id, "users": [u.username for u in users]})
    print(json.dumps(out))


# --- load ----------------------------------------------------------------------------


def py_spy() -> str:
    """py-spy beside this Python (pip install py-spy), else the one on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy") or str(here)


def run_load(server: Server, clients: list[dict], args, workdir: Path, profile: bool) -> dict:
    """Run bench/loadgen.js against ``server``; return its result plus server CPU."""
    cfg = {
        "label": server.label,
        "url": server.url,
        "origin": server.url,
        "clients": clients,
        "rate": args.rate,
        "duration": args.duration,
        "drain": args.drain,
        "body_size": args.body_size,
    }
    gen = Loadgen(cfg, workdir / f"loadgen-{server.label}.json")
    gen.expect("READY")  # a loadgen that failed raises RuntimeError here or in go()
    spies = []
    if profile:
        # Two views of the send phase: every sample of the busy thread (including time
        # blocked in SQLite's fsync, which stalls gevent's whole loop), and only samples
        # holding the GIL (CPU spent in Python).
        for view, extra in (("all", []), ("gil", ["--gil"])):
            out = workdir / f"profile-{server.label}-{view}.txt"
            spies.append(
                (
                    out,
                    subprocess.Popen(
                        [
                            py_spy(),
                            "record",
                            "--pid",
                            str(server.proc.pid),
                            "--format",
                            "raw",
                            "--rate",
                            "200",
                            "--duration",
                            str(int(args.duration)),
                            "--output",
                            str(out),
                            "--nonblocking",
                            *extra,
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    ),
                )
            )
        time.sleep(1)
    (user0, sys0), wall0 = cpu_split(server.proc.pid), time.monotonic()
    result = gen.go()
    (user1, sys1), wall1 = cpu_split(server.proc.pid), time.monotonic()
    cpu0, cpu1 = user0 + sys0, user1 + sys1
    result["server_sys_share"] = (sys1 - sys0) / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0
    result["server_rss_mib"] = rss_mib(server.proc.pid)
    gen.bye()
    for out, spy in spies:
        spy.wait(timeout=60)
        result.setdefault("profiles", []).append(str(out))
    result["server_cpu_s"] = cpu1 - cpu0
    result["window_s"] = wall1 - wall0
    result["server_cpu_util"] = (cpu1 - cpu0) / (wall1 - wall0)
    result["cpu_ms_per_delivery"] = (
        1000 * result["server_cpu_s"] / result["deliveries"] if result["deliveries"] else None
    )
    return result


# --- Kring: seed, sign in, measure ---------------------------------------------------


def run_kring(args, workdir: Path, profile: bool) -> dict:
    env = kring_env(
        args.postgres or f"sqlite:///{workdir}/bench.sqlite3",
        free_port(),
        # 1,000 people sign in from one address in a few seconds.
        LOGIN_RATE_LIMIT="100000 per minute",
        TOKEN_RATE_LIMIT="100000 per minute",
    )
    url = env["BASE_URL"]
    t = time.monotonic()
    world = seed_kring(env, args.circles, args.members)
    took = time.monotonic() - t
    log(f"kring: seeded {len(world)} circles x {args.members} people in {took:.1f} s")

    if args.sqlite_synchronous:
        env["SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
    server = Server("kring", [sys.executable, "app.py"], env, url, workdir / "kring.log")
    try:
        t = time.monotonic()
        clients = sign_in_all(url, world)
        log(f"kring: {len(clients)} people signed in over HTTP in {time.monotonic() - t:.1f} s")
        result = run_load(server, clients, args, workdir, profile)
        result["server_log_errors"] = server.tracebacks()
        return result
    finally:
        server.stop()


def run_baseline(args, workdir: Path, profile: bool) -> dict:
    server = start_baseline(workdir)
    try:
        clients = [{"circle": c + 1} for c in range(args.circles) for _m in range(args.members)]
        result = run_load(server, clients, args, workdir, profile)
        result["server_log_errors"] = server.tracebacks()
        return result
    finally:
        server.stop()


# --- report --------------------------------------------------------------------------


def report(base: dict | None, kring: dict | None, args) -> bool:
    rows = [
        ("sockets", lambda r: r["sockets"], "{:d}"),
        ("messages sent", lambda r: r["messages"], "{:d}"),
        ("send phase (s)", lambda r: r["send_seconds"], "{:.1f}"),
        ("acks ok", lambda r: r["acked_ok"], "{:d}"),
        ("deliveries", lambda r: r["deliveries"], "{:d}"),
        ("delivery p50 (ms)", lambda r: r["latency_ms"]["p50"], "{:.1f}"),
        ("delivery p95 (ms)", lambda r: r["latency_ms"]["p95"], "{:.1f}"),
        ("delivery p99 (ms)", lambda r: r["latency_ms"]["p99"], "{:.1f}"),
        ("delivery max (ms)", lambda r: r["latency_ms"]["max"], "{:.1f}"),
        ("ack p50 (ms)", lambda r: r["ack_ms"]["p50"], "{:.1f}"),
        ("ack p99 (ms)", lambda r: r["ack_ms"]["p99"], "{:.1f}"),
        ("server CPU (s)", lambda r: r["server_cpu_s"], "{:.2f}"),
        ("server CPU use (%)", lambda r: 100 * r["server_cpu_util"], "{:.0f}"),
        ("  of it in the kernel (%)", lambda r: 100 * r["server_sys_share"], "{:.0f}"),
        ("CPU per delivery (ms)", lambda r: r["cpu_ms_per_delivery"], "{:.3f}"),
        ("server RSS (MiB)", lambda r: r["server_rss_mib"], "{:.0f}"),
        ("no ack after drain", lambda r: r["no_ack_after_drain"], "{:d}"),
        ("undelivered", lambda r: r["undelivered"], "{:d}"),
        ("lost (acked, unheard)", lambda r: r["lost"], "{:d}"),
        ("duplicated", lambda r: r["duplicates"], "{:d}"),
        ("misdelivered", lambda r: r["misdelivered"], "{:d}"),
        ("send errors", lambda r: sum(r["ack_errors"].values()), "{:d}"),
        ("disconnects", lambda r: r["unexpected_disconnects"], "{:d}"),
        ("server tracebacks", lambda r: r["server_log_errors"], "{:d}"),
    ]

    def cell(r, get, fmt):
        if r is None:
            return "-"
        v = get(r)
        return "-" if v is None else fmt.format(v)

    print()
    db_name = "PostgreSQL" if args.postgres else "SQLite"
    if args.sqlite_synchronous and not args.postgres:
        db_name += f" synchronous={args.sqlite_synchronous}"
    print(
        f"Fan-out: {args.circles} circles x {args.members} sockets, {args.rate:g} msg/s "
        f"for {args.duration:g} s, {args.body_size}-char bodies; {os.cpu_count()} CPUs; "
        f"Kring on {db_name}; load average before: {LOAD_BEFORE}"
    )
    print(f"{'':24}{'baseline':>12}{'kring':>12}{'kring/base':>12}")
    for name, get, fmt in rows:
        ratio = ""
        if base and kring and name.startswith(("delivery", "ack p", "CPU per", "server CPU (s)")):
            b, k = get(base), get(kring)
            ratio = f"{k / b:.2f}x" if b else ""
        print(f"{name:24}{cell(base, get, fmt):>12}{cell(kring, get, fmt):>12}{ratio:>12}")
    if not (base and kring):
        return True
    checks = [
        ("p99 latency <= 2x baseline", kring["latency_ms"]["p99"] <= 2 * base["latency_ms"]["p99"]),
        (
            "CPU per delivery <= 2x baseline",
            kring["cpu_ms_per_delivery"] <= 2 * base["cpu_ms_per_delivery"],
        ),
        ("0 lost (every stored message reached all 5 members)", kring["lost"] == 0),
        ("0 duplicated", kring["duplicates"] == 0 and kring["misdelivered"] == 0),
        (
            "every send acknowledged ok within the drain time",
            kring["acked_ok"] == kring["messages"],
        ),
    ]
    print()
    for name, ok in checks:
        print(f"  {'MET   ' if ok else 'MISSED'} {name}")
    for r in (base, kring):
        for path in r.get("profiles", []):
            print(f"  py-spy profile ({r['label']}): {path}")
    return all(ok for _n, ok in checks)


def smoke_verdict(base: dict | None, kring: dict | None) -> bool:
    """Smoke mode enforces no target, but the servers must have delivered messages."""
    heard = [r["deliveries"] for r in (base, kring) if r is not None]
    if not all(heard):
        raise SystemExit("smoke: a server delivered no message")
    print("(smoke mode: tiny sizes, no target enforced)")
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--circles", type=int, default=200)
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--rate", type=float, default=200, help="messages per second, all circles")
    p.add_argument("--duration", type=float, default=20, help="seconds of sending")
    p.add_argument("--drain", type=float, default=5, help="max seconds to wait for stragglers")
    p.add_argument("--body-size", type=int, default=120)
    p.add_argument("--only", choices=["kring", "baseline"])
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy both servers during the send phase (raw stacks kept in the work dir)",
    )
    p.add_argument(
        "--sqlite-synchronous",
        choices=["NORMAL", "FULL", "EXTRA"],
        help="run Kring with SQLITE_SYNCHRONOUS set to this",
    )
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="run Kring on this PostgreSQL database instead of a fresh SQLite file; "
        "ITS PUBLIC SCHEMA IS DROPPED first",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, DB)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, a few seconds of load: does it run? (no target enforced)",
    )
    p.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.seed:
        seed(args.circles, args.members)
        return 0
    if args.smoke:  # .ci/run (make bench-smoke): 4 circles x 3 people, 2 s of sending
        args.circles, args.members, args.rate, args.duration, args.drain = 4, 3, 8, 2, 3
    if shutil.which("node") is None:
        raise SystemExit("node is needed for bench/loadgen.js")
    if not (ROOT / "node_modules" / "socket.io-client").exists():
        raise SystemExit("run `npm ci` first (socket.io-client)")

    workdir = Path(tempfile.mkdtemp(prefix="kring-bench-"))
    started = time.monotonic()
    try:
        base = kring = None
        if args.only in (None, "baseline"):
            base = run_baseline(args, workdir, args.profile)
            log(f"baseline done: p99 {base['latency_ms']['p99']:.1f} ms")
        if args.only in (None, "kring"):
            kring = run_kring(args, workdir, args.profile)
            log(f"kring done: p99 {kring['latency_ms']['p99']:.1f} ms")
        ok = report(base, kring, args)
        ok = smoke_verdict(base, kring) if args.smoke else ok
        kept = args.keep or args.profile
        print(
            f"\n(total {time.monotonic() - started:.0f} s; work dir {workdir}"
            f"{'' if kept else ', removed'})"
        )
        if args.json:
            args.json.write_text(json.dumps({"baseline": base, "kring": kring}, indent=2))
        return 0 if ok or not args.check else 1
    finally:
        if not args.keep and not args.profile:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
