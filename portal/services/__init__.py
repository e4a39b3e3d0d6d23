"""Domain operations shared by HTTP routes, sockets and the command line.

Services validate, write and flush. The caller's boundary (a request, a socket event
or a command) commits once. Events are queued through ``portal.events`` and go out
only after that commit.
"""

from flask_babel import lazy_gettext as _l

from portal.sanitize import clean_line


class ServiceError(Exception):
    """A rule of the domain was broken; ``message`` is safe to show to the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class RateLimited(ServiceError):
    """Too many of these too quickly; ``message`` asks the person to wait a moment."""


class Forbidden(Exception):
    """The acting person may not do this (``portal.access`` said no).

    Not a ``ServiceError``: there is nothing to correct in a form. It is answered in
    one place for each door: 403 over HTTP (``portal.errors``) and ``forbidden`` over
    the socket (``portal.realtime.protocol``).
    """


def require_name(text: str | None, limit: int = 80, field: str = "name", message=None) -> str:
    """A person's name as we store it (``sanitize.clean_line``), never empty: a name of
    only spaces or invisible characters is refused, with ``message`` or "Please write a
    name." Every name a person types for someone goes through here."""
    name = clean_line(text, limit)
    if not name:
        raise ServiceError(message or _l("Please write a name."), field)
    return name
