"""Application factory: wiring only. Features live in their blueprints and services."""

from __future__ import annotations

from flask import Flask

from portal.config import Config
from portal.realtime import session as socket_session


class Kring(Flask):
    def request_context(self, environ):
        """A socket event's context matches the URL map once per socket
        (portal/realtime/session.py); every other request as Flask does."""
        if socket_session.is_socket(environ):
            return socket_session.SocketRequestContext(self, environ)
        return super().request_context(environ)

    def create_url_adapter(self, request):
        if request is not None and socket_session.is_socket(request.environ):
            make = super().create_url_adapter
            return socket_session.url_adapter(request.environ, lambda: make(request))
        return super().create_url_adapter(request)

    def log_exception(self, exc_info) -> None:
        """Flask's own line names ``request.path``, and paths carry secret tokens
        (``/i/<token>``): name the route instead (portal/logs.py)."""
        from flask import request

        self.logger.error(
            "Exception on %s [%s]",
            request.endpoint or "no route",
            request.method,
            exc_info=exc_info,
        )


def create_app(config: type[Config] | None = None) -> Flask:
    """The app; in production (KRING_ENV) it first refuses a setting it cannot run with:
    ``production.ConfigError``, one line for the operator (app.py prints it)."""
    app = Kring(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    app.config.from_object(config or Config)
    from portal import logs, production

    production.check(app.config)
    if production.is_production(app.config) and app.config["BASE_URL"].startswith("https://"):
        # Served over HTTPS (behind the proxy): Secure cookies and HSTS follow from it.
        app.config["PREFERRED_URL_SCHEME"] = "https"
    # First of all hooks: the request's clock starts before any other before_request.
    logs.init_app(app)
    from portal.ids import IdConverter

    # Before any route is added: every <int:...> in a URL is an id, bounded to the
    # database's range, so 2**63 answers like a missing object (a 404), not a 500.
    app.url_map.converters["int"] = IdConverter
    if app.config["PREFERRED_URL_SCHEME"] == "https":
        # Config derives this at import time from the environment; a config class that
        # says https (a subclass, a test) must get Secure cookies too.
        app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = True

    from portal import errors, i18n, security
    from portal.extensions import babel, csrf, db, limiter, login_manager, migrate, socketio

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from portal.sqlite_wait import engine_options

        # Waits for a busy file in Python, not in C (where gevent cannot run the others).
        options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(options)
    # A failing statement's error names its parameters, and a traceback in the log
    # would carry them: a message's text, a token's or a password's hash. The SQL
    # itself stays, for the operator.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
        "hide_parameters": True,
    }
    db.init_app(app)
    _sqlite_pragmas(app)
    _ping_idle_connections(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.init_app(app)
    from portal.sanitize import render_text

    app.jinja_env.filters["usertext"] = render_text
    from portal import display, filters

    filters.init_app(app)
    display.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    _limit_circle_writes(app)

    from portal.auth import login as auth_login

    auth_login.init_login_manager(app, login_manager)

    from portal.auth.routes import bp as auth_bp
    from portal.chat.routes import bp as chat_bp
    from portal.circles import access_log, closing  # noqa: F401  (views join circles' blueprint)
    from portal.circles.routes import bp as circles_bp
    from portal.export.routes import bp as export_bp
    from portal.invitations.routes import bp as invitations_bp
    from portal.lines.routes import bp as lines_bp
    from portal.meetings.routes import bp as meetings_bp
    from portal.news.routes import bp as news_bp
    from portal.offline.routes import bp as offline_bp
    from portal.pages import bp as pages_bp
    from portal.plan import professionals  # noqa: F401  (its views join the plan blueprint)
    from portal.plan.routes import bp as plan_bp
    from portal.unsubscribe import bp as unsubscribe_bp
    from portal.webapp.routes import bp as webapp_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(circles_bp)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(lines_bp)
    app.register_blueprint(plan_bp)
    app.register_blueprint(meetings_bp)
    app.register_blueprint(webapp_bp)
    app.register_blueprint(news_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(export_bp)
    app.register_blueprint(offline_bp)

    # Import the socket handlers before init_app: Flask-SocketIO keeps handlers that are
    # declared while it has no server and attaches them to every app's server. Declared
    # after, they would land on the first app's server only.
    from portal import realtime  # noqa: F401  (declares the handlers)
    from portal.realtime import registry
    from portal.realtime.session import SocketSessionInterface

    app.session_interface = SocketSessionInterface()

    registry.init_app(app)

    origins = app.config["SOCKET_ALLOWED_ORIGINS"] or [_origin(app.config["BASE_URL"])]
    from portal.realtime.queue import HeardQueue, RedisQueue

    if app.config["REDIS_URL"]:
        queue = RedisQueue(app.config["REDIS_URL"], retry_max=app.config["REDIS_RETRY_MAX_SECONDS"])
    else:
        queue = HeardQueue()  # this process alone (python-socketio's in-memory manager)
    socketio.init_app(
        app,
        client_manager=queue,
        cors_allowed_origins=origins,
        max_http_buffer_size=64 * 1024,
        manage_session=False,
    )
    if app.config["PROXY_HOPS"] > 0:
        # Behind nginx: the person's address and scheme come from the X-Forwarded-*
        # headers the proxy sets, believed for exactly PROXY_HOPS hops (docs/deploy.md).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    from portal.cli import kring_cli

    app.cli.add_command(kring_cli)
    return app


def _limit_circle_writes(app: Flask) -> None:
    """One allowance (WRITE_RATE_LIMIT) for every change a signed-in person makes in a
    circle over HTTP: a proposal, a vote, a poll answer, an invitation, a chat message.
    Each can reach everyone in the circle, so a script must not make hundreds. The
    socket events that change something take the same allowance (portal.realtime).
    Registered after CSRF protection: a forged post is refused before it counts."""
    from flask import abort, request
    from flask_login import current_user

    from portal.services import RateLimited
    from portal.services.allowance import take_slot

    @app.before_request
    def _take_write_slot():
        if request.method != "POST" or "circle_id" not in (request.view_args or {}):
            return None
        if getattr(app.view_functions.get(request.endpoint), "own_allowance", False):
            return None  # counted against its own allowance (portal.views.own_allowance)
        if not current_user.is_authenticated:
            return None
        try:
            take_slot("writes", current_user.id)
        except RateLimited:
            abort(429)
        return None


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _ping_idle_connections(app: Flask) -> None:
    """A server database (PostgreSQL): ping a pooled connection before use when it has
    been idle for more than ``DB_PING_IDLE_SECONDS`` (config.py says why not always).

    A failed ping raises ``DisconnectionError``: the pool drops that connection and
    takes another (SQLAlchemy's checkout protocol), as ``pool_pre_ping`` did.
    """
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    import time

    from sqlalchemy import event, exc

    from portal.extensions import db

    idle = app.config["DB_PING_IDLE_SECONDS"]
    with app.app_context():
        engine = db.engine
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _note_use(_dbapi_conn, record):
        if record is not None:
            record.info["kring_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):
        used = record.info.get("kring_used")
        if used is None or time.monotonic() - used <= idle:
            return  # new (just connected) or used a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as e:
            raise exc.DisconnectionError("idle connection gone") from e


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite: WAL so readers never wait for the writer, no busy timeout in C (the wait
    for a busy file is portal.sqlite_wait's, cooperative under gevent), deleted content
    overwritten (``secure_delete``), and savepoints that stay inside their transaction."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from portal.extensions import db
    from portal.sqlite_wait import C_BUSY_TIMEOUT_MS

    synchronous = app.config["SQLITE_SYNCHRONOUS"]
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError("SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # The wait for a busy file is portal.sqlite_wait's, cooperative.
            cur.execute(f"PRAGMA busy_timeout={C_BUSY_TIMEOUT_MS}")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten content is zeroed, not just unlinked (issue 13:
            # an erased name must not stay in the file's free space).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _begin_before_savepoint(conn, _name):
            # pysqlite opens a transaction only before a write. A SAVEPOINT issued
            # before any write would open one itself, and releasing it would COMMIT:
            # a savepoint in a read-only-so-far transaction (a review, a tick) would be
            # written for good, whatever the request did next. Begin for real first.
            dbapi_conn = conn.connection.dbapi_connection
            if not dbapi_conn.in_transaction:
                dbapi_conn.execute("BEGIN")
