"""The sequence beat: no gap after an outage (issue 15).

Socket.IO delivers at most once, and with several processes a live message crosses
Redis. While Redis is down the sending process gives up publishing ("Cannot publish to
redis... giving up"): a page that stays connected meanwhile never hears of those
messages, and before the beat it had no way to notice the gap until a reconnect.

So every ``SEQ_BEAT_SECONDS`` each process reads, in ONE statement, the latest ``seq``
of every circle chat and private line that has a socket joined **in this process**,
and tells those sockets directly (``ignore_queue``: not through Redis, so it works
while Redis is down): ``chat:latest {circle_id, seq}`` and ``line:latest {circle_id,
line_id, seq}``. A page that holds less runs its usual catch-up (``chat:join
after_seq``), which drops what it already has by ``seq``: every message shows up
once, in order, within a beat or two of Redis (or the database) coming back.

Access is checked in the same statement, not taken from the rooms: a socket is in a
room because it once passed ``access_chat``/``access_line``, but closing a removed
member's sockets goes through Redis too and may have been lost. So a beat goes only to
sockets whose person may still read that chat (an active membership; professionals
only while the chat is open to them) or line (one of the pair, and the pair stands).
Nothing is read when no socket of this process has joined a chat or a line.

Quiet beats: a beat tells a room only when its sockets may lack something: the room's
latest ``seq`` is above the one up to which this process delivered every message live
(``HeardQueue.heard``, portal/realtime/queue.py: a message heard past a hole does not
count until the hole fills; a socket's join counts the room as heard up to what its
catch-up read, ``joined``). Once told, the room counts as heard up to that ``seq``, and
it is told again at the next ``SEQ_BEAT_AGAIN`` beats: a page whose catch-up was
already on its way with an older read, or failed (the database away for a moment),
hears it again within seconds. And every room hears its latest once in
``SEQ_BEAT_FULL_EVERY`` beats, a share of the rooms at each beat (``part``), so no beat
writes to every socket. Before, every beat wrote to every joined socket: with 1,000
sockets a third as many frames as 1,000 deliveries a second, and a stall of 50-90 ms
each time (bench/README.md).
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict

from flask import Flask, current_app
from sqlalchemy import and_, literal, select, union_all
from sqlalchemy.orm import aliased

from portal import events
from portal.access.chat import chat_open_sql
from portal.access.lines import SUPPORTED_ROLES
from portal.extensions import db, socketio
from portal.models import Circle, Membership, MembershipStatus, Role, SupportLine
from portal.realtime.state import SOCKETS

log = logging.getLogger(__name__)

_CHAT, _LINE = "circle:", "line:"


def _local_rooms() -> dict[str, list[str]]:
    """This process's chat and line rooms that have sockets: room -> socket ids. Rooms
    are per process (the Redis manager only forwards emits), so this is exactly who
    is connected here."""
    server = socketio.server
    if server is None:
        return {}
    rooms = server.manager.rooms.get("/", {})
    return {
        room: list(sids)
        for room, sids in list(rooms.items())
        if isinstance(room, str) and room.startswith((_CHAT, _LINE)) and sids
    }


def _statement(circle_ids: list[int], line_ids: list[int]):
    """One statement: (kind, id, seq, user id allowed to hear it) for the circles and
    lines asked. Everyone allowed comes back, not only this process's people: a list of
    a thousand user ids in the statement made it several times slower (bench/beat.py);
    ``_send`` keeps the sockets whose person is in it."""
    active = MembershipStatus.ACTIVE
    chats = (
        select(
            literal("c").label("kind"),
            Circle.id,
            Circle.message_seq,
            Membership.user_id,
        )
        .join(Membership, Membership.circle_id == Circle.id)
        .where(
            Circle.id.in_(circle_ids or [0]),
            Membership.status == active,
            chat_open_sql(Membership.role, Circle.professionals_read_chat),
        )
    )
    # ``access.lines.pair_stands`` as SQL: both active and not offline, the supporter a
    # supporter who supports that member, the member someone who can be supported.
    sup, mem = aliased(Membership), aliased(Membership)
    pair = and_(
        sup.status == active,
        mem.status == active,
        sup.offline.is_(False),
        mem.offline.is_(False),
        sup.role == Role.SUPPORTER,
        sup.supports_id == mem.id,
        mem.id != sup.id,
        mem.role.in_(list(SUPPORTED_ROLES)),
        sup.circle_id == SupportLine.circle_id,
        mem.circle_id == SupportLine.circle_id,
    )
    lines = [
        select(literal("l"), SupportLine.id, SupportLine.message_seq, who.user_id)
        .join(sup, sup.id == SupportLine.supporter_id)
        .join(mem, mem.id == SupportLine.member_id)
        .where(SupportLine.id.in_(line_ids or [0]), pair)
        for who in (sup, mem)
    ]
    return union_all(chats, *lines)


def _queue():
    """The manager, when it counts what it heard (``HeardQueue``); else None, and every
    beat is full."""
    server = socketio.server
    manager = server.manager if server is not None else None
    return manager if hasattr(manager, "heard") else None


def _latest(circle_ids: list[int], line_ids: list[int]):
    """The quiet beat's read: (kind, id, seq) of the circles and lines asked, one small
    row each (the access statement returns one row per person allowed)."""
    return union_all(
        select(literal("c").label("kind"), Circle.id, Circle.message_seq).where(
            Circle.id.in_(circle_ids or [0])
        ),
        select(literal("l"), SupportLine.id, SupportLine.message_seq).where(
            SupportLine.id.in_(line_ids or [0])
        ),
    )


def _ids(rooms) -> tuple[list[int], list[int]]:
    """(circle ids, line ids) of chat and line rooms."""
    circle_ids, line_ids = set(), set()
    for room in rooms:
        (circle_ids if room.startswith(_CHAT) else line_ids).add(int(room.partition(":")[2]))
    return sorted(circle_ids), sorted(line_ids)


def _room(kind: str, id_: int) -> str:
    return events.circle_room(id_) if kind == "c" else events.line_room(id_)


def joined(room: str, seq: int) -> None:
    """A socket joined ``room``, and its catch-up brings everything up to ``seq`` (the
    conversation's latest, read before it joined). A room this process knew nothing of
    counts as heard up to there, so the beat does not tell it only for being new."""
    queue = _queue()
    if queue is not None:
        queue.heard.setdefault(room, seq)


def beat(
    *, full: bool = True, part: tuple[int, int] | None = None, again: int | None = None
) -> int:
    """Tell this process's joined sockets the latest seq of their chats and lines:
    every room when ``full``; else the rooms whose sockets may lack a message (and, for
    ``again`` more beats, rooms that did; by default ``SEQ_BEAT_AGAIN``), and the rooms
    due in ``part`` ``(k, n)``, if given: one room in n, a different share at each k,
    so that n beats tell every room once, a share at a time. Returns the number of
    statements run: none without sockets; a quiet beat reads the latest numbers (one
    small row per room), and reads who may hear them only for the rooms it tells."""
    if again is None:
        again = current_app.config["SEQ_BEAT_AGAIN"]
    rooms = _local_rooms()
    queue = _queue()
    for gone in queue.heard.keys() - rooms.keys() if queue is not None else ():
        queue.forget(gone)  # no socket here any more
    if not any(s in SOCKETS for sids in rooms.values() for s in sids):
        return 0
    ran, told = 0, rooms.keys()
    if queue is not None and not full:
        ran, told = 1, _lagging(queue, rooms) | _due(rooms, part)
    rows = db.session.execute(_statement(*_ids(told))).all() if told else []
    db.session.rollback()  # read only: hand the connection back at once
    _tell_all(rows, queue, again=again)
    return ran + bool(told)


def _due(rooms, part: tuple[int, int] | None) -> set[str]:
    """The rooms due in ``part`` ``(k, n)``: a stable one in n (a checksum of the room's
    name, the same in every process and every run)."""
    if part is None:
        return set()
    k, n = part
    return {room for room in rooms if zlib.crc32(room.encode()) % n == k}


def _lagging(queue, rooms) -> set[str]:
    """The rooms a quiet beat tells (``HeardQueue.lags``), from one small read."""
    latest = db.session.execute(_latest(*_ids(rooms))).all()
    return {room for kind, id_, seq in latest if queue.lags(room := _room(kind, id_), seq)}


def _tell_all(rows, queue, *, again: int) -> None:
    """Tell each room read (``_statement``'s rows) its latest seq."""
    allowed: dict[str, set[int]] = defaultdict(set)
    seqs: dict[str, int] = {}
    for kind, id_, seq, user_id in rows:
        room = _room(kind, id_)
        allowed[room].add(user_id)
        seqs[room] = seq
    for room, seq in seqs.items():
        _tell(room, seq, _sids(room), allowed[room])
        if queue is not None:  # counted once told (a failed read tells and counts nothing)
            queue.told(room, seq, again)


def _sids(room: str) -> list[str]:
    """The sockets in ``room`` now, not as ``_local_rooms`` listed them before the
    beat's reads: under gevent a socket may join meanwhile (access checked then), and
    its person be removed before the access read, the close of its sockets lost with
    Redis. Read right before the emit (nothing yields between), so every socket that
    an emit to the whole room reaches was checked against the access read."""
    server = socketio.server
    if server is None:
        return []
    return list(server.manager.rooms.get("/", {}).get(room, {}))


def _tell(room: str, seq: int, sids: list[str], allowed: set[int]) -> None:
    """``chat:latest``/``line:latest`` to the room in one emit when everyone in it may
    hear it (the usual case), else socket by socket; always straight to this process's
    sockets, never through Redis."""
    number = int(room.partition(":")[2])
    if room.startswith(_CHAT):
        name, payload = "chat:latest", {"circle_id": number, "seq": seq}
    else:
        name, payload = "line:latest", {"line_id": number, "seq": seq}
    hearers = [s for s in sids if s in SOCKETS and SOCKETS[s].id in allowed]
    if not hearers:
        return
    if len(hearers) == len(sids):
        socketio.emit(name, payload, to=room, ignore_queue=True)
        return
    for sid in hearers:
        socketio.emit(name, payload, to=sid, ignore_queue=True)


def run(app: Flask) -> None:
    """Beat every ``SEQ_BEAT_SECONDS``, forever (started by ``app.py``). While the
    database is away a beat fails: one line in the log when that starts and one when it
    ends, not one per beat."""
    interval = app.config["SEQ_BEAT_SECONDS"]
    full_every = max(1, app.config["SEQ_BEAT_FULL_EVERY"])
    again = max(0, app.config["SEQ_BEAT_AGAIN"])
    failing = False
    count = 0
    while True:
        socketio.sleep(interval)
        count += 1
        with app.app_context():
            try:
                beat(full=False, part=(count % full_every, full_every), again=again)
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                if not failing:
                    log.warning(
                        "sequence beat failed (%s); retrying every %ss",
                        type(exc).__name__,
                        interval,
                    )
                failing = True
            else:
                if failing:
                    log.warning("sequence beat works again")
                failing = False
            finally:
                db.session.remove()
