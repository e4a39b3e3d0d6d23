"""The news service at its core: lines, the per-circle message line, what is visible."""

from __future__ import annotations

from portal.access import ChatSeat
from portal.models import MembershipStatus, Notification, NotificationSwitch, Role
from portal.services import chat
from portal.services import notifications as news


def _no_news_yet(db):
    """Joining the circle made "people" news: these tests start from none."""
    db.session.execute(db.delete(Notification))
    db.session.commit()


def _send(db, member, text="hello"):
    import secrets

    chat.send_message(ChatSeat.of(member), secrets.token_hex(8), text)
    db.session.commit()


def test_messages_make_one_counting_line_per_circle(db, make_circle, add_member):
    circle, coordinator = make_circle()
    anna = add_member(circle, Role.CENTRAL, "Anna")
    ben = add_member(circle, Role.MEMBER, "Ben")
    pro = add_member(circle, Role.PROFESSIONAL, "Ellen")
    _no_news_yet(db)
    for _ in range(5):
        _send(db, anna)
    assert news.unread_count(anna.user_id) == 0  # her own messages are not news to her
    assert news.unread_count(ben.user_id) == 1
    assert news.unread_count(pro.user_id) == 0  # the chat is closed to professionals
    line = db.session.scalars(
        db.select(Notification).where(Notification.user_id == ben.user_id)
    ).one()
    assert (line.kind, line.count) == ("messages", 5)
    assert news.mark_read(ben.user_id, circle_id=circle.id, kinds=["messages"]) == 1
    db.session.commit()
    assert news.unread_count(ben.user_id) == 0
    _send(db, anna)
    assert news.unread_count(ben.user_id) == 1
    page = news.news_page(ben.user_id)
    assert [(n.count, n.circle.title) for n in page.items] == [(1, circle.title), (5, circle.title)]


def test_notify_leaves_out_actor_muted_switched_off_and_gone(db, make_circle, add_member):
    circle, _ = make_circle()
    anna = add_member(circle, Role.CENTRAL, "Anna")
    ben = add_member(circle, Role.MEMBER, "Ben")
    cas = add_member(circle, Role.MEMBER, "Cas")
    dirk = add_member(circle, Role.MEMBER, "Dirk")
    _no_news_yet(db)
    cas.muted = True
    db.session.add(NotificationSwitch(user_id=dirk.user_id, channel="app", kind="people"))
    db.session.commit()
    got = news.notify([anna, ben, cas, dirk], "people", actor=anna, data={"op": "joined"})
    db.session.commit()
    assert got == [ben.user_id]
    assert news.unread_count(ben.user_id) == 1
    ben.status = MembershipStatus.LEFT
    db.session.commit()
    assert news.unread_count(ben.user_id) == 0  # a circle one left shows nothing


def test_dedupe_key_makes_clock_news_once(db, make_circle, add_member):
    circle, _ = make_circle()
    ben = add_member(circle, Role.MEMBER, "Ben")
    for _ in range(2):
        news.notify([ben], "due", ref_id=7, dedupe_key="due:{user}:7:2026-12-02")
        db.session.commit()
    assert news.unread_count(ben.user_id) == 1
