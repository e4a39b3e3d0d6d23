"""Socket handlers. Importing this package registers them on ``socketio``.

Flask's ``before_request`` and ``login_required`` do not run for sockets, so each
handler authenticates and authorises by itself, through ``portal.access``.
"""

from portal.realtime import connection  # noqa: F401
