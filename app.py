"""Kring's entry point: ``app`` for the ``flask`` command, and a gevent server.

``python app.py`` serves HTTP and Socket.IO with gevent on HOST:PORT (default
127.0.0.1:5000). Monkey-patching comes first so every socket is cooperative.
"""

if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import socketio  # noqa: E402
from portal.production import ConfigError  # noqa: E402

try:
    app = create_app()
except ConfigError as e:
    # Production refuses to start half-configured: one line, no traceback, exit 2
    # (for ``python app.py`` and for every ``flask --app app`` command alike).
    print(f"Kring cannot start: {e}", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    # Everything loaded so far (Flask, SQLAlchemy, the translations...) lives as long as
    # the process. Freezing it keeps Python's cycle collector from walking it again on
    # every full collection: those walks paused all sockets for 30-90 ms under chat
    # load and set the delivery p99 (bench/README.md).
    import gc

    gc.collect()
    gc.freeze()
    from portal.mail import run_sender

    if app.config["MAIL_SEND_INTERVAL"] > 0:
        # Mail waits in the outbox table; this sends it every few seconds (the same
        # work as ``flask --app app kring send-mail``; several senders at once are safe).
        socketio.start_background_task(run_sender, app)
    if app.config["NOTIFY_INTERVAL"] > 0:
        # News from the clock, digests, direct calls and reminders: the same run as
        # ``flask --app app kring send-notifications`` (safe next to cron doing it too).
        from portal.mail import run_every
        from portal.notifier import run as notify_run

        socketio.start_background_task(
            run_every, app, app.config["NOTIFY_INTERVAL"], notify_run, "the notification run"
        )
    if app.config["PURGE_INTERVAL"] > 0:
        # Idle circles asked, unanswered ones closed, closed ones purged after the
        # retention period: the same run as ``flask --app app kring purge``.
        from portal.mail import run_every
        from portal.purge import run as purge_run

        socketio.start_background_task(
            run_every, app, app.config["PURGE_INTERVAL"], purge_run, "the purge run"
        )
    if app.config["SEQ_BEAT_SECONDS"] > 0:
        # Open chats and lines hear the latest message number every few seconds, so a
        # message whose live event was lost (Redis away) still shows up, without a reload.
        from portal.realtime import beat

        socketio.start_background_task(beat.run, app)
    server_options = {}
    if app.config["KRING_ENV"] == "production":
        # Every line of a production log is JSON (portal/logs.py), this one too, and
        # what gevent writes itself (broken requests, tracebacks) goes the same way.
        import gevent

        from portal.logs import ServerErrors

        gevent.get_hub().exception_stream = ServerErrors()
        server_options["error_log"] = ServerErrors()
        logging.getLogger("kring").info("Kring is serving on %s:%s", host, port)
    else:
        print(f"Kring is running on http://{host}:{port}  (Ctrl+C stops it)", flush=True)
    # No access log: invitation and re-entry URLs carry secret tokens, and they must
    # never reach a log file (portal/logs.py logs each request by its route's name).
    # TCP_NODELAY on every accepted connection: without it each request after the first
    # on a kept-alive connection waited ~40 ms (portal/webserver.py). Flask-SocketIO
    # hands ``handler_class`` to gevent's WSGIServer (gevent-websocket is not used).
    from portal.webserver import NoDelayHandler

    socketio.run(
        app,
        host=host,
        port=port,
        log_output=False,
        handler_class=NoDelayHandler,
        **server_options,
    )
