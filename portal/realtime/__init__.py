"""Socket handlers. Importing this package registers them on ``socketio``.

Flask's ``before_request`` and ``login_required`` do not run for sockets, so each
handler authenticates (at connect) and authorises (on every event) by itself,
through ``portal.access``. The protocol is documented in docs/realtime.md.
"""

from portal.realtime import chat, connection, plan  # noqa: F401
