"""Capacity knee and memory per socket: how many active circles one setup carries.

    .venv/bin/python bench/knee.py --smoke                  # seconds: does it run?
    .venv/bin/python bench/knee.py --postgres URL            # all four setups

The knee, as Mattermost measures it: ramp the load in steps until the delivery p99
passes ``--p99-limit`` (500 ms) or errors pass ``--error-limit`` (1 %); the knee is
the last step that passed. Each step is ``k`` active circles of 5 people, each person
a socket of the official socket.io-client (bench/loadgen.js), each circle sending
``--circle-rate`` messages a second (round-robin over its members), every member
hearing every message. Errors: sends not acknowledged ``ok`` and deliveries missing
when the step's drain ended, over the deliveries expected.

Setups (``--setups``): ``baseline`` (bench/baseline_server.py, one process), ``sqlite``
(Kring, one process), and with ``--postgres``: ``pg1`` (Kring on PostgreSQL + Redis,
one process) and ``pg2`` (two processes on the same database and Redis queue, no
proxy: the clients are split across the two ports). Redis is a private
``redis-server`` started on a free port (the machine's Redis is shared).

Memory: before the ramp, every socket of the largest step connects and joins and
idles: (server RSS with them - RSS before) / sockets. Then ``--steady`` seconds of
load at half the knee: RSS growth from the first sample after a tenth of the time
to the end (full mode 600 s; smoke: a few seconds).

Also reported: the load generator's own CPU (node, utime+stime / wall) at each step,
since it shares the two cores with the server. See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

# bench/common.py (bench/ is on sys.path)
from common import (
    CLK_TCK,
    ROOT,
    Loadgen,
    Server,
    cpu_seconds,
    free_port,
    kring_env,
    rss_mib,
    seed_kring,
    sign_in_all,
    start_baseline,
    start_redis,
)

_RUNS = itertools.count()
LOAD_BEFORE = Path("/proc/loadavg").read_text().split()[0]


def log(msg: str) -> None:
    print(f"[knee] {msg}", file=sys.stderr, flush=True)


class Setup:
    """One or two servers, the people signed in, and their sockets' client entries."""

    def __init__(self, label: str, servers: list[Server], clients: list[dict]):
        self.label, self.servers, self.clients = label, servers, clients

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers]

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids())

    def rss(self) -> float:
        return sum(rss_mib(p) for p in self.pids())

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")  # cgroup v1's cpu controller, as on this machine


def limit_cpu(setup: Setup, fraction: float) -> list[Path]:
    """Put each server process in a cgroup of its own allowed ``fraction`` of one core
    (CFS quota). On a machine whose cores are shared with the load generator,
    PostgreSQL and Redis, this gives every process the same budget, so the setups'
    knees are their own and not the machine's (``--cpu-quota``)."""
    groups = []
    for pid in setup.pids():
        group = CGROUP_CPU / f"kring-knee-{pid}"
        group.mkdir()
        period = int((group / "cpu.cfs_period_us").read_text())
        (group / "cpu.cfs_quota_us").write_text(str(int(period * fraction)))
        (group / "cgroup.procs").write_text(str(pid))
        groups.append(group)
    return groups


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat's first line:
    everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


def services_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL and Redis process now (pid -> seconds): the
    database and queue work a step causes. Backends that start or end within a step
    count from their first sighting."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            comm = (d / "comm").read_text().strip()
            if comm.startswith(("postgres", "redis-server")):
                out[int(d.name)] = cpu_seconds(int(d.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def clients_for(setup: Setup, circles: int, members: int) -> list[dict]:
    return setup.clients[: circles * members]


def run_step(setup: Setup, circles: int, args, workdir: Path, *, rate: float, duration: float,
             sample=None) -> dict:  # fmt: skip
    """One loadgen run: ``circles`` circles, ``rate`` messages/s in all, ``duration`` s."""
    clients = clients_for(setup, circles, args.members)
    first = setup.servers[0].url
    cfg = {
        # Unique per run: Kring stores a client id once (a repeat is not delivered again).
        "label": f"{setup.label}-{circles}-{next(_RUNS)}",
        "url": first,
        "origin": first,
        "clients": clients,
        "rate": rate,
        "duration": duration,
        "drain": args.drain,
        "body_size": 120,
    }
    rss_idle = setup.rss()
    gen = Loadgen(cfg, workdir / f"knee-{cfg['label']}.json", quiet=True)
    try:
        gen.expect("READY")
    except RuntimeError as e:
        gen.proc.kill()
        return {"circles": circles, "failed": str(e)}
    rss_connected = setup.rss()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sampler():
        t0 = time.monotonic()
        while not stop.wait(sample or 1e9):
            samples.append((time.monotonic() - t0, setup.rss()))

    thread = threading.Thread(target=sampler, daemon=True)
    if sample:
        thread.start()
    svc0, busy0 = services_cpu(), machine_busy_seconds()
    cpu0, gen0, wall0 = setup.cpu(), cpu_seconds(gen.proc.pid), time.monotonic()
    result = gen.go()
    cpu1, gen1, wall1 = setup.cpu(), cpu_seconds(gen.proc.pid), time.monotonic()
    svc1, busy1 = services_cpu(), machine_busy_seconds()
    stop.set()
    gen.bye()
    wall = wall1 - wall0
    errors = (result["messages"] - result["acked_ok"]) + result["undelivered"]
    return {
        "circles": circles,
        "sockets": result["sockets"],
        "rate": rate,
        "messages": result["messages"],
        "delivered_per_s": result["deliveries"] / wall,
        "messages_per_s": result["acked_ok"] / result["send_seconds"],
        "p50_ms": result["latency_ms"]["p50"],
        "p99_ms": result["latency_ms"]["p99"],
        "error_share": errors / max(1, result["expected_deliveries"]),
        "lost": result["lost"],
        "ack_errors": result["ack_errors"],
        "no_ack": result["no_ack_after_drain"],
        "undelivered": result["undelivered"],
        "duplicates": result["duplicates"],
        "server_cpu_util": (cpu1 - cpu0) / wall,
        "loadgen_cpu_util": (gen1 - gen0) / wall,
        # PostgreSQL backends and Redis (the machine's and the bench's own), and the whole
        # machine (all cores; 2.0 = both of two cores busy). What is left over is this
        # script, the kernel and anything else running on the machine.
        "services_cpu_util": sum(t - svc0.get(pid, 0.0) for pid, t in svc1.items()) / wall,
        "machine_cpu_util": (busy1 - busy0) / wall,
        "rss_idle_mib": rss_idle,
        "rss_connected_mib": rss_connected,
        "rss_end_mib": setup.rss(),
        "rss_samples": samples,
    }


def ramp(setup: Setup, args, workdir: Path) -> dict:
    steps = []
    knee = None
    for circles in args.steps:
        if circles * args.members > len(setup.clients):
            break
        for attempt in range(1 + args.retries):
            step = run_step(
                setup, circles, args, workdir, rate=circles * args.circle_rate,
                duration=args.step_seconds,
            )  # fmt: skip
            steps.append(step)
            if "failed" in step:
                log(f"{setup.label}: {circles} circles: {step['failed']}")
                return {"steps": steps, "knee": knee}
            ok = step["p99_ms"] is not None and step["p99_ms"] <= args.p99_limit
            ok = ok and step["error_share"] <= args.error_limit
            log(
                f"{setup.label}: {circles} circles, {step['messages_per_s']:.0f} msg/s: "
                f"p99 {step['p99_ms'] or 0:.0f} ms, errors {100 * step['error_share']:.2f} %, "
                f"server CPU {100 * step['server_cpu_util']:.0f} %, "
                f"loadgen CPU {100 * step['loadgen_cpu_util']:.0f} %, "
                f"PostgreSQL+Redis {100 * step['services_cpu_util']:.0f} %, "
                f"machine {100 * step['machine_cpu_util']:.0f} % of {100 * os.cpu_count()} % "
                + ("ok" if ok else f"over (attempt {attempt + 1}; ack errors "
                   f"{step['ack_errors']}, no ack {step['no_ack']}, undelivered "
                   f"{step['undelivered']})")
            )  # fmt: skip
            if ok:
                break
        if not ok:
            break
        knee = step
    return {"steps": steps, "knee": knee}


def idle_memory(setup: Setup, args, workdir: Path) -> dict:
    """On the fresh server: RSS with N idle sockets connected and joined, minus before."""
    n = min(len(setup.clients) // args.members, args.memory_circles)
    idle = run_step(setup, n, args, workdir, rate=1, duration=1)
    return {
        "idle_sockets": idle["sockets"],
        "rss_before_mib": idle["rss_idle_mib"],
        "rss_with_sockets_mib": idle["rss_connected_mib"],
        "kib_per_idle_socket": 1024
        * (idle["rss_connected_mib"] - idle["rss_idle_mib"])
        / idle["sockets"],
    }


def steady_memory(setup: Setup, args, workdir: Path, knee: dict | None) -> dict:
    """RSS growth under a steady load at half the knee, after a tenth of the time."""
    circles = max(1, (knee["circles"] if knee else args.steps[0]) // 2)
    steady = run_step(
        setup, circles, args, workdir, rate=circles * args.circle_rate, duration=args.steady,
        sample=max(1.0, args.steady / 60),
    )  # fmt: skip
    samples = steady["rss_samples"]
    after_warmup = [rss for t, rss in samples if t >= args.steady / 10] or [steady["rss_end_mib"]]
    return {
        "steady_circles": circles,
        "steady_seconds": args.steady,
        "steady_rss_first_mib": after_warmup[0],
        "steady_rss_last_mib": after_warmup[-1],
        "steady_growth": (after_warmup[-1] - after_warmup[0]) / after_warmup[0],
        "steady_p99_ms": steady["p99_ms"],
        "steady_errors": steady["error_share"],
    }


# --- setups -----------------------------------------------------------------------------


class Kring:
    """A seeded Kring database whose people are signed in; servers come and go."""

    def __init__(self, database_url: str, args, workdir: Path, redis: str | None):
        self.database_url, self.args, self.workdir, self.redis = database_url, args, workdir, redis
        self.secret = secrets.token_hex(32)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        t = time.monotonic()
        self.world = seed_kring(self.env(self.port), args.kring_max_circles, args.members)
        log(f"seeded {len(self.world)} circles in {time.monotonic() - t:.0f} s")
        self.creds = None

    def env(self, port: int) -> dict:
        """One site: every process has the same secret key and the first one's BASE_URL
        (one allowed origin), and the same Redis."""
        return kring_env(
            self.database_url,
            port,
            SECRET_KEY=self.secret,
            BASE_URL=self.url,
            LOGIN_RATE_LIMIT="1000000 per minute",
            TOKEN_RATE_LIMIT="1000000 per minute",
            # Capacity, not the per-person send limit (30 a minute), is what is measured.
            CHAT_SEND_RATE_LIMIT="1000000 per minute",
            **({"REDIS_URL": self.redis} if self.redis else {}),
        )

    def start(self, label: str, processes: int) -> Setup:
        servers = []
        for i in range(processes):
            port = self.port if i == 0 else free_port()
            servers.append(
                Server(label, [sys.executable, "app.py"], self.env(port),
                       f"http://127.0.0.1:{port}", self.workdir / f"{label}-{i}.log")
            )  # fmt: skip
        if self.creds is None:
            t = time.monotonic()
            self.creds = sign_in_all(self.url, self.world)
            log(f"{len(self.creds)} people signed in in {time.monotonic() - t:.0f} s")
        # Whole circles go to one process or the other, alternately: a message then
        # crosses Redis to reach the other process's sockets only through the queue
        # (every send is published there anyway); clients split evenly across ports.
        clients = []
        for i, c in enumerate(self.creds):
            server = servers[(i // self.args.members) % processes]
            clients.append(dict(c, url=server.url))
        return Setup(label, servers, clients)


def run_setup(name: str, args, workdir: Path, kring_pg: Kring | None) -> dict:
    log(f"--- {name}")
    if name == "baseline":
        server = start_baseline(workdir)
        clients = [{"circle": c + 1} for c in range(args.max_circles) for _ in range(args.members)]
        setup = Setup("baseline", [server], clients)
    elif name == "sqlite":
        kring = Kring(f"sqlite:///{workdir}/knee.sqlite3", args, workdir, None)
        setup = kring.start("sqlite", 1)
    else:
        setup = kring_pg.start(name, 1 if name == "pg1" else 2)
    groups = limit_cpu(setup, args.cpu_quota) if args.cpu_quota else []
    try:
        mem = {} if args.no_memory else idle_memory(setup, args, workdir)
        out = ramp(setup, args, workdir)
        if not args.no_memory:
            out["memory"] = m = mem | steady_memory(setup, args, workdir, out["knee"])
            log(
                f"{name}: {m['kib_per_idle_socket']:.0f} KiB per idle socket; "
                f"steady {m['steady_seconds']:.0f} s: RSS {m['steady_rss_first_mib']:.0f} -> "
                f"{m['steady_rss_last_mib']:.0f} MiB ({100 * m['steady_growth']:+.1f} %)"
            )
        out["tracebacks"] = sum(s.tracebacks() for s in setup.servers)
        return out
    finally:
        setup.stop()
        for group in groups:
            group.rmdir()


def report(results: dict, args) -> bool:
    print()
    print(
        f"Knee: circles of {args.members}, {args.circle_rate:g} msg/s per circle, steps of "
        f"{args.step_seconds:g} s; limits p99 {args.p99_limit:g} ms, errors "
        f"{100 * args.error_limit:g} %; {os.cpu_count()} CPUs; load average before: {LOAD_BEFORE}"
        + (
            f"; each server process limited to {args.cpu_quota:g} of a core"
            if args.cpu_quota
            else ""
        )
    )
    print(f"{'setup':10}{'knee circles':>14}{'msg/s':>8}{'p99 ms':>8}{'srv CPU':>9}"
          f"{'gen CPU':>9}{'PG+Redis':>10}{'machine':>9}{'KiB/sock':>10}{'growth':>8}")  # fmt: skip
    for name, r in results.items():
        k, m = r["knee"], r.get("memory") or {}
        print(
            f"{name:10}{(k['circles'] if k else 0):>14}{(k['messages_per_s'] if k else 0):>8.0f}"
            f"{(k['p99_ms'] if k else 0):>8.0f}{100 * (k['server_cpu_util'] if k else 0):>8.0f}%"
            f"{100 * (k['loadgen_cpu_util'] if k else 0):>8.0f}%"
            f"{100 * (k.get('services_cpu_util', 0) if k else 0):>9.0f}%"
            f"{100 * (k.get('machine_cpu_util', 0) if k else 0):>8.0f}%"
            f"{m.get('kib_per_idle_socket', 0):>10.0f}{100 * m.get('steady_growth', 0):>7.1f}%"
        )
    checks = targets(results)
    print()
    for name, ok, ratio in checks:
        print(f"  {'MET   ' if ok else 'MISSED'} {name} ({ratio:.2f}x)")
    return all(ok for _n, ok, _r in checks)


def targets(results: dict) -> list[tuple[str, bool, float]]:
    checks = []

    def knee_of(name):
        r = results.get(name)
        return r["knee"]["messages_per_s"] if r and r["knee"] else None

    base, sqlite, pg1, pg2 = (knee_of(n) for n in ("baseline", "sqlite", "pg1", "pg2"))
    if base and sqlite:
        checks.append(("Kring SQLite knee >= 0.7x baseline", sqlite >= 0.7 * base, sqlite / base))
    if base and pg1:
        checks.append(("Kring PostgreSQL knee >= 0.7x baseline", pg1 >= 0.7 * base, pg1 / base))
    if pg1 and pg2:
        checks.append(("two processes >= 1.3x one", pg2 >= 1.3 * pg1, pg2 / pg1))
    mem = {n: r["memory"]["kib_per_idle_socket"] for n, r in results.items() if r.get("memory")}
    for n in ("sqlite", "pg1"):
        if n in mem and "baseline" in mem and mem["baseline"] > 0:
            ratio = mem[n] / mem["baseline"]
            checks.append((f"{n}: memory per idle socket <= 2x baseline", ratio <= 2, ratio))
    for n, r in results.items():
        if r.get("memory"):
            g = r["memory"]["steady_growth"]
            checks.append((f"{n}: RSS growth under steady load <= 10 %", g <= 0.10, 1 + g))
    return checks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setups", default=None, help="comma list: baseline,sqlite,pg1,pg2")
    p.add_argument("--postgres", metavar="URL", help="for pg1/pg2: ITS PUBLIC SCHEMA IS DROPPED")
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--circle-rate", type=float, default=2, help="messages/s per circle")
    p.add_argument("--steps", default="25,50,75,100,150,200,250,300,400,500,600,800")
    p.add_argument("--max-circles", type=int, default=None, help="seeded (default: last step)")
    p.add_argument(
        "--kring-max-circles", type=int, default=None, help="seeded for Kring (default: max)"
    )
    p.add_argument("--step-seconds", type=float, default=15)
    p.add_argument("--drain", type=float, default=3)
    p.add_argument(
        "--retries", type=int, default=1, help="a step over a limit is run again this often "
        "before it counts (a shared machine's pauses)"
    )  # fmt: skip
    p.add_argument("--p99-limit", type=float, default=500)
    p.add_argument("--error-limit", type=float, default=0.01)
    p.add_argument("--memory-circles", type=int, default=400, help="idle sockets / members")
    p.add_argument("--steady", type=float, default=600, help="seconds of steady load")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument(
        "--cpu-quota", type=float, default=None, metavar="CORES",
        help="each server process gets at most this share of one core (a cgroup of its "
        "own; needs root and cgroup v1's cpu controller)",
    )  # fmt: skip
    p.add_argument("--smoke", action="store_true", help="tiny steps, a few seconds each")
    p.add_argument("--json", type=Path)
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args()
    if args.smoke:
        args.steps, args.step_seconds, args.drain, args.steady = "2,4", 2, 2, 4
        args.retries = 0
        args.memory_circles = 4
    args.steps = [int(s) for s in args.steps.split(",")]
    args.max_circles = args.max_circles or args.steps[-1]
    args.kring_max_circles = min(args.kring_max_circles or args.max_circles, args.max_circles)
    setups = args.setups or ("baseline,sqlite,pg1,pg2" if args.postgres else "baseline,sqlite")
    setups = setups.split(",")
    if any(s.startswith("pg") for s in setups) and not args.postgres:
        raise SystemExit("pg1/pg2 need --postgres URL")
    if shutil.which("node") is None or not (ROOT / "node_modules" / "socket.io-client").exists():
        raise SystemExit("needs node and node_modules/socket.io-client (make setup)")

    workdir = Path(tempfile.mkdtemp(prefix="kring-knee-"))
    redis = None
    results = {}
    try:
        kring_pg = None
        if any(s.startswith("pg") for s in setups):
            redis, redis_url = start_redis(workdir)
            kring_pg = Kring(args.postgres, args, workdir, redis_url)
        for name in setups:
            results[name] = run_setup(name, args, workdir, kring_pg)
        ok = report(results, args)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0 if ok or not args.check else 1
    finally:
        if redis:
            redis.terminate()
            redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
