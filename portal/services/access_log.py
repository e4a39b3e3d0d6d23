"""Who from outside the family looked (issue 13, docs/privacy.md).

When a professional opens a page of the circle, ``looked`` records it: one row per
person, page kind and day (in UTC) with a count, written by ONE statement, an
``INSERT ... ON CONFLICT DO UPDATE`` built once per dialect at import (like
``notifications.messages_sent``), so the audit never slows a page. For anyone else it
sends no statement at all. Nobody edits the log; ``entries`` reads it.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager

from portal.access import can_read_whole_access_log, looks_are_recorded
from portal.extensions import db
from portal.models import Circle, Membership
from portal.models.privacy import AccessLogEntry
from portal.models.types import utcnow

# The pages whose looks are recorded, as the log says them ("looked at ...").
PAGES = {
    "plan": _l("the plan"),
    "plan_print": _l("the plan's page to print"),
    "plan_export": _l("the plan as a file to download"),
    "chat": _l("the chat"),
    "meeting": _l("a meeting"),
    "commitment_history": _l("what was done for a commitment"),
    "people": _l("the list of people"),
    "export": _l("everything the circle saved, as a download"),
}


def _upsert(dialect_insert, counted: bool = True):
    """INSERT one look ... ON CONFLICT (membership, page, day) DO UPDATE count + 1
    (``counted``), or only its time: a socket's reading of the chat is the live part of
    the chat page, counted when the page was opened, but it must leave a line for a
    reader who never opened the page (chat:join from the start, chat:history)."""
    t = AccessLogEntry.__table__
    when = bindparam("when", type_=t.c.last_at.type)
    stmt = dialect_insert(t).values(
        circle_id=bindparam("circle_id"),
        membership_id=bindparam("membership_id"),
        page=bindparam("page"),
        day=bindparam("day", type_=t.c.day.type),
        count=1,
        first_at=when,
        last_at=when,
    )
    changes = {"last_at": stmt.excluded.last_at}
    if counted:
        changes["count"] = t.c.count + 1
    return stmt.on_conflict_do_update(index_elements=["membership_id", "page", "day"], set_=changes)


_UPSERT = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}
_SEEN = {"postgresql": _upsert(pg_insert, False), "sqlite": _upsert(sqlite_insert, False)}


def looked(m: Membership, page: str, *, now: datetime | None = None, counted: bool = True) -> bool:
    """``m`` opened ``page`` (a key of ``PAGES``): record it if their looks are recorded
    (an active professional), in one statement; anyone else costs nothing. Returns
    whether it wrote (the view then commits). ``counted=False``: make sure the day has
    its line, without adding to its count (the socket's live reading of the chat)."""
    assert page in PAGES, page
    if not looks_are_recorded(m):
        return False
    when = now or utcnow()
    conn = db.session.connection()
    conn.execute(
        (_UPSERT if counted else _SEEN)[conn.dialect.name],
        {
            "circle_id": m.circle_id,
            "membership_id": m.id,
            "page": page,
            "day": when.date(),
            "when": when,
        },
    )
    return True


def looked_each(memberships, page: str, *, now: datetime | None = None) -> bool:
    """As ``looked``, for every one of ``memberships`` whose looks are recorded (a
    professional's own download holds the plan of each circle they are in): one
    ``executemany`` of the same upsert, nothing for anyone else. Whether it wrote."""
    assert page in PAGES, page
    when = now or utcnow()
    params = [
        {
            "circle_id": m.circle_id,
            "membership_id": m.id,
            "page": page,
            "day": when.date(),
            "when": when,
        }
        for m in memberships
        if looks_are_recorded(m)
    ]
    if not params:
        return False
    conn = db.session.connection()
    conn.execute(_UPSERT[conn.dialect.name], params)
    return True


def entries(circle: Circle, reader: Membership, page: int, per_page: int):
    """The access log as ``reader`` may see it, newest first: everything, or only their
    own looks (a professional). A Flask-SQLAlchemy pagination of AccessLogEntry rows,
    each with its ``membership`` loaded (two queries in all)."""
    query = (
        select(AccessLogEntry)
        .join(Membership, Membership.id == AccessLogEntry.membership_id)
        .where(AccessLogEntry.circle_id == circle.id)
        .options(contains_eager(AccessLogEntry.membership))
        .order_by(
            AccessLogEntry.day.desc(), AccessLogEntry.last_at.desc(), AccessLogEntry.id.desc()
        )
    )
    if not can_read_whole_access_log(reader):
        query = query.where(AccessLogEntry.membership_id == reader.id)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
