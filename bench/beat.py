"""Cost of one sequence beat (portal/realtime/beat.py) for a busy process.

    .venv/bin/python bench/beat.py                       # SQLite file
    .venv/bin/python bench/beat.py --postgres postgresql+psycopg://postgres@127.0.0.1/x

Seeds 200 circles x 5 people through Kring's services (the test suite's cheap argon2),
then puts 1,000 sockets, one per person, in their circle's chat room of this process
(the room table python-socketio keeps, as ``chat:join`` fills it) and runs ``beat()``
50 times. Printed: SQL statements per beat, the median and worst wall time of a beat,
and of its one statement alone; then the same for quiet beats when nothing lags (one
small read, no emit), side by side in the same run. The emits go to sockets that do not exist (the
engine drops them); their cost is Socket.IO's own, one packet per room.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event  # noqa: E402

from portal import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402

CIRCLES, PEOPLE, RUNS = 200, 5, 50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", help="a PostgreSQL URL (its public schema is replaced)")
    args = ap.parse_args()
    import tempfile

    url = args.postgres or f"sqlite:///{tempfile.mkdtemp(prefix='kring-beat-')}/b.sqlite3"
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import reset_postgres

        reset_postgres(url)

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    from bidict import bidict

    from portal import events
    from portal.extensions import db, socketio
    from portal.models import Role
    from portal.realtime import beat
    from portal.realtime.state import SOCKETS, SocketUser
    from portal.services import accounts
    from portal.services import circles as circle_svc

    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        rooms = socketio.server.manager.rooms.setdefault("/", {})
        n = 0
        for c in range(CIRCLES):
            coord = accounts.create_user(
                name=f"Coordinator {c}", username=f"coord{c}", password="bench password 1"
            )
            coord.can_create_circles = True
            circle, _m, _ = circle_svc.create_circle(
                title=f"Circle {c}", question="?", language="en", coordinator=coord
            )
            for p in range(PEOPLE):
                user = accounts.create_user(
                    name=f"P{c}.{p}", username=f"p{c}x{p}", password="bench password 1"
                )
                _inv, token = circle_svc.invite(circle, None, name=user.name, role=Role.MEMBER)
                circle_svc.redeem_invitation(token, user)
                sid = f"sid{n}"
                n += 1
                SOCKETS[sid] = SocketUser(id=user.id, login_session_id=0)
                rooms.setdefault(events.circle_room(circle.id), bidict())[sid] = sid
            db.session.commit()
        statements: list[int] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
        walls, sql = [], []
        ids = sorted({int(r.split(":")[1]) for r in rooms if r.startswith("circle:")})
        for _ in range(RUNS):
            t = time.perf_counter()
            beat.beat()
            walls.append(time.perf_counter() - t)
            t = time.perf_counter()
            db.session.execute(beat._statement(ids, [])).all()
            db.session.rollback()
            sql.append(time.perf_counter() - t)
        per_beat = len(statements) / RUNS / 2  # the beat's and the bare statement's
        # Quiet beats (between full ones) after every room was told: nothing lags.
        statements.clear()
        quiet = []
        for _ in range(RUNS):
            t = time.perf_counter()
            beat.beat(full=False)
            quiet.append(time.perf_counter() - t)
        per_quiet = len(statements) / RUNS
    kind = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{kind}: {CIRCLES} circles, {n} sockets joined; {per_beat:.0f} statement per beat; "
        f"beat median {statistics.median(walls) * 1000:.1f} ms, max {max(walls) * 1000:.1f} ms; "
        f"its statement alone median {statistics.median(sql) * 1000:.1f} ms"
    )
    print(
        f"{kind}: quiet beat, nothing lagging: {per_quiet:.0f} statement per beat; "
        f"median {statistics.median(quiet) * 1000:.1f} ms, max {max(quiet) * 1000:.1f} ms "
        f"({statistics.median(walls) / statistics.median(quiet):.1f}x less than a full beat)"
    )


if __name__ == "__main__":
    main()
