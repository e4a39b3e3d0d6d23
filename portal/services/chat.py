"""Chat: sending, editing, deleting and reading messages.

Delivery rules (docs/realtime.md): a message is committed before anyone hears of it;
each circle numbers its messages without gaps; a repeated send with the same
client id returns the stored message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import contains_eager

from portal import events
from portal.access import (
    ChatSeat,
    access_chat_seat,
    can_read_chat,
    can_remove_message,
    chat_open_sql,
)
from portal.extensions import db
from portal.hotsql import HotStatement
from portal.ids import is_id
from portal.models import (
    Circle,
    Membership,
    MembershipStatus,
    Message,
    MessageRevision,
    User,
)
from portal.models.types import utcnow
from portal.sanitize import clean_text
from portal.services import ServiceError, notifications
from portal.services.history import record
from portal.services.numbered import NumberedMessages

MAX_LENGTH = 4000
EDIT_WINDOW = timedelta(minutes=15)
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PAGE = 50


def validate_body(body) -> str:
    if not isinstance(body, str):
        raise ServiceError(_l("Please write a message."), "body")
    text = clean_text(body).strip()
    if not text:
        raise ServiceError(_l("Please write a message."), "body")
    if len(text) > MAX_LENGTH:
        raise ServiceError(
            _l(
                "This message is too long: %(n)d characters. The limit is %(max)d.",
                n=len(text),
                max=MAX_LENGTH,
            ),
            "body",
        )
    return text


def _shape(
    *, id, circle_id, seq, client_id, author_id, author, body, created_at,
    edited=False, removed=False, removed_by_central=False,
) -> dict:  # fmt: skip
    """The message as clients see it (docs/realtime.md, "Message")."""
    return {
        "id": id,
        "circle_id": circle_id,
        "seq": seq,
        "client_id": client_id,
        "author_id": author_id,
        "author": author,
        "body": "" if removed else body,
        "created_at": created_at.isoformat(),
        "edited": edited,
        "removed": removed,
        "removed_by_central": removed_by_central,
    }


def to_dict(m: Message, author_name: str | None = None) -> dict:
    return _shape(
        id=m.id,
        circle_id=m.circle_id,
        seq=m.seq,
        client_id=m.client_id,
        author_id=m.author_id,
        author=author_name if author_name is not None else m.author.display_name,
        body=m.body,
        created_at=m.created_at,
        edited=m.edited_at is not None,
        removed=m.deleted_at is not None,
        removed_by_central=m.removed_by_id is not None,
    )


# Numbered under a row lock on the circle, stored once per client id (services.numbered).
_STORE = NumberedMessages(Message, Circle, "circle_id")


def send_message(seat: ChatSeat, client_id, body) -> tuple[dict, bool]:
    """Store a message; return its dict and whether it is new. Everyone else who reads
    the chat gets news of it; an ``@username`` in it tells that person in particular.

    Four statements on the normal path: bump the circle's counter (which takes a row
    lock, so concurrent senders are numbered one after another and a rollback leaves
    no gap), insert, the readers' news line, and the caller's commit. A duplicate
    client id inserts nothing (``ON CONFLICT DO NOTHING`` on the unique constraint);
    then the number is given back, still under the lock, and the stored message is
    returned instead. The transaction is never rolled back here: that would drop the
    caller's other work.
    """
    text = _validate(client_id, body)
    row, existing = _STORE.store(seat.circle_id, seat.membership_id, client_id, text)
    return _stored(seat, text, row, existing)


def _validate(client_id, body) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise ServiceError(_l("Something went wrong. Please reload the page."), "client_id")
    return validate_body(body)


def _stored(seat: ChatSeat, text: str, row, existing, *, conn=None) -> tuple[dict, bool]:
    if existing is not None:
        return to_dict(existing, seat.display_name), False
    notifications.messages_sent(seat.circle_id, seat.membership_id, conn=conn)
    return _announce(seat, text, row), True


def _announce(seat: ChatSeat, text: str, row: dict) -> dict:
    """A stored new message: tell anyone it mentions, and everyone in the chat (after
    the commit); return it as clients see it."""
    if "@" in text:  # looked up only when the message could mention someone
        notifications.mentioned(seat.circle_id, seat.membership_id, row["id"], text)
    # The stored row as clients see it, without loading it back.
    payload = _shape(author=seat.display_name, **row)
    events.publish(
        seat.circle_id,
        {"type": "message", "op": "new", "message": payload},
        event_name="chat:message",
    )
    return payload


def _seated_next_seq():
    """PostgreSQL: ``access_chat_seat`` and the counter's bump in one statement. It
    moves the counter on only for an active member allowed to write in an open
    circle's chat, and returns the seat's columns with the new number, and the circle's
    ``professionals_read_chat`` as it is under the lock (for the news line: the statement's
    other reads of the circle see it as it was when the statement began)."""
    circles, members = Circle.__table__, Membership.__table__
    return (
        update(circles)
        .where(
            circles.c.id == bindparam("circle_id"),
            members.c.circle_id == circles.c.id,
            members.c.user_id == bindparam("user_id"),
            members.c.status == MembershipStatus.ACTIVE,
            circles.c.closed_at.is_(None),
            chat_open_sql(members.c.role, circles.c.professionals_read_chat),
        )
        .values(message_seq=circles.c.message_seq + 1)
        .returning(
            circles.c.message_seq,
            members.c.id,
            members.c.display_name,
            circles.c.professionals_read_chat,
        )
    )


def _seated_next_seq_sqlite():
    """SQLite: the same statement. Its ``RETURNING`` cannot read an ``UPDATE ... FROM``
    table, so the seat is an ``EXISTS`` in the condition and its two columns are
    subqueries on the membership's unique (circle, person) index. SQLite writes its
    ``RETURNING`` columns without their table's name, so those subqueries name no
    column of ``circles``: they only run for the row the condition let through, and
    one writer at a time means they see the membership the ``EXISTS`` saw."""
    circles, members = Circle.__table__, Membership.__table__
    seat = (
        members.c.circle_id == bindparam("circle_id"),
        members.c.user_id == bindparam("user_id"),
        members.c.status == MembershipStatus.ACTIVE,
    )
    return (
        update(circles)
        .where(
            circles.c.id == bindparam("circle_id"),
            circles.c.closed_at.is_(None),
            select(members.c.id)
            .where(*seat, chat_open_sql(members.c.role, circles.c.professionals_read_chat))
            .exists(),
        )
        .values(message_seq=circles.c.message_seq + 1)
        .returning(
            circles.c.message_seq,
            select(members.c.id).where(*seat).scalar_subquery(),
            select(members.c.display_name).where(*seat).scalar_subquery(),
        )
    )


def _send_in_one():
    """PostgreSQL: the whole send in one statement (data-modifying CTEs), so a send is
    three round trips (BEGIN, this, COMMIT) instead of five: under gevent each round
    trip costs more CPU than the statement (bench/README.md).

    - ``seat``: ``_seated_next_seq``: the access check and the counter's bump, under
      the circle's row lock;
    - ``stored``: the insert, numbered from ``seat``; nothing for a resent client id;
    - ``news``: the readers' news line (``notifications.messages_upsert``), only when
      ``stored`` stored the message.

    Returns no row when there is no seat; else (seq, membership id, display name,
    message id or NULL for a resent client id, the user ids whose news line is new).
    Every CTE runs to completion whether or not the outer SELECT reads it."""
    messages, members = Message.__table__, Membership.__table__
    seat = _seated_next_seq().cte("seat")
    columns = ["circle_id", "seq", "author_id", "client_id", "body", "created_at"]
    numbered = select(
        bindparam("circle_id", type_=messages.c.circle_id.type),
        seat.c.message_seq,
        seat.c.id,
        bindparam("client_id", type_=messages.c.client_id.type),
        bindparam("body", type_=messages.c.body.type),
        # "when", not "created_at": in the parameters of a statement that updates
        # circles, that name would also set circles.created_at.
        bindparam("when", type_=messages.c.created_at.type),
    )
    stored = (
        pg_insert(messages)
        .from_select(columns, numbered)
        .on_conflict_do_nothing(index_elements=["circle_id", "author_id", "client_id"])
        .returning(messages.c.id)
        .cte("stored")
    )
    news = notifications.messages_upsert(
        pg_insert,
        author=members.c.user_id != bindparam("user_id"),
        only_if=select(stored.c.id).exists(),
        circle=seat,
    ).cte("news")
    told = select(func.array_agg(news.c.user_id)).where(news.c.count == 1).scalar_subquery()
    return select(
        seat.c.message_seq, seat.c.id, seat.c.display_name, stored.c.id, told
    ).select_from(seat.outerjoin(stored, true()))


_SEATED_NEXT_SEQ = HotStatement(_seated_next_seq_sqlite())
_SEND_IN_ONE = HotStatement(_send_in_one())


def send_as(user, circle_id: int, client_id, body) -> tuple[dict, bool]:
    """A socket's send: ``access_chat_seat`` then ``send_message``, with fewer round
    trips. On PostgreSQL the whole send is one statement (``_send_in_one``); on SQLite
    the access check and the counter are one, then the insert and the news line
    (SQLAlchemy's work per statement costs more than SQLite's own). When it finds no
    seat, ``access_chat_seat`` gives the exact answer (404, 403, closed). Errors after
    the counter moved leave it to the caller's rollback (``realtime.protocol.event``
    rolls back every failed event)."""
    conn = db.session.connection()
    sent = None
    if user is not None and user.is_authenticated:
        if conn.dialect.name == "postgresql":
            sent = _send_in_one_statement(conn, user, circle_id, client_id, body)
        elif conn.dialect.name == "sqlite":
            sent = _send_seated(conn, user, circle_id, client_id, body)
    if sent is not None:
        return sent
    return send_message(access_chat_seat(user, circle_id), client_id, body)


def _send_seated(conn, user, circle_id: int, client_id, body):
    """``send_as`` on SQLite; None when there is no seat."""
    params = {"circle_id": circle_id, "user_id": user.id}
    row = _SEATED_NEXT_SEQ.execute(conn, params).first()
    if row is None:
        return None
    seq, membership_id, display_name = row
    seat = ChatSeat(circle_id, membership_id, display_name, user.id)
    text = _validate(client_id, body)
    stored = _STORE.store_numbered(circle_id, seq, membership_id, client_id, text, conn=conn)
    return _stored(seat, text, *stored, conn=conn)


def _send_in_one_statement(conn, user, circle_id: int, client_id, body):
    """``send_as`` on PostgreSQL (``_send_in_one``). None when there is no seat or the
    text is refused: the caller's usual path then gives the exact answer, the access
    check's first (a stranger learns nothing from a text being too long)."""
    try:
        text = _validate(client_id, body)
    except ServiceError:
        return None
    now = utcnow()
    params = {
        "circle_id": circle_id,
        "user_id": user.id,
        "client_id": client_id,
        "body": text,
        "group_key": f"messages:{circle_id}",
        "when": now,
    }
    row = _SEND_IN_ONE.execute(conn, params).first()
    if row is None:
        return None
    seq, membership_id, display_name, message_id, told = row
    seat = ChatSeat(circle_id, membership_id, display_name, user.id)
    if message_id is None:  # a resent client id: nothing stored, no news
        existing = _STORE.resent(circle_id, membership_id, client_id, conn=conn)
        return to_dict(existing, display_name), False
    events.news_changed(told or [])
    stored = _STORE.row(circle_id, seq, membership_id, client_id, text, now)
    return _announce(seat, text, {"id": message_id, **stored}), True


def access_message(circle: Circle, message_id) -> Message:
    """A message of this circle, else ServiceError (sockets) — routes turn it into 404."""
    if not is_id(message_id):
        raise LookupError
    m = db.session.get(Message, message_id)
    if m is None or m.circle_id != circle.id:
        raise LookupError
    return m


def edit_message(circle: Circle, acting: Membership, message: Message, body) -> dict:
    if message.author_id != acting.id:
        raise ServiceError(_l("You can only change your own messages."))
    if message.deleted_at is not None:
        raise ServiceError(_l("This message was removed."))
    if utcnow() - message.created_at > EDIT_WINDOW:
        raise ServiceError(_l("Messages can be changed for 15 minutes after sending."))
    text = validate_body(body)
    if text == message.body:
        return to_dict(message)
    db.session.add(
        MessageRevision(
            message_id=message.id,
            body=message.body,
            written_at=message.edited_at or message.created_at,
        )
    )
    message.body = text
    message.edited_at = utcnow()
    payload = to_dict(message)
    events.publish(
        circle.id, {"type": "message", "op": "edit", "message": payload}, event_name="chat:message"
    )
    return payload


def delete_message(circle: Circle, acting: Membership, message: Message) -> dict:
    """The author deletes their own; a central person may remove any hurtful message.

    The text and its earlier versions are erased; a "message removed" marker stays so
    the conversation still makes sense. A central person's removal goes in the history.
    """
    own = message.author_id == acting.id
    if not can_remove_message(acting, message):
        raise ServiceError(_l("You can only remove your own messages."))
    if message.deleted_at is not None:
        return to_dict(message)
    message.deleted_at = utcnow()
    message.body = ""
    message.revisions.clear()
    if not own:
        message.removed_by_id = acting.id
        record(circle, "message_removed", actor=acting, subject=message.author, seq=message.seq)
    payload = to_dict(message)
    events.publish(
        circle.id,
        {"type": "message", "op": "delete", "message": payload},
        event_name="chat:message",
    )
    return payload


def _with_authors(query):
    return query.join(Message.author).options(contains_eager(Message.author))


def messages_after(circle: Circle, after_seq: int, limit: int = 500) -> list[Message]:
    """Catch-up: what came after ``after_seq``, oldest first."""
    return list(
        db.session.scalars(
            _with_authors(select(Message))
            .where(Message.circle_id == circle.id, Message.seq > after_seq)
            .order_by(Message.seq)
            .limit(limit)
        )
    )


def messages_before(circle: Circle, before_seq: int | None, limit: int = PAGE) -> list[Message]:
    """Older history, keyset-paginated on seq (no OFFSET); returned oldest first."""
    q = _with_authors(select(Message)).where(Message.circle_id == circle.id)
    if before_seq is not None:
        q = q.where(Message.seq < before_seq)
    rows = list(db.session.scalars(q.order_by(Message.seq.desc()).limit(limit)))
    rows.reverse()
    return rows


@dataclass
class ChatView:
    messages: list[Message]
    first_unread_seq: int | None
    has_older: bool
    has_newer: bool


def open_chat(
    circle: Circle, me: Membership, *, before: int | None = None, after: int | None = None
) -> ChatView:
    """The page of messages to show when someone opens the chat.

    By default it starts at the first unread message (with a little context above it)
    when there are more unread messages than fit; otherwise it shows the latest page.
    Costs the same few queries however long the history is.
    """
    last = circle.message_seq
    first_unread, unread = db.session.execute(
        select(func.min(Message.seq), func.count(Message.id)).where(*_unread_filter(me))
    ).one()
    if after is not None:
        rows = messages_after(circle, after, PAGE)
    elif before is not None:
        rows = messages_before(circle, before, PAGE)
    elif first_unread is not None and last - first_unread + 1 > PAGE - 5:
        rows = messages_after(circle, max(0, first_unread - 6), PAGE)
    else:
        rows = messages_before(circle, None, PAGE)
    has_older = bool(rows) and rows[0].seq > 1
    has_newer = bool(rows) and rows[-1].seq < last
    return ChatView(rows, first_unread, has_older, has_newer)


def _unread_filter(me: Membership) -> tuple:
    """Messages after my read cursor, written by others and not removed."""
    return (
        Message.circle_id == me.circle_id,
        Message.seq > me.last_read_seq,
        Message.author_id != me.id,
        Message.deleted_at.is_(None),
    )


def mark_read(me: Membership, seq: int) -> None:
    """Remember the highest message seen; never moves backwards."""
    if isinstance(seq, int) and seq > me.last_read_seq:
        db.session.execute(
            update(Membership)
            .where(Membership.id == me.id, Membership.last_read_seq < seq)
            .values(last_read_seq=seq)
        )


def unread_counts(user_id: int) -> dict[int, int]:
    """Unread messages (by others, not removed) per circle for one person, in one query."""
    rows = db.session.execute(
        select(Membership.circle_id, func.count(Message.id))
        .join(
            Message,
            (Message.circle_id == Membership.circle_id)
            & (Message.seq > Membership.last_read_seq)
            & (Message.author_id != Membership.id)
            & Message.deleted_at.is_(None),
        )
        .where(Membership.user_id == user_id, Membership.status == MembershipStatus.ACTIVE)
        .group_by(Membership.circle_id)
    ).all()
    return dict(rows)


def set_presence_enabled(circle: Circle, acting: Membership, enabled: bool) -> None:
    if circle.presence_enabled == enabled:
        return
    circle.presence_enabled = enabled
    record(circle, "presence_on" if enabled else "presence_off", actor=acting)
    events.presence_switched(circle.id, enabled)


def mentionable(circle: Circle) -> list[tuple[str, str]]:
    """The people one can ``@mention`` in this circle's chat: (name here, username) of
    everyone active who reads it, by name (one query)."""
    rows = db.session.execute(
        select(Membership, User.username)
        .join(User, User.id == Membership.user_id)
        .where(Membership.circle_id == circle.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(func.lower(Membership.display_name), Membership.id)
    )
    return [(m.display_name, username) for m, username in rows if can_read_chat(m)]
