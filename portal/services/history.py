"""The circle's history: one line per thing that happened (``CircleEvent``).

Every service that changes a circle writes its line here, in the same transaction as
the change. It imports nothing of the other services, so any of them can use it.
"""

from __future__ import annotations

from portal.extensions import db
from portal.models import Circle, CircleEvent


def record(circle: Circle, kind: str, actor=None, subject=None, **data) -> CircleEvent:
    """Add a line to the circle's history."""
    ev = CircleEvent(
        circle_id=circle.id,
        kind=kind,
        actor_id=actor.id if actor else None,
        subject_id=subject.id if subject else None,
        data=data,
    )
    db.session.add(ev)
    return ev
