"""Socket handlers. Importing this package registers them on ``socketio``.

Flask's ``before_request`` and ``login_required`` do not run for sockets, so each
handler authenticates (at connect) and authorises (on every event) by itself,
through ``portal.access``. The protocol is documented in docs/realtime.md.
"""

from portal import events
from portal.realtime import chat, connection, lines, news, plan, presence, registry  # noqa: F401

# What services ask for through ``portal.events`` and only sockets can do.
events.handle("close_sockets", registry.close_sockets)
events.handle("presence", presence.set_enabled)
