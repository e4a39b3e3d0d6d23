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
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager, joinedload

from portal import events
from portal.access import can_read_chat, chat_open_sql
from portal.extensions import BULK_INSERT, db
from portal.hotsql import HotStatement
from portal.models import (
    Circle,
    Membership,
    MembershipStatus,
    Message,
    Notification,
    NotificationSwitch,
    User,
)
from portal.models.notifications import NEWS_KINDS
from portal.models.types import utcnow
from portal.sanitize import MENTION_RE

CHAT_KINDS = ("mention", "messages")
PAGE = 30


def _switched_off(kinds: Iterable[str], user_ids: Iterable[int] | None = None) -> set:
    """``(user id, kind)`` for every app kind among ``kinds`` switched off, by anyone (the
    clock's run, for everyone at once) or by ``user_ids`` (one event's recipients)."""
    where = [NotificationSwitch.channel == "app", NotificationSwitch.kind.in_(sorted(kinds))]
    if user_ids is not None:
        ids = sorted(set(user_ids))
        if not ids:
            return set()
        where.append(NotificationSwitch.user_id.in_(ids))
    return set(
        db.session.execute(
            select(NotificationSwitch.user_id, NotificationSwitch.kind).where(*where)
        ).all()
    )


def _wanted(m: Membership, line: Line, off: set) -> bool:
    """Whether ``m`` gets ``line``: active, not muted, not its actor, kind not off, and
    a person who can come in (an offline member's stand-in account never does)."""
    return (
        m.is_active
        and not m.offline
        and not m.muted
        and (line.actor is None or m.id != line.actor.id)
        and (m.user_id, line.kind) not in off
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
    members = list(members)
    line = Line(kind, ref_id, data, dedupe_key, actor)
    off = _switched_off([kind], (m.user_id for m in members))
    when = now or utcnow()
    rows = [_row(m, line, when) for m in members if _wanted(m, line, off)]
    return _insert_lines(rows, dedupe=bool(dedupe_key))


@dataclass(frozen=True)
class Line:
    """What one batch of news lines says (``notify``, ``notify_each``)."""

    kind: str
    ref_id: int | None
    data: dict | None
    dedupe_key: str | None  # with ``{user}``: news from the clock is made once per person
    actor: Membership | None = None


def notify_each(batches: Iterable[tuple[Line, Iterable[Membership]]], now: datetime) -> list[int]:
    """``notify`` for many batches at once (the clock's news for everyone): one query for
    the switches and one insert, however many batches and people. Every batch has a
    ``dedupe_key``. Returns the user ids that got a line (once per line made)."""
    batches = [(line, list(members)) for line, members in batches]
    kinds = {line.kind for line, _m in batches}
    assert kinds <= set(NEWS_KINDS)
    off = _switched_off(kinds)
    rows = [
        _row(m, line, now) for line, members in batches for m in members if _wanted(m, line, off)
    ]
    return _insert_lines(rows, dedupe=True, each=True)


def _row(m: Membership, line: Line, when: datetime) -> dict:
    return {
        "user_id": m.user_id,
        "circle_id": m.circle_id,
        "kind": line.kind,
        "ref_id": line.ref_id,
        "actor_id": line.actor.id if line.actor else None,
        "data": dict(line.data or {}),
        "count": 1,
        "dedupe_key": line.dedupe_key.format(user=m.user_id) if line.dedupe_key else None,
        "created_at": when,
        "updated_at": when,
    }


def _insert_lines(rows: list[dict], *, dedupe: bool, each: bool = False) -> list[int]:
    """Insert news lines in one statement; tell their people's pages after commit.
    Returns the user ids of the lines made (sorted, once each unless ``each``)."""
    if not rows:
        return []
    conn = db.session.connection()
    insert = _dialect_insert(conn)(Notification.__table__)
    if dedupe:
        insert = insert.on_conflict_do_nothing(index_elements=["dedupe_key"])
    stmt = insert.returning(Notification.__table__.c.user_id).execution_options(**BULK_INSERT)
    made = list(conn.execute(stmt, rows).scalars())
    user_ids = sorted(set(made))
    events.news_changed(user_ids)
    return sorted(made) if each else user_ids


def _dialect_insert(conn):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def messages_upsert(dialect_insert, *, author=None, only_if=None, circle=None):
    """INSERT ... SELECT every other reader of the chat ... ON CONFLICT (user,
    group_key) DO UPDATE count + 1, RETURNING (user, count). Built once per dialect at
    import: this runs on every chat send, the one hot path (docs/architecture.md).

    ``author``: the condition that leaves the author out (by default, membership id
    ``:author_id``); ``only_if``: a further condition on the whole insert (the chat's
    one-statement send on PostgreSQL: only when the message was stored); ``circle``: a
    selectable with the circle's ``professionals_read_chat`` to read instead of the
    circles table (that send's ``seat``: the row as it is once the send holds its lock,
    not as it was when the statement began: a send that waited for the coordinator to
    close the chat to professionals must not give them news of it)."""
    t = Notification.__table__
    m, c = Membership.__table__, Circle.__table__
    joined = m.join(c, c.c.id == m.c.circle_id)
    if circle is not None:
        c, joined = circle, m.join(circle, true())
    if author is None:
        author = m.c.id != bindparam("author_id")
    when = bindparam("when", type_=t.c.created_at.type)
    readers = (
        select(
            m.c.user_id,
            bindparam("circle_id"),
            literal("messages"),
            literal(1),
            bindparam("group_key"),
            literal({}, type_=t.c.data.type),
            when,
            when,
        )
        .select_from(joined)
        .where(
            m.c.circle_id == bindparam("circle_id"),
            m.c.status == MembershipStatus.ACTIVE.value,
            author,
            m.c.muted.is_(False),
            m.c.offline.is_(False),
            chat_open_sql(m.c.role, c.c.professionals_read_chat),
            ~exists().where(
                NotificationSwitch.user_id == m.c.user_id,
                NotificationSwitch.channel == "app",
                NotificationSwitch.kind == "messages",
            ),
            *([] if only_if is None else [only_if]),
        )
    )
    columns = ["user_id", "circle_id", "kind", "count", "group_key", "data"]
    stmt = dialect_insert(t).from_select([*columns, "created_at", "updated_at"], readers)
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "group_key"],
        set_={"count": t.c.count + 1, "updated_at": stmt.excluded.updated_at},
    ).returning(t.c.user_id, t.c.count)


_MESSAGES_UPSERT = {
    "postgresql": HotStatement(messages_upsert(pg_insert)),
    "sqlite": HotStatement(messages_upsert(sqlite_insert)),
}


def messages_sent(
    circle_id: int, author_id: int, *, now: datetime | None = None, conn=None
) -> None:
    """A chat message: every other reader of the chat gets one "new messages" line per
    circle, counting up while unread (one statement whatever the circle's size). Only
    people whose line is new hear of it (their count changed); for the others only the
    number on the line grew. ``conn``: the session's connection, if the caller has it."""
    if conn is None:
        conn = db.session.connection()
    params = {
        "circle_id": circle_id,
        "author_id": author_id,
        "group_key": f"messages:{circle_id}",
        "when": now or utcnow(),
    }
    rows = _MESSAGES_UPSERT[conn.dialect.name].execute(conn, params)
    events.news_changed([user_id for user_id, count in rows if count == 1])


def _line_upsert(dialect_insert):
    """One person's "new messages on your private line" line, counting up while unread:
    INSERT ... ON CONFLICT (user, group_key) DO UPDATE count + 1, RETURNING count."""
    t = Notification.__table__
    stmt = dialect_insert(t).values(
        user_id=bindparam("user_id"),
        circle_id=bindparam("circle_id"),
        kind="line",
        ref_id=bindparam("line_id"),
        actor_id=bindparam("actor_id"),
        count=1,
        group_key=bindparam("group_key"),
        data={},
        created_at=bindparam("when", type_=t.c.created_at.type),
        updated_at=bindparam("when", type_=t.c.updated_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "group_key"],
        set_={"count": t.c.count + 1, "updated_at": stmt.excluded.updated_at},
    ).returning(t.c.count)


_LINE_UPSERT = {"postgresql": _line_upsert(pg_insert), "sqlite": _line_upsert(sqlite_insert)}


def line_message_sent(line, author: Membership, reader: Membership, *, now=None) -> None:
    """A message on a private line (issue 14): news for its other person only (chosen by
    the caller with ``access.hears_of_line_message``), one line per line counting up while
    unread, unless they muted the circle or switched the kind off. Never the text."""
    if not reader.is_active or reader.muted or reader.id == author.id:
        return
    if _switched_off(["line"], [reader.user_id]):
        return
    conn = db.session.connection()
    count = conn.execute(
        _LINE_UPSERT[conn.dialect.name],
        {
            "user_id": reader.user_id,
            "circle_id": line.circle_id,
            "line_id": line.id,
            "actor_id": author.id,
            "group_key": f"line:{line.id}",
            "when": now or utcnow(),
        },
    ).scalar_one()
    if count == 1:
        events.news_changed([reader.user_id])


# --- Reading -------------------------------------------------------------------------


def _visible(user_id: int):
    """Lines a person may see now: theirs, in a circle they are active in and have not
    muted; chat lines only while the chat is open to them."""
    return and_(Notification.user_id == user_id, visible_lines())


def visible_lines():
    """The rule of ``_visible`` for everyone's lines at once (the notification run): the
    query joins Membership (on the line's person) and Circle, as ``unread_count`` does."""
    chat_open = chat_open_sql(Membership.role, Circle.professionals_read_chat)
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


def mark_read(user_id: int, **filters) -> int:
    """Mark the person's unread lines matching ``filters`` read (``circle_id``,
    ``kinds``, ``ref_id``, ``notification_id``; none: "mark all as read"); return how
    many. Their open pages hear of it."""
    return _mark(_unread_filters(user_id, **filters))


def _mark(where: list) -> int:
    """Mark the unread lines ``where`` read, in one statement; their people's open pages
    hear of it after commit. Returns how many."""
    user_ids = db.session.scalars(
        update(Notification)
        .where(*where)
        .values(read_at=utcnow(), group_key=None)
        .returning(Notification.user_id)
        .execution_options(synchronize_session=False)
    ).all()
    events.news_changed(sorted(set(user_ids)))
    return len(user_ids)


def mark_seen(user_id: int, **filters) -> int:
    """A page about some of the person's news is being shown: mark those lines read.

    Reads first and writes only when there is something unread, so a page that only
    shows (the plan, a meeting) writes nothing on an ordinary visit. Same filters as
    ``mark_read``."""
    if filters.get("kinds") is not None:
        filters["kinds"] = list(filters["kinds"])  # asked twice: not a one-off iterator
    if not db.session.scalar(select(exists().where(*_unread_filters(user_id, **filters)))):
        return 0
    return mark_read(user_id, **filters)


def _unread_filters(
    user_id: int | None,
    *,
    circle_id: int | None = None,
    kinds: Iterable[str] | None = None,
    ref_id: int | None = None,
    notification_id: int | None = None,
) -> list:
    where = [Notification.read_at.is_(None)]
    if user_id is not None:
        where.append(Notification.user_id == user_id)
    if circle_id is not None:
        where.append(Notification.circle_id == circle_id)
    if kinds is not None:
        where.append(Notification.kind.in_(list(kinds)))
    if ref_id is not None:
        where.append(Notification.ref_id == ref_id)
    if notification_id is not None:
        where.append(Notification.id == notification_id)
    return where


# --- Mentions --------------------------------------------------------------------------

MAX_MENTIONS = 20  # names looked up per message; more is not a conversation


def mentioned_usernames(text: str) -> set[str]:
    """The usernames ``text`` mentions, lowercased. A name at the end of a sentence
    ("thanks @sanne.") counts with and without the punctuation."""
    names: set[str] = set()
    for match in MENTION_RE.finditer(text):
        name = match.group(1).lower()
        names.update(n for n in (name, name.rstrip("._-")) if len(n) >= 3)
        if len(names) >= MAX_MENTIONS:
            break
    return names


def mentioned(circle_id: int, author_id: int, message_id: int, text: str) -> list[int]:
    """A chat message was sent: each person it mentions by ``@username`` gets a
    "mention" line, if they are in the circle and may read its chat. Never the author;
    a name nobody in the circle has does nothing. Returns the user ids told."""
    names = mentioned_usernames(text)
    if not names:
        return []
    members = db.session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .join(Circle, Circle.id == Membership.circle_id)
        .where(
            Membership.circle_id == circle_id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.offline.is_(False),
            User.username.in_(sorted(names)),
        )
        .options(contains_eager(Membership.circle))
    ).all()
    readers = [m for m in members if can_read_chat(m) and m.id != author_id]
    if not readers:
        return []
    author = db.session.get(Membership, author_id)
    return notify(readers, "mention", ref_id=message_id, actor=author)


def message_seqs(message_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Message id -> (circle id, seq), for links to the chat at a message (one query)."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Message.id, Message.circle_id, Message.seq).where(Message.id.in_(ids))
    )
    return {id_: (circle_id, seq) for id_, circle_id, seq in rows}


def settle(circle_id: int, kind: str, ref_id: int, *, user_id: int | None = None) -> int:
    """The thing a line waits on is done (a proposal decided, a poll answered or
    closed, a call for help taken care of): mark its unread ``kind`` lines read, for
    everyone (or only ``user_id``), in one statement; their open pages hear of it."""
    return _mark(_unread_filters(user_id, circle_id=circle_id, kinds=[kind], ref_id=ref_id))
