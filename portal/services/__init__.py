"""Domain operations shared by HTTP routes, sockets and the command line.

Services validate, write and flush. The caller's boundary (a request, a socket event
or a command) commits once. Events are queued through ``portal.events`` and go out
only after that commit.
"""


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
