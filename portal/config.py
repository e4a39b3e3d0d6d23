"""Configuration from the environment.

Everything an operator may change is read here, once, from environment variables, so
that the rest of the code reads ``current_app.config`` and never ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"


# "production" (KRING_ENV=production): Kring refuses to start without the settings a
# region's server needs (portal/production.py). Anything else but "development" is refused
# too, so a typo cannot quietly select the forgiving embedded default.
KRING_ENV = (os.environ.get("KRING_ENV") or "development").strip().lower()


def _secret_key() -> str:
    """Use SECRET_KEY, or a key kept in instance/ so dev sessions survive a restart.

    In production there is no such fallback: the empty key makes the start refuse."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if KRING_ENV == "production":
        return ""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        INSTANCE_DIR.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / 'kring.sqlite3'}"
    # Accept the common "postgres://" and plain "postgresql://" spellings; use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Argon2id costs for the test suite: still memory-hard, only cheaper. Production uses
# argon2-cffi's defaults (PASSWORD_HASH_PARAMS is None there).
TEST_PASSWORD_HASH_PARAMS = {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}
# The test suite's live server (tests/live_server.py) sets this variable to this value so
# that a join or a sign-in costs what it costs in the other tests. Nothing else sets it;
# any other value is refused, so a typo cannot quietly lower production's costs.
TEST_PASSWORD_HASH_VAR = "KRING_TEST_PASSWORD_HASH"
TEST_PASSWORD_HASH_VALUE = "cheap-costs-for-tests-only"


def password_hash_params_from(environ: Mapping[str, str]) -> dict | None:
    """Argon2 costs: None (argon2-cffi's defaults) unless the test suite asks for its own."""
    value = environ.get(TEST_PASSWORD_HASH_VAR)
    if not value:
        return None
    if value != TEST_PASSWORD_HASH_VALUE:
        raise ValueError(f"{TEST_PASSWORD_HASH_VAR} is for the test suite only")
    return dict(TEST_PASSWORD_HASH_PARAMS)


# Addresses that mean "listen everywhere": nobody can open them in a browser, so the
# links use the machine's own loopback name instead.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "localhost", "": "127.0.0.1"}


def base_url_from(environ: Mapping[str, str]) -> str:
    """The address people use: ``BASE_URL``, else the one ``python app.py`` serves.

    Without ``BASE_URL``, links and the socket's allowed origin follow ``HOST`` and
    ``PORT``: ``PORT=5601 make run`` must print links to port 5601, and a page loaded
    from there must be allowed to open its socket.
    """
    if url := (environ.get("BASE_URL") or "").strip():
        return url.rstrip("/")
    host = (environ.get("HOST") or "127.0.0.1").strip()
    host = _WILDCARD_HOSTS.get(host, host)
    if ":" in host and not host.startswith("["):  # an IPv6 address needs brackets
        host = f"[{host}]"
    port = (environ.get("PORT") or "5000").strip()
    # python app.py speaks plain HTTP; behind an HTTPS proxy, set BASE_URL.
    return f"http://{host}:{port}"


class Config:
    KRING_ENV = KRING_ENV
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    # PostgreSQL: a connection taken from the pool is pinged ("SELECT 1") first when it
    # has been idle longer than DB_PING_IDLE_SECONDS, so one dropped while idle (a
    # restart, a firewall) is replaced unnoticed. SQLAlchemy's pool_pre_ping pinged on
    # every checkout: one more round trip per socket event, about a fifth of a chat
    # send's CPU on PostgreSQL (bench/README.md). A connection that answered a moment
    # ago is taken as alive; if the server went away in that moment, the statement
    # fails, the whole pool is renewed, and the client retries (portal/__init__.py).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DB_PING_IDLE_SECONDS = float(os.environ.get("DB_PING_IDLE_SECONDS", "1"))
    # SQLite's fsync policy. FULL (default): a message acknowledged as stored survives
    # even a power cut. NORMAL (WAL-safe, never corrupts) skips the fsync per commit,
    # which helps on slow disks, but may lose the last commits on an OS crash; see
    # bench/README.md.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL").upper()
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # After losing Redis, each process tries to listen again with waits doubling up to
    # this many seconds (python-socketio's own cap is 60; portal/realtime/queue.py).
    REDIS_RETRY_MAX_SECONDS = float(os.environ.get("REDIS_RETRY_MAX_SECONDS", "2"))
    # Every this many seconds ``python app.py`` tells each open chat and private line the
    # latest message number, straight (not through Redis), so a page that missed a live
    # message while Redis was down catches up without a reload (portal/realtime/beat.py).
    # 0: never.
    SEQ_BEAT_SECONDS = float(os.environ.get("SEQ_BEAT_SECONDS", "3"))
    # A beat tells the rooms that may lack a message, and a share of the others: every
    # room hears its latest once in SEQ_BEAT_FULL_EVERY beats (30 s). A room that lacked
    # one is told again at SEQ_BEAT_AGAIN later beats (6 s): a page whose catch-up was
    # already on its way with an older read, or failed, hears it again well within the
    # 10 s promised (portal/realtime/beat.py).
    SEQ_BEAT_FULL_EVERY = int(os.environ.get("SEQ_BEAT_FULL_EVERY", "10"))
    SEQ_BEAT_AGAIN = int(os.environ.get("SEQ_BEAT_AGAIN", "2"))

    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    # Links printed by the command line and shown to coordinators use this base.
    BASE_URL = base_url_from(os.environ)
    # Origins allowed to open a socket; defaults to BASE_URL's origin.
    SOCKET_ALLOWED_ORIGINS = [
        o.strip() for o in os.environ.get("SOCKET_ALLOWED_ORIGINS", "").split(",") if o.strip()
    ]

    # How many proxies (nginx) stand in front of Kring and set X-Forwarded-For and
    # X-Forwarded-Proto. 0: none, the peer's address is the person's. Behind one nginx,
    # 1: otherwise every per-address limit (sign-in, links) counts everyone together as
    # the proxy's address. Never more than the proxies really there: the header is typed
    # by the browser, and only the hops we run may be believed.
    PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = PREFERRED_URL_SCHEME == "https"
    SESSION_COOKIE_NAME = "kring_session"
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    # CSRF tokens are bound to the session and last as long as it does: a chat page left
    # open all day must still be able to reconnect its socket and post.
    WTF_CSRF_TIME_LIMIT = None
    # Flask-WTF would also demand, on HTTPS, a Referer from our own host. Every page
    # sends "Referrer-Policy: no-referrer" (tokens in URLs must not travel), so browsers
    # send none and every form behind HTTPS would fail. The token itself (bound to the
    # session) and SameSite=Lax cookies are the defence; the header check added nothing
    # but that failure (tests/live/test_behind_nginx.py found it).
    WTF_CSRF_SSL_STRICT = False

    INVITATION_VALID_DAYS = int(os.environ.get("INVITATION_VALID_DAYS", "14"))
    # "Leave quickly" (and Escape twice) replaces the page with this one: a neutral
    # public page that nobody would wonder about on a shared screen.
    QUICK_EXIT_URL = os.environ.get("QUICK_EXIT_URL") or "https://www.buienradar.nl/"
    REENTRY_VALID_HOURS = int(os.environ.get("REENTRY_VALID_HOURS", "72"))

    # One process: limits' memory storage, cleaned every few seconds (ratelimit_store).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or (
        REDIS_URL or "kringmemory://"
    )
    RATELIMIT_HEADERS_ENABLED = True
    # While the shared storage (Redis) is away, each process counts in its own memory:
    # sign-in and the secret links stay limited, and answer rather than fail (500).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    TOKEN_RATE_LIMIT = os.environ.get("TOKEN_RATE_LIMIT", "20 per minute")
    # Tries at /join per invitation, from any address: the join form says whether a
    # username is taken, so one invitation must not become a way to list them all.
    JOIN_RATE_LIMIT = os.environ.get("JOIN_RATE_LIMIT", "20 per hour")
    # Chat messages one person may send, over all their sockets and the plain form
    # together (a moving window in the limiter's storage: Redis when there is one).
    CHAT_SEND_RATE_LIMIT = os.environ.get("CHAT_SEND_RATE_LIMIT", "30 per minute")
    # Changes one signed-in person may make in circles, over the forms and their sockets
    # together (a proposal, a vote, an answer, an invitation, a chat edit...): generous
    # for people, a wall for a script.
    WRITE_RATE_LIMIT = os.environ.get("WRITE_RATE_LIMIT", "60 per minute")
    # Downloads of everything (a person's own data, a whole circle), per person: each
    # one reads the whole chat.
    EXPORT_RATE_LIMIT = os.environ.get("EXPORT_RATE_LIMIT", "5 per hour")

    LANGUAGES = ["en", "nl", "fr"]
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "Europe/Amsterdam")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "portal" / "translations")

    # Outgoing mail: SMTP when MAIL_SERVER is set, else written to instance/outbox.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "587"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_FROM = os.environ.get("MAIL_FROM", "kring@localhost")
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR") or str(INSTANCE_DIR / "outbox")
    # Mail waits in the outbox_mail table; ``python app.py`` sends it every
    # MAIL_SEND_INTERVAL seconds (0: only ``flask --app app kring send-mail`` does).
    MAIL_SEND_INTERVAL = float(os.environ.get("MAIL_SEND_INTERVAL", "5"))
    # Tries before a mail is given up (the day of MAIL_GIVE_UP_HOURS usually comes first).
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "40"))
    # No address gets more mails than this in an hour, whoever asks and from where
    # ("forgot password", an email change aimed at someone else's address).
    MAIL_PER_ADDRESS_PER_HOUR = int(os.environ.get("MAIL_PER_ADDRESS_PER_HOUR", "5"))
    # How long a sender run may hold a mail before another run may take it over.
    MAIL_CLAIM_LEASE_SECONDS = 300
    # How long the link that confirms a new email address works.
    EMAIL_CONFIRM_VALID_HOURS = int(os.environ.get("EMAIL_CONFIRM_VALID_HOURS", "48"))

    MESSAGES_PER_PAGE = 50
    ITEMS_PER_PAGE = 25

    # None: argon2-cffi's defaults. Only the test suite passes smaller costs.
    PASSWORD_HASH_PARAMS = password_hash_params_from(os.environ)

    # --- push ---------------------------------------------------------------------
    # Web Push (VAPID, RFC 8292). Give both keys (base64url, as ``vapid --applicationServerKey``
    # prints them: the raw 32-byte private value and the 65-byte public point), or
    # neither: then a key pair is made once and kept in VAPID_KEY_FILE (mode 0600).
    VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY") or None
    VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY") or None
    VAPID_KEY_FILE = os.environ.get("VAPID_KEY_FILE") or str(INSTANCE_DIR / "vapid_private.pem")
    # Who runs this Kring, for the push services (a mailto: or https: URL).
    VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT") or f"mailto:{MAIL_FROM}"
    # Kring only sends to these push services (a host, or ".example.com" for any host
    # under it): a device's address is typed by its browser, so it must not make the
    # server post anywhere else (a machine on the inside network, say).
    PUSH_SERVICE_HOSTS = [
        h.strip().lower()
        for h in os.environ.get(
            "PUSH_SERVICE_HOSTS",
            "fcm.googleapis.com,.push.services.mozilla.com,.push.apple.com,.notify.windows.com",
        ).split(",")
        if h.strip()
    ]
    PUSH_MAX_DEVICES = int(os.environ.get("PUSH_MAX_DEVICES", "10"))
    # A push that fails is tried again with growing pauses, and given up after this.
    PUSH_GIVE_UP_HOURS = int(os.environ.get("PUSH_GIVE_UP_HOURS", "24"))
    # How long a run may hold a push before another run may take it over.
    PUSH_CLAIM_LEASE_SECONDS = 300
    # How long a push service keeps a push for a phone that is switched off.
    PUSH_TTL_SECONDS = 12 * 3600

    # --- notifications (docs/notifications.md) ----------------------------------------
    # SMTP security: STARTTLS on MAIL_PORT (the default), or implicit TLS from the first
    # byte (MAIL_USE_SSL=1, usually port 465). Either way one connection per run.
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "1").lower() in ("1", "true", "yes", "on")
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "0").lower() in ("1", "true", "yes", "on")
    # A mail that cannot be sent is tried again with back-off (30 s doubling, at most an
    # hour apart) and given up, with a log line, this many hours after it was queued.
    MAIL_GIVE_UP_HOURS = float(os.environ.get("MAIL_GIVE_UP_HOURS", "24"))
    # ``python app.py`` runs ``kring send-notifications`` every NOTIFY_INTERVAL seconds
    # (0: never; then run it from cron or a systemd timer).
    NOTIFY_INTERVAL = float(os.environ.get("NOTIFY_INTERVAL", "60"))
    # Mentions and direct calls: at most one email per person in this many minutes.
    DIRECT_EMAIL_MINUTES = int(os.environ.get("DIRECT_EMAIL_MINUTES", "15"))
    # The local hour after which the day's digest and the morning reminders go out.
    NOTIFY_MORNING_HOUR = 7

    # --- closing circles (docs/privacy.md) ----------------------------------------------
    # A closed circle's content is deleted for good this many days after it was closed.
    CLOSED_CIRCLE_RETENTION_DAYS = int(os.environ.get("CLOSED_CIRCLE_RETENTION_DAYS", "90"))
    # A circle with nothing new for this many months asks its central persons whether
    # to keep it; with no answer within IDLE_ANSWER_DAYS it closes.
    IDLE_CIRCLE_MONTHS = int(os.environ.get("IDLE_CIRCLE_MONTHS", "18"))
    IDLE_ANSWER_DAYS = int(os.environ.get("IDLE_ANSWER_DAYS", "60"))
    # Sent or given-up mail rows (address and subject; the body is emptied when sent)
    # are deleted by the purge run this many days later.
    MAIL_KEEP_DAYS = int(os.environ.get("MAIL_KEEP_DAYS", "30"))
    # ``python app.py`` runs ``kring purge`` every PURGE_INTERVAL seconds (0: never).
    PURGE_INTERVAL = float(os.environ.get("PURGE_INTERVAL", "3600"))


class TestConfig(Config):
    TESTING = True
    KRING_ENV = "development"
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    RATELIMIT_STORAGE_URI = "kringmemory://"
    REDIS_URL = None
    MAIL_SERVER = None
    NOTIFY_INTERVAL = 0
    PURGE_INTERVAL = 0
    BASE_URL = "http://localhost"
    # Argon2 stays memory-hard in tests, just with smaller costs so the suite is quick.
    PASSWORD_HASH_PARAMS = TEST_PASSWORD_HASH_PARAMS
    # A throw-away database: no fsync per commit (WAL keeps it consistent).
    SQLITE_SYNCHRONOUS = "NORMAL"
