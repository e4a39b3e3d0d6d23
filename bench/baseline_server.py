"""The baseline for bench/fanout.py: bare Flask-SocketIO on gevent, no database.

Same stack as Kring's server (Flask, Flask-SocketIO, python-engineio, gevent's WSGI
server, the same buffer cap and origin list) and the same protocol shape: ``chat:join``
joins a ``circle:<id>`` room; ``chat:send`` answers with a message object of Kring's
shape and emits ``chat:message`` to the room. No login, no access check, no storage:
what is left is the cost of Socket.IO fan-out itself.

    PORT=5100 BASE_URL=http://127.0.0.1:5100 python bench/baseline_server.py
"""

from gevent import monkey

monkey.patch_all()

import itertools  # noqa: E402
import os  # noqa: E402
from collections import defaultdict  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

port = int(os.environ.get("PORT", "5100"))
base_url = os.environ.get("BASE_URL", f"http://127.0.0.1:{port}")

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode="gevent",
    cors_allowed_origins=[base_url],
    max_http_buffer_size=64 * 1024,
    manage_session=False,
)
_ids = itertools.count(1)
_seqs: dict[int, itertools.count] = defaultdict(lambda: itertools.count(1))


@app.get("/healthz")
def healthz():
    return "ok"


@socketio.on("chat:join")
def chat_join(payload):
    join_room(f"circle:{payload['circle_id']}")
    return {"ok": True, "last_seq": 0, "messages": [], "more": False, "here": None}


@socketio.on("chat:send")
def chat_send(payload):
    circle_id = payload["circle_id"]
    message = {
        "id": next(_ids),
        "circle_id": circle_id,
        "seq": next(_seqs[circle_id]),
        "client_id": payload["client_id"],
        "author_id": 1,
        "author": "Someone",
        "body": payload["body"],
        "created_at": datetime.now(UTC).isoformat(),
        "edited": False,
        "removed": False,
        "removed_by_central": False,
    }
    socketio.emit(
        "chat:message",
        {"type": "message", "op": "new", "message": message},
        to=f"circle:{circle_id}",
    )
    return {"ok": True, "message": message, "duplicate": False}


if __name__ == "__main__":
    print(f"baseline on http://127.0.0.1:{port}", flush=True)
    socketio.run(app, host="127.0.0.1", port=port, log_output=False)
