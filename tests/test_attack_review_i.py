"""Attack review i: the one-statement chat send on PostgreSQL (services.chat
._send_in_one) and the quiet sequence beat (realtime.beat, realtime.queue)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from portal.extensions import db as _db
from portal.extensions import socketio
from portal.models import Circle, Message, Notification, Role
from portal.realtime.state import SocketUser
from portal.services import ServiceError
from portal.services import chat as svc
from portal.services import circles as circle_svc


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setattr(socketio, "emit", lambda *a, **k: None)


def _send(app, user_id, circle_id, client_id, body, barrier=None):
    # A POST: a change, as a socket's ``chat:send`` is (``access.writing``).
    with app.app_context(), app.test_request_context(method="POST"):
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            user = SocketUser(id=user_id, login_session_id=0)
            out = svc.send_as(user, circle_id, client_id, body)
            _db.session.commit()
            return out
        except Exception as e:  # noqa: BLE001
            _db.session.rollback()
            return e
        finally:
            _db.session.remove()


def _threads(app, jobs):
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        results[i] = _send(app, *job, barrier=barrier)

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.postgres_only
def test_concurrent_sends_one_circle_same_and_new_client_ids(app, make_circle, add_member, quiet):
    circle, coordinator = make_circle()
    members = [add_member(circle, name=f"S{i}") for i in range(8)]
    outsider_circle, _ = make_circle("Other")
    outsider = add_member(outsider_circle, name="Out")
    cid = circle.id
    jobs = []
    for i, m in enumerate(members):
        jobs.append((m.user_id, cid, f"client-{i:04d}-x", f"hello {i}"))
        jobs.append((m.user_id, cid, f"client-{i:04d}-x", f"hello {i}"))  # resent at once
        jobs.append((m.user_id, cid, f"client-{i:04d}-y", "x" * 5000))  # refused
    jobs.append((outsider.user_id, cid, "client-out-0001", "intruder"))
    results = _threads(app, jobs)
    stored = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 8 + 1, refused
    assert sum(isinstance(r, ServiceError) and r.field == "body" for r in refused) == 8
    assert sum(1 for _m, new in stored if new) == 8
    seqs = _db.session.scalars(select(Message.seq).where(Message.circle_id == cid)).all()
    assert sorted(seqs) == list(range(1, 9))
    _db.session.expire_all()
    assert _db.session.get(Circle, cid).message_seq == 8
    # each duplicate got the same message as the original
    by_client = {}
    for m, _new in stored:
        by_client.setdefault(m["client_id"], set()).add((m["id"], m["seq"]))
    assert all(len(v) == 1 for v in by_client.values()), by_client
    # the coordinator's news line counts 8; each sender's counts 7
    counts = dict(
        _db.session.execute(
            select(Notification.user_id, Notification.count).where(
                Notification.group_key == f"messages:{cid}"
            )
        ).all()
    )
    assert counts[coordinator.user_id] == 8
    for m in members:
        assert counts[m.user_id] == 7
    assert outsider.user_id not in counts


def _blocked_on_lock(timeout=10.0) -> bool:
    """Whether some other backend waits for a lock (the send behind the circle's lock)."""
    deadline = time.monotonic() + timeout
    with _db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return True
            time.sleep(0.02)
    return False


def _behind_the_lock(app, cid, change, send):
    """``change(circle)`` in one transaction, holding the circle row's lock, while
    ``send()`` (another thread) waits for it; then commit. Returns send's result."""
    holding = threading.Event()
    go = threading.Event()

    def hold():
        with app.app_context():
            change(_db.session.get(Circle, cid))
            _db.session.flush()  # the circle row is locked from here to the commit
            holding.set()
            go.wait(timeout=10)
            _db.session.commit()
            _db.session.remove()

    result = []
    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(timeout=10)
    sender = threading.Thread(target=lambda: result.append(send()))
    sender.start()
    assert _blocked_on_lock()
    go.set()
    holder.join(timeout=20)
    sender.join(timeout=20)
    return result[0]


@pytest.mark.postgres_only
def test_a_send_that_waited_for_the_circle_to_close_is_refused_without_a_number(
    app, make_circle, add_member, quiet
):
    from portal.services.closing import close_circle

    circle, _coordinator = make_circle()
    member = add_member(circle, name="Anna")
    cid, user_id = circle.id, member.user_id
    _db.session.remove()

    def close(c):
        close_circle(c, None)  # Kring closes it (idle): no coordinator rule in the way

    result = _behind_the_lock(
        app, cid, close, lambda: _send(app, user_id, cid, "client-close-001", "hi")
    )
    assert isinstance(result, Exception), result
    _db.session.expire_all()
    assert _db.session.get(Circle, cid).message_seq == 0
    assert _db.session.scalar(select(Message.id).where(Message.circle_id == cid)) is None


@pytest.mark.postgres_only
def test_a_send_that_waited_for_the_chat_closing_to_professionals_gives_them_no_news(
    app, make_circle, add_member, quiet
):
    """The coordinator closes the chat to professionals (an UPDATE of the circle row,
    which holds its lock until commit) while a member's send waits for that lock. The
    send goes through after the closing: the professional may no longer read the chat,
    so gets no "new messages" line for it (as with the statements one after another,
    where the news line was read after the lock)."""
    circle, coordinator = make_circle()
    circle.professionals_read_chat = True
    _db.session.commit()
    pro = add_member(circle, Role.PROFESSIONAL, name="Pro")
    member = add_member(circle, name="Anna")
    cid, coord_id, pro_user, member_user = circle.id, coordinator.id, pro.user_id, member.user_id
    _db.session.commit()
    _db.session.remove()

    def close(c):
        acting = next(m for m in c.memberships if m.id == coord_id)
        circle_svc.set_professionals_read_chat(c, acting, False)

    result = [
        _behind_the_lock(
            app, cid, close, lambda: _send(app, member_user, cid, "client-wait-0001", "hi all")
        )
    ]
    assert isinstance(result[0], tuple) and result[0][1], result
    line = _db.session.scalar(
        select(Notification).where(
            Notification.user_id == pro_user, Notification.group_key == f"messages:{cid}"
        )
    )
    assert line is None


@pytest.fixture
def told_news(monkeypatch):
    """The user ids each ``events.news_changed`` call named (as they would be told)."""
    calls: list[list[int]] = []
    from portal import events

    real = events.news_changed
    monkeypatch.setattr(events, "news_changed", lambda ids: (calls.append(list(ids)), real(ids)))
    return calls


def test_send_as_news_line_readers_are_those_of_the_statements_one_after_another(
    app, make_circle, add_member, quiet, told_news
):
    """On both databases: the "new messages" line goes to every other reader who may
    read the chat and wants it, new once and then counting up; not to a muted, offline,
    switched-off, removed or closed-to professional reader, nor to another circle."""
    from portal.models import MembershipStatus, NotificationSwitch

    circle, coordinator = make_circle()
    anna = add_member(circle, name="Anna")
    reader = add_member(circle, name="Reader")
    muted = add_member(circle, name="Muted")
    offline = add_member(circle, name="Offline")
    switched = add_member(circle, name="Switched")
    pro = add_member(circle, Role.PROFESSIONAL, name="Pro")
    removed = add_member(circle, name="Removed")
    other, _ = make_circle("Other")
    stranger = add_member(other, name="Stranger")
    muted.muted = True
    offline.offline = True
    _db.session.add(NotificationSwitch(user_id=switched.user_id, channel="app", kind="messages"))
    circle_svc.end_membership(removed, MembershipStatus.REMOVED)
    _db.session.commit()
    want = {coordinator.user_id, reader.user_id}
    cid, anna_user = circle.id, anna.user
    outsiders = [stranger.user, removed.user, pro.user]

    def lines():
        return dict(
            _db.session.execute(
                select(Notification.user_id, Notification.count).where(
                    Notification.group_key == f"messages:{cid}"
                )
            ).all()
        )

    told_news.clear()
    message, new = svc.send_as(anna_user, cid, "client-news-0001", "first @reader")
    _db.session.commit()
    assert new and message["seq"] == 1
    assert lines() == dict.fromkeys(want, 1)
    assert set().union(*map(set, told_news)) >= want
    told_news.clear()
    svc.send_as(anna_user, cid, "client-news-0002", "second")
    _db.session.commit()
    assert lines() == dict.fromkeys(want, 2)
    assert not any(set(c) & want for c in told_news)  # only the count grew
    # A resend: nothing stored, nobody told, the counter where it was.
    told_news.clear()
    again, new = svc.send_as(anna_user, cid, "client-news-0002", "second")
    _db.session.commit()
    assert not new and again["seq"] == 2 and told_news == []
    assert lines() == dict.fromkeys(want, 2)
    # Refusals: the exact answer, no number used.
    for user in outsiders:
        with pytest.raises(Exception) as refused:
            svc.send_as(user, cid, "client-news-0003", "x" * 5000)
        assert not isinstance(refused.value, ServiceError) or refused.value.field != "body"
        _db.session.rollback()
    for client_id, body in [
        ("bad id", "hi"),
        (None, "hi"),
        (12345678, "hi"),
        ("client-news-0004", ""),
        ("client-news-0004", "   \n "),
        ("client-news-0004", None),
        ("client-news-0004", ["hi"]),
        ("client-news-0004", "x" * 4001),
        ("client-news-0004", "\x00\x01"),
    ]:
        with pytest.raises(ServiceError):
            svc.send_as(anna_user, cid, client_id, body)
        _db.session.rollback()
    last, new = svc.send_as(anna_user, cid, "client-news-0005", "third " + "y" * 3994)
    _db.session.commit()
    assert new and last["seq"] == 3
    _db.session.expire_all()
    assert _db.session.get(Circle, cid).message_seq == 3


def test_what_is_kept_past_a_hole_stays_bounded_without_a_beat():
    """``SEQ_BEAT_SECONDS=0`` (no beat, documented) still uses ``HeardQueue``: nothing
    forgets a room or tells it, so a room that lost one live message kept every later
    seq in ``past``, one more per message, for as long as the process ran."""
    from portal.realtime.queue import HeardQueue

    q = HeardQueue()

    def hear(seq):
        q.emit("chat:message", {"message": {"seq": seq}}, "/", room="circle:1")

    hear(1)
    for seq in range(3, 20_003):  # 2 never came
        hear(seq)
    assert len(q.past.get("circle:1", ())) <= 1000
    assert q.heard["circle:1"] == 1  # still behind: the beat would tell the room
    hear(2)  # the hole fills: heard joins up through what was kept, no further
    assert 2 < q.heard["circle:1"] < 20_002
    q.told("circle:1", 20_002, 2)
    assert q.heard["circle:1"] == 20_002 and not q.past["circle:1"]


def test_a_beat_while_the_database_is_away_leaves_a_lagging_room_to_be_told(
    app, make_circle, add_member, socket_client, monkeypatch
):
    """A lost message, then beats that fail (the database away): the room is neither
    counted as told nor spends its beats told again; the first beat that reads tells
    it, and the next SEQ_BEAT_AGAIN beats tell it again."""
    from portal import events
    from portal.realtime import beat
    from tests.test_seq_beat import AGAIN, _beat, _received, _send

    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    for _ in range(1 + AGAIN):
        _beat(app, full=False)
    a.get_received()
    publish = events.publish
    monkeypatch.setattr(events, "publish", lambda *a, **k: None)  # Redis lost it
    lost = _send(ben, "away-lost-0001", "Lost")
    monkeypatch.setattr(events, "publish", publish)

    def away(*_a, **_k):
        raise RuntimeError("database away")

    monkeypatch.setattr(beat, "_statement", away)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            _beat(app, full=False)
    monkeypatch.undo()
    assert _received(a, "chat:latest") == []
    told = []
    for _ in range(1 + AGAIN + 1):
        _beat(app, full=False)
        told.append(_received(a, "chat:latest"))
    latest = [{"circle_id": circle.id, "seq": lost["seq"]}]
    assert told == [latest] * (1 + AGAIN) + [[]]
