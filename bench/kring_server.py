"""Kring's server as app.py runs it, with one bench-only knob: SQLite's ``synchronous``.

bench/fanout.py runs the real ``python app.py`` by default. With
``--sqlite-synchronous NORMAL`` it runs this file instead, which is app.py plus
``PRAGMA synchronous=<value>`` on every SQLite connection, to measure what the
per-commit fsync (SQLite's default in WAL mode is FULL) costs the gevent loop.
Nothing here changes Kring itself.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from app import app  # noqa: E402
from portal.extensions import db, socketio  # noqa: E402

mode = os.environ["BENCH_SQLITE_SYNCHRONOUS"].upper()
assert mode in ("OFF", "NORMAL", "FULL", "EXTRA"), mode

with app.app_context():

    @event.listens_for(db.engine, "connect")
    def _synchronous(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA synchronous={mode}")
        cur.close()

    db.engine.dispose()  # connections made from now on get the pragma

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(f"Kring (bench, synchronous={mode}) on http://{host}:{port}", flush=True)
    socketio.run(app, host=host, port=port, log_output=False)
