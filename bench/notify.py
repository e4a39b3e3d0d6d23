"""Notification run benchmark: one ``send-notifications`` run at 500 and 5,000 people.

    .venv/bin/python bench/notify.py            # or: make bench-notify
    .venv/bin/python bench/notify.py --postgres postgresql+psycopg://postgres@127.0.0.1/x

For each size (100 circles and 1,000 circles of 5 people: 500 and 5,000 people) it
builds a fresh database with ``flask db upgrade`` and seeds one day of activity through
Kring's own services, so every news line is made the way the app makes it: chat
messages (``chat.send_message``, every fourth one mentions someone), a plan agreed with
commitments due today and tomorrow and a daily one (ticked in half of the circles),
a proposal waiting for consent, a call for help (half of the circles), a date poll
(half of the people answer) and a meeting fixed for the evening of the run. Everyone
has a confirmed address, a language and a time zone (mostly Europe/Amsterdam).

Then ONE ``portal.notifier.run(now)``, with ``now`` the next morning at 07:30 in
Amsterdam (the digests are due), no MAIL_SERVER and MAIL_OUTBOX_DIR in a temporary
directory (one ``.eml`` file per mail). Printed: wall time, SQL statements (an engine
``before_cursor_execute`` listener: each statement sent to the database, a many-row
INSERT once per page the driver sends), emails written, pushes (0: nobody has a
device), news lines made.

Baseline, in the same run: the floor for the same output without a database. *render
+ write*: the same number of mails rendered from the same templates, built as
``EmailMessage`` and written as ``.eml`` files; *write only*: the very bytes of the
run's ``.eml`` files written again.

Targets: statements at 5,000 people at most 1.2x those at 500; the run under 60 s at
5,000 people. ``--check`` exits 1 when one is missed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/common.py (bench/ is on sys.path)
from common import PASSWORD, ROOT, reset_postgres, upgrade_database

ZONES = ["Europe/Amsterdam"] * 7 + ["Europe/Brussels", "Europe/London", "America/New_York"]
LOCALES = ["nl", "nl", "en", "fr"]
LOAD_BEFORE = Path("/proc/loadavg").read_text().split()[0]


def log(msg: str) -> None:
    print(f"[notify] {msg}", file=sys.stderr, flush=True)


# --- seeding (a subprocess with the measured database's environment) ----------------------


def _the_morning():
    """07:30 in Amsterdam tomorrow: the moment of the measured run."""
    from datetime import timedelta

    from portal.models.types import utcnow
    from portal.services.reminders import at_local, local_day, zone

    ams = zone("Europe/Amsterdam")
    return at_local(local_day(utcnow(), ams) + timedelta(days=1), 7, ams) + timedelta(minutes=30)


def _people(c: int, members: int):
    """The circle's people, made with accounts.create_user (a confirmed address)."""
    from portal.extensions import db
    from portal.services import accounts

    users = []
    for m in range(members):
        n = c * members + m
        user = accounts.create_user(
            name=f"Person {c}.{m}",
            username=f"n{c}m{m}",
            password=PASSWORD,
            email=f"n{c}m{m}@example.org",
            locale=LOCALES[n % len(LOCALES)],
        )
        user.timezone = ZONES[n % len(ZONES)]
        users.append(user)
    db.session.flush()
    return users


def _circle(c: int, users):
    """A circle: the coordinator, one central person, the rest members."""
    from portal.models import Role
    from portal.services import circles as circle_svc

    circle, coord, _ = circle_svc.create_circle(
        title=f"Bench circle {c}", language="nl", coordinator=users[0]
    )
    ms = [coord]
    for i, user in enumerate(users[1:]):
        role = Role.CENTRAL if i == 0 else Role.MEMBER
        _inv, token = circle_svc.invite(circle, coord, name=user.name, role=role)
        ms.append(circle_svc.redeem_invitation(token, user))
    return circle, ms


def _plan(circle, ms, day):
    """An agreed plan: due on the morning's day, due the day after, and a daily turn."""
    from datetime import timedelta

    from portal.services import plan as plan_svc
    from portal.services.schedule import Schedule

    def add(what, who, schedule):
        plan_svc.change(
            circle,
            ms[0],
            "add_commitment",
            payload=plan_svc.CommitmentData(
                what=what, assignee_ids=[who.id], schedule=schedule
            ).to_payload(),
        )

    add("Bring the shopping", ms[2], Schedule(kind="once", start=day))
    add("Call the school", ms[3 % len(ms)], Schedule(kind="once", start=day + timedelta(days=1)))
    every_day = frozenset(range(7))
    add(
        "Walk the dog",
        ms[-1],
        Schedule(kind="weekly", start=day - timedelta(days=7), weekdays=every_day),
    )
    plan_svc.record_agreement(circle, ms[0], [m.id for m in ms[1:]])
    return sorted(plan_svc.commitments(circle), key=lambda x: x.id)


def _chat(c: int, ms, messages: int):
    from portal.access import ChatSeat
    from portal.services import chat

    for i in range(messages):
        author = ms[i % len(ms)]
        body = f"Message {i} of the day in circle {c}."
        if i % 4 == 3:
            other = ms[(i + 1) % len(ms)]
            body += f" What do you think, @{other.user.username}?"
        chat.send_message(ChatSeat.of(author), secrets.token_hex(8), body)


def _meetings(circle, ms, day, ams):
    """A poll (half the people answer it) and a meeting fixed for that evening."""
    from datetime import datetime, time, timedelta

    from portal.services import meetings as meetings_svc

    def at(d, hour):
        return datetime.combine(d, time(hour), ams).astimezone(meetings_svc.UTC)

    def propose(title, options, deadline=None):
        data = meetings_svc.MeetingData(
            title=title,
            purpose="",
            place="At home",
            video_link="",
            duration_minutes=60,
            options=options,
            deadline=deadline,
            invitee_ids=[m.id for m in ms],
        )
        return meetings_svc.propose_meeting(circle, ms[1], data)

    poll = propose(
        "Follow-up", [at(day + timedelta(days=3), 19), at(day + timedelta(days=4), 19)], at(day, 20)
    )
    for m in ms[2 : 2 + len(ms) // 2]:
        meetings_svc.set_answers(poll, m, {o.id: "yes" for o in poll.options})
    fixed = propose("This evening", [at(day, 19), at(day + timedelta(days=5), 19)])
    meetings_svc.fix_date(fixed, ms[1], min(fixed.options, key=lambda o: o.starts_at).id)


def seed(circles: int, members: int, messages: int) -> None:
    """One day of activity in ``circles`` circles of ``members`` people, through the
    services; print what was made as JSON."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from portal import create_app
    from portal.extensions import db
    from portal.models import Notification
    from portal.services import plan as plan_svc
    from portal.services.reminders import local_day, zone

    app = create_app()
    ams = zone("Europe/Amsterdam")
    with app.app_context(), app.test_request_context(base_url=app.config["BASE_URL"]):
        day = local_day(_the_morning(), ams)
        for c in range(circles):
            users = _people(c, members)
            circle, ms = _circle(c, users)
            commitments = _plan(circle, ms, day)
            if c % 2 == 0:  # the daily turn ticked for today; else it will be missed
                today = (day - timedelta(days=1)).isoformat()
                plan_svc.tick(circle, ms[-1], commitments[2], today)
            plan_svc.propose(
                circle, ms[2], "add_agreement", payload={"text": "We eat together on Sundays."}
            )
            if c % 2 == 1:
                plan_svc.request_help(circle, ms[3 % len(ms)], commitments[1])
            _chat(c, ms, messages)
            _meetings(circle, ms, day, ams)
            db.session.commit()
            if c % 100 == 99:
                log(f"  seeded {c + 1} circles")
        lines = db.session.scalar(select(func.count()).select_from(Notification))
    print(json.dumps({"circles": circles, "people": circles * members, "news_lines": lines}))


# --- the measured run (a fresh subprocess: nothing cached from the seeding) --------------


class Counter:
    def __init__(self):
        self.statements = 0
        self.by_verb: dict[str, int] = {}

    def __call__(self, _conn, _cursor, statement, *_args):
        self.statements += 1
        verb = statement.lstrip().split(None, 1)[0].upper()
        self.by_verb[verb] = self.by_verb.get(verb, 0) + 1


def measure() -> None:
    from sqlalchemy import event, func, select

    from portal import create_app, notifier
    from portal.extensions import db
    from portal.models import Notification, OutboxMail

    app = create_app()
    outbox = Path(app.config["MAIL_OUTBOX_DIR"])
    with app.app_context():
        now = _the_morning()
        before = db.session.scalar(select(func.count()).select_from(Notification))
        db.session.rollback()
        counter = Counter()
        event.listen(db.engine, "before_cursor_execute", counter)
        t0 = time.perf_counter()
        counts = notifier.run(now)
        wall = time.perf_counter() - t0
        event.remove(db.engine, "before_cursor_execute", counter)
        after = db.session.scalar(select(func.count()).select_from(Notification))
        waiting = db.session.scalar(
            select(func.count()).select_from(OutboxMail).where(OutboxMail.sent_at.is_(None))
        )
        db.session.rollback()
        files = sorted(outbox.glob("*.eml"))
        floor = baseline(app, files)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "statements": counter.statements,
                "by_verb": counter.by_verb,
                "counts": counts,
                "emails": len(files),
                "eml_bytes": sum(f.stat().st_size for f in files),
                "outbox_unsent": waiting,
                "news_before": before,
                "news_made": after - before,
                **floor,
            }
        )
    )


def baseline(app, files: list[Path]) -> dict:
    """The floor for the same output with no database: (a) render the email templates,
    build the message and write an .eml per mail; (b) write the same bytes only."""
    from flask import render_template

    from portal.mail import message

    n = len(files)
    render_dir = Path(tempfile.mkdtemp(prefix="kring-notify-floor-"))
    ctx = {
        "title": "There are 5 new messages and 1 question for you in Kring.",
        "sections": [],
        "button": "Open Kring",
        "link": app.config["BASE_URL"] + "/notifications",
        "lang": "en",
        "kind": "digest",
        "unsubscribe_url": app.config["BASE_URL"] + "/email/stop/" + "x" * 120,
        "settings_url": app.config["BASE_URL"] + "/account",
    }
    try:
        with app.test_request_context(base_url=app.config["BASE_URL"]):
            t0 = time.perf_counter()
            for i in range(n):
                text = render_template("email/notice.txt", **ctx)
                html = render_template("email/notice.html", **ctx)
                headers = {
                    "Content-Language": "en",
                    "List-Unsubscribe": f"<{ctx['unsubscribe_url']}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "Auto-Submitted": "auto-generated",
                }
                msg = message(f"p{i}@example.org", ctx["title"], text, html, headers)
                path = render_dir / f"{i:06d}.eml"
                with open(path, "xb") as f:
                    f.write(bytes(msg))
                path.chmod(0o600)
            render = time.perf_counter() - t0
        data = [f.read_bytes() for f in files]
        write_dir = Path(tempfile.mkdtemp(prefix="kring-notify-write-"))
        try:
            t0 = time.perf_counter()
            for i, body in enumerate(data):
                path = write_dir / f"{i:06d}.eml"
                with open(path, "xb") as f:
                    f.write(body)
                path.chmod(0o600)
            write = time.perf_counter() - t0
        finally:
            shutil.rmtree(write_dir, ignore_errors=True)
    finally:
        shutil.rmtree(render_dir, ignore_errors=True)
    return {"floor_render_s": render, "floor_write_s": write}


# --- orchestration --------------------------------------------------------------------------


def _child(env: dict, *argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"{argv[0]} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_size(args, circles: int, workdir: Path) -> dict:
    from portal.config import TEST_PASSWORD_HASH_VALUE, TEST_PASSWORD_HASH_VAR

    here = workdir / f"c{circles}"
    (here / "outbox").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REDIS_URL")}
    env.pop("MAIL_SERVER", None)
    env.update(
        DATABASE_URL=args.postgres or f"sqlite:///{here}/bench.sqlite3",
        SECRET_KEY=secrets.token_hex(32),
        BASE_URL="https://kring.example.org",
        MAIL_OUTBOX_DIR=str(here / "outbox"),
        VAPID_KEY_FILE=str(here / "vapid.pem"),
        PYTHONUNBUFFERED="1",
        # This tree's portal, not the one the shared virtualenv was installed from.
        PYTHONPATH=str(ROOT),
    )
    if args.postgres:
        reset_postgres(args.postgres)
    upgrade_database(env)
    t = time.monotonic()
    # Seeding only: cheap password hashes, and no fsync per circle on SQLite.
    seed_env = dict(
        env, SQLITE_SYNCHRONOUS="NORMAL", **{TEST_PASSWORD_HASH_VAR: TEST_PASSWORD_HASH_VALUE}
    )
    world = _child(
        seed_env,
        "--seed",
        "--circles",
        str(circles),
        "--members",
        str(args.members),
        "--messages",
        str(args.messages),
    )
    world["seed_s"] = time.monotonic() - t
    log(f"seeded {world['people']} people in {world['seed_s']:.0f} s")
    result = _child(env, "--measure")
    log(
        f"{world['people']} people: run {result['wall_s']:.1f} s, {result['statements']} statements"
    )
    return world | result


def report(small: dict, large: dict, args) -> bool:
    rows = [
        ("circles", lambda r: r["circles"], "{:,}"),
        ("people", lambda r: r["people"], "{:,}"),
        ("news lines before the run", lambda r: r["news_before"], "{:,}"),
        ("news lines made by the run", lambda r: r["news_made"], "{:,}"),
        ("emails written (.eml)", lambda r: r["emails"], "{:,}"),
        ("  direct calls queued", lambda r: r["counts"]["direct"], "{:,}"),
        ("  digests queued", lambda r: r["counts"]["digest"], "{:,}"),
        ("  reminders queued", lambda r: r["counts"]["reminders"], "{:,}"),
        ("  left unsent in outbox", lambda r: r["outbox_unsent"], "{:,}"),
        ("pushes", lambda r: r["counts"]["pushed"], "{:,}"),
        ("SQL statements", lambda r: r["statements"], "{:,}"),
        ("run wall time (s)", lambda r: r["wall_s"], "{:.2f}"),
        ("floor: render + write (s)", lambda r: r["floor_render_s"], "{:.2f}"),
        ("floor: write only (s)", lambda r: r["floor_write_s"], "{:.2f}"),
        ("run / render floor", lambda r: r["wall_s"] / r["floor_render_s"], "{:.1f}x"),
        ("ms per email", lambda r: 1000 * r["wall_s"] / max(r["emails"], 1), "{:.2f}"),
        ("MB of .eml", lambda r: r["eml_bytes"] / 1e6, "{:.1f}"),
    ]
    db_name = "PostgreSQL" if args.postgres else "SQLite"
    print()
    print(
        f"Notification run: {args.messages} chat messages per circle, {args.members} people "
        f"per circle; {os.cpu_count()} CPUs; Kring on {db_name}; load average before: "
        f"{LOAD_BEFORE}"
    )
    print(f"{'':30}{'small':>12}{'large':>12}{'large/small':>13}")
    for name, get, fmt in rows:
        a, b = get(small), get(large)
        ratio = f"{b / a:.2f}x" if isinstance(a, int | float) and a else ""
        print(f"{name:30}{fmt.format(a):>12}{fmt.format(b):>12}{ratio:>13}")
    print(f"\nstatements by kind (large): {large['by_verb']}")
    ratio = large["statements"] / small["statements"]
    checks = [
        (f"statements large/small {ratio:.2f}x <= 1.2x", ratio <= 1.2),
        (f"run at {large['people']:,} people {large['wall_s']:.1f} s < 60 s", large["wall_s"] < 60),
        ("every queued email written", large["outbox_unsent"] == 0 and small["outbox_unsent"] == 0),
    ]
    print()
    for name, ok in checks:
        print(f"  {'MET   ' if ok else 'MISSED'} {name}")
    return all(ok for _n, ok in checks)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", type=int, default=100, help="circles in the small world")
    p.add_argument("--large", type=int, default=1000, help="circles in the large world")
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--messages", type=int, default=20, help="chat messages per circle")
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="use this PostgreSQL database instead of fresh SQLite files; "
        "ITS PUBLIC SCHEMA IS DROPPED first (once per size)",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes (3 and 6 circles): does it run? (no target enforced)",
    )
    p.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--circles", type=int, help=argparse.SUPPRESS)
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.smoke:  # .ci/run (make bench-smoke)
        args.small, args.large, args.messages = 3, 6, 4
    if args.seed:
        seed(args.circles, args.members, args.messages)
        return 0
    if args.measure:
        measure()
        return 0
    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="kring-notify-"))
    started = time.monotonic()
    try:
        small = run_size(args, args.small, workdir)
        large = run_size(args, args.large, workdir)
        ok = report(small, large, args)
        if args.smoke:
            # No target in smoke mode, but the run must have written mail.
            if not (small["emails"] and large["emails"]):
                raise SystemExit("smoke: a notification run wrote no mail")
            ok = True
            print("(smoke mode: tiny sizes, no target enforced)")
        print(
            f"\n(total {time.monotonic() - started:.0f} s; work dir {workdir}"
            f"{'' if args.keep else ', removed'})"
        )
        if args.json:
            args.json.write_text(json.dumps({"small": small, "large": large}, indent=2))
        return 0 if ok or not args.check else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
