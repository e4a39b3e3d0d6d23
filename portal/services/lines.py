"""The private line between a supporter and the member they support (issue 14).

Who supports whom (``Membership.supports_id``) is set by the invitation ("supporter of
X", copied on accepting) or by a central person on the people page (``set_supports``).
Each pair has its own ``SupportLine``; a new pair gets a new line, and the old one stays
closed unless the same pair stands again (``portal.access.lines``).

Delivery works as in the circle chat (``services.chat``, docs/realtime.md): a message
is committed before anyone hears of it; each line numbers its messages without gaps
under a row lock on the line; a repeated send with the same client id returns the
stored message. Only the two people hear of it (room ``line:<id>``), and only the other
one gets news of it, without its text.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select, update

from portal import events
from portal.access import (
    can_be_supported,
    can_support,
    hears_of_line_message,
    open_lines_of,
)
from portal.extensions import db
from portal.ids import as_id
from portal.models import Circle, LineMessage, Membership, Role, SupportLine
from portal.models.types import utcnow
from portal.services import ServiceError, notifications
from portal.services.chat import CLIENT_ID_RE, MAX_LENGTH, PAGE, validate_body
from portal.services.numbered import NumberedMessages

__all__ = ["MAX_LENGTH", "PAGE"]

NEWS_KINDS = ("line",)


# --- Who supports whom ----------------------------------------------------------------


def supported_member(circle_id: int, member_id) -> Membership:
    """The member an invitation or the people page names as supported, else the form's
    "choose from the list" (the same answer for a member of another circle, someone
    who left, a professional or the coordinator)."""
    member_id = as_id(member_id)
    member = db.session.get(Membership, member_id) if member_id is not None else None
    if member is None or not can_be_supported(member, circle_id):
        raise ServiceError(_l("Please choose the person they support from the list."), "supports")
    return member


def line_between(supporter: Membership, member: Membership) -> SupportLine:
    """The pair's line, made the first time the pair stands."""
    line = db.session.scalar(
        select(SupportLine).where(
            SupportLine.supporter_id == supporter.id, SupportLine.member_id == member.id
        )
    )
    if line is None:
        line = SupportLine(circle_id=supporter.circle_id, supporter=supporter, member=member)
        db.session.add(line)
        db.session.flush()
    return line


def supporter_joined(membership: Membership, supports_id: int | None) -> None:
    """On accepting a "supporter of X" invitation: the new supporter supports X, if X can
    still be supported (X may have left since the link was made)."""
    if membership.role != Role.SUPPORTER or supports_id is None:
        membership.supports_id = None
        return
    member = db.session.get(Membership, supports_id)
    if member is None or not can_support(membership, member):
        membership.supports_id = None
        return
    membership.supports_id = member.id
    membership.supporter_of = member.display_name
    line_between(membership, member)


def set_supports(circle: Circle, acting: Membership, supporter: Membership, member_id) -> None:
    """A central person names (or changes) the member a supporter supports. The line
    belongs to the new pair from now on; the old pair's line closes for both (their open
    pages are disconnected, and its unread news is put away)."""
    if not supporter.is_active or supporter.role != Role.SUPPORTER:
        raise ServiceError(_l("Only a supporter can support someone."), "supports")
    member = supported_member(circle.id, member_id)
    if member.id == supporter.id:
        raise ServiceError(_l("Please choose the person they support from the list."), "supports")
    if supporter.supports_id == member.id:
        return
    old = open_lines_of(supporter)
    supporter.supports_id = member.id
    supporter.supporter_of = member.display_name
    line_between(supporter, member)
    for line in old:
        if line.member_id != member.id:
            events.disconnect_room(events.line_room(line.id))
            notifications.settle(circle.id, "line", line.id)


def went(m: Membership) -> None:
    """``m`` left or was removed: their lines close (the pair no longer stands), so the
    unread news of those lines is put away for both, rather than leading to a 404."""
    ids = db.session.scalars(
        select(SupportLine.id).where(
            (SupportLine.supporter_id == m.id) | (SupportLine.member_id == m.id)
        )
    ).all()
    for line_id in ids:
        notifications.settle(m.circle_id, "line", line_id)


# --- Messages -----------------------------------------------------------------------


def to_dict(m: LineMessage, author_name: str | None = None) -> dict:
    """A line's message as clients see it (the chat's shape, with ``line_id``)."""
    return _shape(
        id=m.id,
        line_id=m.line_id,
        seq=m.seq,
        client_id=m.client_id,
        author_id=m.author_id,
        author=author_name if author_name is not None else m.author.display_name,
        body=m.body,
        created_at=m.created_at,
        removed=m.deleted_at is not None,
    )


def _shape(*, id, line_id, seq, client_id, author_id, author, body, created_at, removed=False):
    return {
        "id": id,
        "line_id": line_id,
        "seq": seq,
        "client_id": client_id,
        "author_id": author_id,
        "author": author,
        "body": "" if removed else body,
        "created_at": created_at.isoformat(),
        "edited": False,
        "removed": removed,
    }


# Numbered under a row lock on the line, stored once per client id, as the chat's
# (services.numbered).
_STORE = NumberedMessages(LineMessage, SupportLine, "line_id")
_lines = SupportLine.__table__


def other_of(line: SupportLine, me: Membership) -> Membership:
    return line.member if me.id == line.supporter_id else line.supporter


def send_message(line: SupportLine, me: Membership, client_id, body) -> tuple[dict, bool]:
    """Store a message on the line (``me`` is one of its two, checked by
    ``access.access_line``); return its dict and whether it is new. As
    ``chat.send_message``: the counter's row lock numbers concurrent sends one after
    another, a duplicate client id inserts nothing and gives its number back, and the
    transaction is never rolled back here."""
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise ServiceError(_l("Something went wrong. Please reload the page."), "client_id")
    text = validate_body(body)
    row, existing = _STORE.store(line.id, me.id, client_id, text)
    if existing is not None:
        return to_dict(existing, me.display_name), False
    other = other_of(line, me)
    if hears_of_line_message(other, line, me):
        notifications.line_message_sent(line, me, other)
    payload = _shape(author=me.display_name, **row)
    events.publish_line(line.id, {"type": "message", "op": "new", "message": payload})
    return payload, True


def _messages_of(line: SupportLine):
    return select(LineMessage).join(LineMessage.author).where(LineMessage.line_id == line.id)


def messages_after(line: SupportLine, after_seq: int, limit: int = 500) -> list[LineMessage]:
    """Catch-up: what came after ``after_seq``, oldest first."""
    return list(
        db.session.scalars(
            _messages_of(line)
            .where(LineMessage.seq > after_seq)
            .order_by(LineMessage.seq)
            .limit(limit)
        )
    )


def messages_before(line: SupportLine, before_seq: int | None, limit: int = PAGE) -> list:
    """Older messages, keyset on seq; returned oldest first."""
    q = _messages_of(line)
    if before_seq is not None:
        q = q.where(LineMessage.seq < before_seq)
    rows = list(db.session.scalars(q.order_by(LineMessage.seq.desc()).limit(limit)))
    rows.reverse()
    return rows


def _read_column(line: SupportLine, me: Membership):
    return _lines.c.supporter_read_seq if me.id == line.supporter_id else _lines.c.member_read_seq


def read_seq(line: SupportLine, me: Membership) -> int:
    return line.supporter_read_seq if me.id == line.supporter_id else line.member_read_seq


def mark_read(line: SupportLine, me: Membership, seq) -> None:
    """Remember the highest message ``me`` has seen on the line; never moves backwards.
    Their news of the line is read too."""
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > read_seq(line, me):
        column = _read_column(line, me)
        db.session.execute(
            update(_lines).where(_lines.c.id == line.id, column < seq).values({column: seq})
        )
    notifications.mark_seen(me.user_id, circle_id=line.circle_id, kinds=NEWS_KINDS, ref_id=line.id)


@dataclass(frozen=True)
class LineLink:
    """A line as the nav and the circle home show it to one of its two people."""

    line: SupportLine
    other: Membership
    i_support: bool  # I am the supporter (else they support me)
    unread: int


def my_lines(me: Membership) -> list[LineLink]:
    """The lines open to ``me`` with what is unread on each: two queries at most."""
    lines = open_lines_of(me)
    if not lines:
        return []
    unread = dict(
        db.session.execute(
            select(LineMessage.line_id, func.count(LineMessage.id))
            .join(SupportLine, SupportLine.id == LineMessage.line_id)
            .where(
                LineMessage.line_id.in_([line.id for line in lines]),
                LineMessage.author_id != me.id,
                LineMessage.deleted_at.is_(None),
                LineMessage.seq > _read_cursor_sql(me),
            )
            .group_by(LineMessage.line_id)
        ).all()
    )
    return [
        LineLink(line, other_of(line, me), line.supporter_id == me.id, unread.get(line.id, 0))
        for line in lines
    ]


def _read_cursor_sql(me: Membership):
    """My side's read cursor on each line, in SQL."""
    return case(
        (SupportLine.supporter_id == me.id, SupportLine.supporter_read_seq),
        else_=SupportLine.member_read_seq,
    )


# --- The life of the data -------------------------------------------------------------


def empty_messages_of(m: Membership) -> None:
    """Erasure with "delete my messages" (``services.erasure``): the person's texts on
    every line are emptied and read "message removed", keeping their numbers."""
    db.session.execute(
        update(LineMessage)
        .where(LineMessage.author_id == m.id)
        .values(body="", deleted_at=func.coalesce(LineMessage.deleted_at, utcnow()))
    )


def purge_circle(circle_id: int) -> dict[str, int]:
    """The purge of a closed circle (``portal.purge``): every line message and line."""
    lines = select(SupportLine.id).where(SupportLine.circle_id == circle_id)
    removed = {
        "line_messages": db.session.execute(
            delete(LineMessage)
            .where(LineMessage.line_id.in_(lines))
            .execution_options(synchronize_session=False)
        ).rowcount,
    }
    removed["support_lines"] = db.session.execute(
        delete(SupportLine)
        .where(SupportLine.circle_id == circle_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    return removed
