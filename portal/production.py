"""Production mode (``KRING_ENV=production``): the settings Kring refuses to start without.

The embedded default forgives a lot (a secret key made on first run, SQLite, plain HTTP
on 127.0.0.1) because it runs on one machine for one person trying it out. A region's
server must not start half-configured: a key that changes when ``instance/`` is lost
signs everyone out, several processes sharing a Redis queue over separate SQLite files
disagree about every message, and a session cookie sent over plain HTTP across a network
can be read by anyone on the way. Each refusal is one line an operator can act on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "production")
# Long enough that it cannot be guessed; secrets.token_hex(32) gives 64 characters.
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(Exception):
    """A setting production mode refuses; ``str(e)`` is the one line shown to the operator."""


def is_production(config: Mapping) -> bool:
    return config.get("KRING_ENV") == "production"


def is_loopback(host: str | None) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain_http_elsewhere(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme != "https" and not is_loopback(parts.hostname)


def check(config: Mapping) -> None:
    """Raise ``ConfigError`` for the first setting production mode cannot run with."""
    env = config.get("KRING_ENV")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"KRING_ENV must be 'production' or 'development', not {env!r}")
    if env != "production":
        return
    if config.get("DEBUG"):
        # Flask takes DEBUG from FLASK_DEBUG; in debug mode Flask-SocketIO's run() wraps
        # the app in Werkzeug's interactive debugger and starts the reloader.
        raise ConfigError(
            "KRING_ENV=production cannot run with FLASK_DEBUG set: the debugger would "
            "show code and tracebacks to visitors; unset FLASK_DEBUG"
        )
    if not config.get("SECRET_KEY"):
        raise ConfigError(
            "KRING_ENV=production needs SECRET_KEY: set it to a long random value "
            "(python3 -c 'import secrets; print(secrets.token_hex(32))') and keep it"
        )
    if len(config["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"KRING_ENV=production needs a SECRET_KEY of at least {MIN_SECRET_KEY_LENGTH} "
            "characters (python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if config.get("REDIS_URL") and config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError(
            "REDIS_URL is set but DATABASE_URL is SQLite: processes that share a Redis "
            "queue must share one database; set DATABASE_URL to PostgreSQL"
        )
    base_url = config.get("BASE_URL") or ""
    if _plain_http_elsewhere(base_url):
        raise ConfigError(
            "BASE_URL must start with https:// in production (plain http:// is only "
            f"allowed for 127.0.0.1 or localhost), not {_origin_only(base_url)!r}"
        )
    for origin in config.get("SOCKET_ALLOWED_ORIGINS") or ():
        if _plain_http_elsewhere(origin):
            raise ConfigError(
                "SOCKET_ALLOWED_ORIGINS must be https:// origins in production, "
                f"not {_origin_only(origin)!r}"
            )


def _origin_only(url: str) -> str:
    """What the error line may repeat of a URL: its scheme and host, never a path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.scheme else url[:40]
