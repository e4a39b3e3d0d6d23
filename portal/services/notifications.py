"""A person's news: lines written with the thing they are about, counted, read.

Services call ``notify`` (or ``messages_sent`` from the chat) in the same transaction as
the change; the recipients' open pages hear "news changed" only after commit (through
``portal.events``), and ask for their new count. Who may receive each kind is decided
by the caller with the rules of ``portal.access``; this module only leaves out what a
person would not want: news they caused, a muted circle, a kind switched off.

What a person sees is filtered once more when it is read (``_visible``): only circles
they are still active in, not muted, and chat news only while the chat is open to them.
So leaving a circle, muting it, or a chat closed to professionals hides its lines at
once, without touching them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager, joinedload

from portal import events
from portal.extensions import db
from portal.models import (
    Circle,
    Membership,
    MembershipStatus,
    Notification,
    NotificationSwitch,
    Role,
)
from portal.models.notifications import NEWS_KINDS
from portal.models.types import utcnow

CHAT_KINDS = ("mention", "messages")
PAGE = 30


def _switched_off(user_ids: Iterable[int], kind: str) -> set[int]:
    ids = list(set(user_ids))
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(NotificationSwitch.user_id).where(
                NotificationSwitch.user_id.in_(ids),
                NotificationSwitch.channel == "app",
                NotificationSwitch.kind == kind,
            )
        )
    )


def notify(
    members: Iterable[Membership],
    kind: str,
    *,
    ref_id: int | None = None,
    actor: Membership | None = None,
    data: dict | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Add one line of news for each of ``members`` (memberships of one circle, chosen
    by the caller with ``portal.access``); return the user ids that got it.

    Left out: the actor, memberships not active or muted, and people who switched
    ``kind`` off. ``dedupe_key`` (news from the clock) is formatted with ``{user}``
    per person; a key already stored makes nothing (two runs at once make it once).
    """
    assert kind in NEWS_KINDS
    chosen = [
        m for m in members if m.is_active and not m.muted and (actor is None or m.id != actor.id)
    ]
    off = _switched_off((m.user_id for m in chosen), kind)
    chosen = [m for m in chosen if m.user_id not in off]
    if not chosen:
        return []
    when = now or utcnow()
    rows = [
        {
            "user_id": m.user_id,
            "circle_id": m.circle_id,
            "kind": kind,
            "ref_id": ref_id,
            "actor_id": actor.id if actor else None,
            "data": dict(data or {}),
            "count": 1,
            "dedupe_key": dedupe_key.format(user=m.user_id) if dedupe_key else None,
            "created_at": when,
            "updated_at": when,
        }
        for m in chosen
    ]
    conn = db.session.connection()
    insert = _dialect_insert(conn)(Notification.__table__)
    if dedupe_key:
        insert = insert.on_conflict_do_nothing(index_elements=["dedupe_key"])
    made = conn.execute(insert.returning(Notification.__table__.c.user_id), rows).scalars()
    user_ids = sorted(set(made))
    events.news_changed(user_ids)
    return user_ids


def _dialect_insert(conn):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def messages_sent(circle_id: int, author_id: int, *, now: datetime | None = None) -> None:
    """A chat message: every other reader of the chat gets one "new messages" line per
    circle, counting up while unread (one statement whatever the circle's size). Only
    people whose line is new hear of it (their count changed); for the others only the
    number on the line grew."""
    when = now or utcnow()
    t = Notification.__table__
    m, c = Membership.__table__, Circle.__table__
    readers = (
        select(
            m.c.user_id,
            literal(circle_id),
            literal("messages"),
            literal(1),
            literal(f"messages:{circle_id}"),
            literal({}, type_=t.c.data.type),
            literal(when, type_=t.c.created_at.type),
            literal(when, type_=t.c.updated_at.type),
        )
        .select_from(m.join(c, c.c.id == m.c.circle_id))
        .where(
            m.c.circle_id == circle_id,
            m.c.status == MembershipStatus.ACTIVE.value,
            m.c.id != author_id,
            m.c.muted.is_(False),
            or_(m.c.role != Role.PROFESSIONAL.value, c.c.professionals_read_chat.is_(True)),
            ~exists().where(
                NotificationSwitch.user_id == m.c.user_id,
                NotificationSwitch.channel == "app",
                NotificationSwitch.kind == "messages",
            ),
        )
    )
    conn = db.session.connection()
    stmt = _dialect_insert(conn)(t).from_select(
        ["user_id", "circle_id", "kind", "count", "group_key", "data", "created_at", "updated_at"],
        readers,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "group_key"],
        set_={"count": t.c.count + 1, "updated_at": stmt.excluded.updated_at},
    ).returning(t.c.user_id, t.c.count)
    new_lines = [user_id for user_id, count in conn.execute(stmt) if count == 1]
    events.news_changed(new_lines)


# --- Reading -------------------------------------------------------------------------


def _visible(user_id: int):
    """Lines a person may see now: theirs, in a circle they are active in and have not
    muted; chat lines only while the chat is open to them."""
    return and_(Notification.user_id == user_id, visible_lines())


def visible_lines():
    """The rule of ``_visible`` for everyone's lines at once (the notification run): the
    query joins Membership (on the line's person) and Circle, as ``unread_count`` does."""
    chat_open = or_(Membership.role != Role.PROFESSIONAL, Circle.professionals_read_chat)
    return and_(
        Membership.circle_id == Notification.circle_id,
        Membership.user_id == Notification.user_id,
        Membership.status == MembershipStatus.ACTIVE,
        Membership.muted.is_(False),
        Circle.id == Notification.circle_id,
        or_(Notification.kind.not_in(CHAT_KINDS), chat_open),
    )


def unread_count(user_id: int) -> int:
    """The badge: one query."""
    return db.session.scalar(
        select(func.count(Notification.id))
        .select_from(Notification)
        .join(Membership, Membership.user_id == Notification.user_id)
        .join(Circle, Circle.id == Notification.circle_id)
        .where(_visible(user_id), Notification.read_at.is_(None))
    )


def news_page(user_id: int, page: int = 1, per_page: int = PAGE):
    """The person's news, newest first: a Flask-SQLAlchemy pagination of Notification
    rows, each with its ``circle`` and ``actor`` loaded (two queries in all)."""
    query = (
        select(Notification)
        .join(Membership, Membership.user_id == Notification.user_id)
        .join(Circle, Circle.id == Notification.circle_id)
        .where(_visible(user_id))
        .options(contains_eager(Notification.circle), joinedload(Notification.actor))
        .order_by(Notification.updated_at.desc(), Notification.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


# --- Marking read ----------------------------------------------------------------------


def mark_read(
    user_id: int,
    *,
    circle_id: int | None = None,
    kinds: Iterable[str] | None = None,
    ref_id: int | None = None,
    notification_id: int | None = None,
) -> int:
    """Mark the person's unread lines matching the filters read (all of them with no
    filter: "mark all as read"); return how many. Their open pages hear of it."""
    where = [Notification.user_id == user_id, Notification.read_at.is_(None)]
    if circle_id is not None:
        where.append(Notification.circle_id == circle_id)
    if kinds is not None:
        where.append(Notification.kind.in_(list(kinds)))
    if ref_id is not None:
        where.append(Notification.ref_id == ref_id)
    if notification_id is not None:
        where.append(Notification.id == notification_id)
    done = db.session.execute(
        update(Notification)
        .where(*where)
        .values(read_at=utcnow(), group_key=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        events.news_changed([user_id])
    return done
