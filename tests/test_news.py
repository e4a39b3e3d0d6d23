"""The news a person sees (issue 12): the page, the badge, marking read, settings, mentions.

Access tests perform the attack: another person's news is asked for over HTTP and over
the socket, with their ids in the request, and must neither show nor change.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.models import (
    MembershipStatus,
    Notification,
    NotificationSwitch,
    Role,
    User,
)
from portal.models.notifications import NEWS_KINDS
from portal.services import chat
from portal.services import meetings as meetings_svc
from portal.services import notifications as news
from portal.services.unsubscribe import make_token
from tests.conftest import csrf_from, statements_of


def _send(db, member, text="hello") -> dict:
    message, _new = chat.send_message(ChatSeat.of(member), secrets.token_hex(8), text)
    db.session.commit()
    return message


def _lines(db, member) -> list[Notification]:
    return db.session.scalars(
        select(Notification)
        .where(Notification.user_id == member.user_id, Notification.circle_id == member.circle_id)
        .order_by(Notification.id)
    ).all()


def _unread(db, member) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in _lines(db, member):
        if n.read_at is None:
            out[n.kind] = out.get(n.kind, 0) + 1
    return out


def _badge(html: str) -> str:
    """The badge: the number shown, "|", and what a screen reader hears ("News, 3 new";
    with nothing new, the link's own text)."""
    m = re.search(r'<a href="/notifications" id="news-link"([^>]*)>(.*?)</a>', html, re.S)
    assert m, "no news link in the header"
    count = re.search(r'id="news-count" aria-hidden="true"( hidden)?>(\d+)<', m.group(2))
    # What is read out is a hidden text in the link (not an aria-label: issue 14).
    label = re.search(r'class="visually-hidden" id="news-words">([^<]*)<', m.group(2))
    assert "aria-label" not in m.group(1)
    return ("" if count.group(1) else count.group(2)) + "|" + label.group(1)


def _meeting(circle, organiser, invite) -> object:
    when = [datetime(2031, 6, 1, 17, tzinfo=UTC), datetime(2031, 6, 2, 17, tzinfo=UTC)]
    return meetings_svc.propose_meeting(
        circle,
        organiser,
        meetings_svc.MeetingData(
            title="Check-in",
            purpose="Is the plan working?",
            place="At Gran's",
            video_link="",
            duration_minutes=60,
            options=when,
            invitee_ids=[m.id for m in invite],
        ),
    )


@pytest.fixture
def family(db, make_circle, add_member, make_user):
    """Circle around Sam: Sanne (central), Ben (member), Ellen (a professional; the chat
    is closed to professionals), Oma (member)."""
    circle, coordinator = make_circle()
    sanne = add_member(circle, Role.CENTRAL, "Sanne", user=make_user("Sanne", username="sanne"))
    ben = add_member(circle, Role.MEMBER, "Ben", user=make_user("Ben", username="ben"))
    ellen = add_member(
        circle, Role.PROFESSIONAL, "Ellen", user=make_user("Ellen", username="ellen")
    )
    oma = add_member(circle, Role.MEMBER, "Oma", user=make_user("Oma", username="oma"))
    _no_news(db)
    return circle, sanne, ben, ellen, oma


def _no_news(db) -> None:
    """Joining a circle, opening a poll... make news of their own
    (tests/test_news_recipients.py): these tests start from none."""
    db.session.execute(db.delete(Notification))
    db.session.commit()


# --- The page ------------------------------------------------------------------------


def test_the_page_says_each_kind_in_plain_words_newest_first_with_links(db, family, login, client):
    circle, sanne, ben, _ellen, oma = family
    ben.user.timezone = "America/New_York"
    db.session.commit()
    for _ in range(5):
        _send(db, sanne)
    message = _send(db, sanne, "Lunch on Sunday, @ben?")
    news.notify([ben], "people", ref_id=oma.id, actor=oma, data={"op": "left"})
    news.notify([ben], "meeting", ref_id=77, actor=sanne, data={"op": "cancelled"},
                now=datetime(2025, 1, 2, 23, 30, tzinfo=UTC))  # fmt: skip
    db.session.commit()
    html = login(client, ben.user).get("/notifications").get_data(as_text=True)
    texts = [re.sub(r"\s+", " ", t).strip() for t in re.findall(
        r'<span class="news-text">(.*?)</span>', html, re.S)]  # fmt: skip
    assert texts == [
        "Oma left Circle around Sam",
        "Sanne mentioned you in Circle around Sam",
        "6 new messages in Circle around Sam",
        "A meeting of Circle around Sam was cancelled",  # older: its time is set above
    ]
    assert html.count('<span class="news-new">New</span>') == 4  # not by colour only
    # Each line leads to what it is about; a mention to the chat, at that message.
    assert f'href="/c/{circle.id}/chat?after=0#m{message["seq"]}"' in html
    assert f'href="/c/{circle.id}/chat"' in html
    assert f'href="/c/{circle.id}#people"' in html
    assert f'href="/c/{circle.id}/meetings/77"' in html
    # In the reader's time zone: 23:30 UTC is 18:30 in New York.
    assert '<time datetime="2025-01-02T23:30:00Z">2 Jan 2025, 18:30</time>' in html
    assert _badge(html) == "4|News, 4 new"


def test_every_kind_has_its_words(db, family, login, client):
    _circle, sanne, ben, *_ = family
    for kind in ("due", "missed", "help", "consent", "decided", "poll", "meeting", "people"):
        news.notify([ben], kind, ref_id=1, actor=sanne)
    news.notify([ben], "due", ref_id=1, data={"overdue": True})
    db.session.commit()
    html = login(client, ben.user).get("/notifications").get_data(as_text=True)
    for words in (
        "Your commitment in Circle around Sam is due today",
        "Your commitment in Circle around Sam is overdue",
        "A turn of your commitment in Circle around Sam went by without a tick",
        "Sanne would like help with a commitment in Circle around Sam",
        "Sanne proposed a change to the plan of Circle around Sam. It waits for your answer.",
        "A change to the plan of Circle around Sam was agreed",
        "Sanne asks when you can come to a meeting of Circle around Sam",
        "The date of a meeting of Circle around Sam is set",
        "Sanne joined Circle around Sam",
    ):
        assert words in html, words
    assert "News in" not in html  # no kind fell through to the fallback


def test_empty_page_is_warm_and_has_no_mark_all_button(login, client, family):
    _circle, _sanne, ben, *_ = family
    html = login(client, ben.user).get("/notifications").get_data(as_text=True)
    assert "All quiet for now." in html
    assert "Mark all as read" not in html


def test_the_page_is_paginated(db, family, login, client):
    circle, sanne, ben, *_ = family
    for i in range(news.PAGE + 3):
        news.notify([ben], "help", ref_id=i + 1, actor=sanne)
    db.session.commit()
    login(client, ben.user)
    first = client.get("/notifications").get_data(as_text=True)
    assert first.count('class="news-item') == news.PAGE and "Page 1 of 2" in first
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert second.count('class="news-item') == 3 and "Page 2 of 2" in second
    past = client.get("/notifications?page=9")
    assert past.status_code == 200 and "There is nothing more here." in past.get_data(True)


def test_mark_all_as_read(db, family, login, client, socket_client):
    _circle, sanne, ben, *_ = family
    _send(db, sanne)
    news.notify([ben], "help", ref_id=1, actor=sanne)
    db.session.commit()
    other_tab = socket_client(ben.user)
    page = login(client, ben.user).get("/notifications")
    # Without the token: refused, nothing read.
    assert client.post("/notifications/read").status_code == 400
    assert news.unread_count(ben.user_id) == 2
    resp = client.post("/notifications/read", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/notifications"
    assert news.unread_count(ben.user_id) == 0
    assert {"name": "news", "args": [{"op": "changed"}], "namespace": "/"} in (
        other_tab.get_received()
    )
    html = client.get("/notifications").get_data(as_text=True)
    assert "news-new" not in html and _badge(html) == "|News"


# --- Nobody else's news --------------------------------------------------------------


def test_nobody_can_read_count_or_clear_anothers_news_over_http(
    db, family, login, client, make_circle, add_member
):
    circle, sanne, ben, _ellen, oma = family
    news.notify([oma], "help", ref_id=1, actor=sanne)
    news.notify([ben], "poll", ref_id=2, actor=sanne)
    db.session.commit()
    login(client, ben.user)
    # Asking for Oma's news by every name a request could carry shows Ben's own.
    for query in (f"?user_id={oma.user_id}", f"?user={oma.user_id}", f"?id={oma.user_id}"):
        html = client.get("/notifications" + query).get_data(as_text=True)
        assert "would like help" not in html and "asks when you can come" in html
        assert _badge(html) == "1|News, 1 new"
    token = csrf_from(client.get("/notifications"))
    client.post("/notifications/read", data={"csrf_token": token, "user_id": oma.user_id})
    assert news.unread_count(oma.user_id) == 1  # hers stay unread
    assert news.unread_count(ben.user_id) == 0
    # Settings: muting a circle Ben is not in is refused, and changes nothing at all.
    other, _ = make_circle("Circle around Kees")
    stranger = add_member(other, Role.MEMBER, "Kees")
    resp = client.post("/account/news", data={
        "csrf_token": token, "muted": str(other.id), "shown": "mention",
        "digest_period": "off"})  # fmt: skip
    assert resp.status_code == 302
    db.session.refresh(stranger)
    assert not stranger.muted
    assert db.session.scalar(select(NotificationSwitch).limit(1)) is None  # Ben's unchanged too


def test_nobody_can_count_or_clear_anothers_news_over_the_socket(
    db, family, socket_client, make_circle, add_member
):
    circle, sanne, ben, _ellen, oma = family
    other, _ = make_circle("Circle around Kees")
    kees = add_member(other, Role.MEMBER, "Kees")
    kees_friend = add_member(other, Role.CENTRAL, "Mia")
    _no_news(db)
    _send(db, kees_friend)  # Kees has "1 new message" in his circle
    news.notify([oma], "help", ref_id=1, actor=sanne)
    db.session.commit()
    sock = socket_client(ben.user)
    for payload in ({}, {"user_id": oma.user_id}, {"user_id": kees.user_id, "circle_id": other.id}):
        assert sock.emit("news:count", payload) == {"ok": True, "count": 0}
    # "I read it" for a chat Ben is not in: not found, and Kees's line stays unread.
    ack = sock.emit("chat:read", {"circle_id": other.id, "seq": 1})
    assert ack == {"ok": False, "error": "not_found"}
    assert news.unread_count(kees.user_id) == 1
    assert news.unread_count(oma.user_id) == 1
    # Not signed in at all: no socket, no count.
    anonymous = socket_client(None)
    assert not anonymous.is_connected()


# --- The badge -----------------------------------------------------------------------


def test_the_badge_costs_one_query_per_page(db, family, login, client, monkeypatch):
    circle, sanne, ben, *_ = family
    for _ in range(3):
        _send(db, sanne)
    news.notify([ben], "help", ref_id=1, actor=sanne)
    db.session.commit()
    login(client, ben.user)
    for path in ("/me/meetings", "/account", "/notifications", f"/c/{circle.id}/history"):
        with_badge = statements_of(client, path)
        monkeypatch.setattr(news, "unread_count", lambda user_id: 0)
        without = statements_of(client, path)
        monkeypatch.undo()
        assert len(with_badge) - len(without) == 1, (path, with_badge, without)
    # More news: still the same statements.
    before = len(statements_of(client, "/me/meetings"))
    for _ in range(20):
        news.notify([ben], "poll", ref_id=2, actor=sanne)
    db.session.commit()
    assert len(statements_of(client, "/me/meetings")) == before
    assert _badge(client.get("/me/meetings").get_data(as_text=True)) == "22|News, 22 new"


def test_the_badge_is_accessible_and_absent_for_visitors(db, family, login, client, new_client):
    _circle, sanne, ben, *_ = family
    html = login(client, ben.user).get("/account").get_data(as_text=True)
    assert _badge(html) == "|News"  # nothing new: the link just says "News"
    news.notify([ben], "help", ref_id=1, actor=sanne)
    db.session.commit()
    html = client.get("/account").get_data(as_text=True)
    # The number is hidden from screen readers; they read "News, 1 new".
    assert re.search(r'id="news-count" aria-hidden="true">1<', html)
    assert _badge(html) == "1|News, 1 new"
    assert 'src="/static/js/news.js"' in html
    visitor = new_client().get("/login").get_data(as_text=True)
    assert "news-link" not in visitor and "news.js" not in visitor


def test_the_count_goes_live_to_every_open_tab(db, family, socket_client):
    _circle, sanne, ben, *_ = family
    tab1, tab2 = socket_client(ben.user), socket_client(ben.user)
    sanne_tab = socket_client(sanne.user)
    for tab in (tab1, tab2, sanne_tab):
        tab.get_received()
    _send(db, sanne, "Hi @ben")
    for tab in (tab1, tab2):
        assert {"name": "news", "args": [{"op": "changed"}], "namespace": "/"} in (
            tab.get_received()
        )
        assert tab.emit("news:count", {}) == {"ok": True, "count": 2}  # message + mention
    assert not [e for e in sanne_tab.get_received() if e["name"] == "news"]  # her own


# --- Marking read where the news is about ---------------------------------------------


def test_the_chat_marks_its_messages_and_mentions_read(db, family, login, client, make_circle,
                                                       add_member, socket_client):  # fmt: skip
    circle, sanne, ben, *_ = family
    other, _ = make_circle("Circle around Kees")
    ben_there = add_member(other, Role.MEMBER, user=ben.user)
    mia = add_member(other, Role.CENTRAL, "Mia")
    _no_news(db)
    _send(db, sanne, "@ben look")
    _send(db, mia)
    news.notify([ben], "help", ref_id=1, actor=sanne)
    db.session.commit()
    html = login(client, ben.user).get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert _badge(html) == "2|News, 2 new"  # already without this chat's two lines
    assert _unread(db, ben) == {"help": 1}
    assert _unread(db, ben_there) == {"messages": 1}  # the other circle's stays
    # Live: a message comes in while the chat is open; the page says "read" and the line
    # goes with it.
    sock = socket_client(ben.user)
    sock.emit("chat:join", {"circle_id": circle.id})
    seq = _send(db, sanne, "and @ben again")["seq"]
    assert _unread(db, ben) == {"help": 1, "messages": 1, "mention": 1}
    assert sock.emit("chat:read", {"circle_id": circle.id, "seq": seq}) == {"ok": True}
    assert _unread(db, ben) == {"help": 1}


def test_each_page_marks_its_own_news_read(db, family, login, client):
    circle, sanne, ben, *_ = family
    meeting = _meeting(circle, sanne, [ben])
    other_meeting = _meeting(circle, sanne, [ben])
    _no_news(db)
    for kind in ("consent", "decided", "help", "due", "missed", "people"):
        news.notify([ben], kind, ref_id=5, actor=sanne)
    news.notify([ben], "poll", ref_id=meeting.id, actor=sanne)
    news.notify([ben], "poll", ref_id=other_meeting.id, actor=sanne)
    db.session.commit()
    login(client, ben.user)
    steps = [
        (f"/c/{circle.id}/plan", {"consent", "decided", "help"}),
        ("/me/commitments", {"due", "missed"}),
        (f"/c/{circle.id}/meetings/{meeting.id}", set()),  # one of the two polls
        (f"/c/{circle.id}", {"people"}),
    ]
    before = _unread(db, ben)
    assert before == {"consent": 1, "decided": 1, "help": 1, "due": 1, "missed": 1,
                      "people": 1, "poll": 2}  # fmt: skip
    for path, gone in steps:
        html = client.get(path).get_data(as_text=True)
        after = _unread(db, ben)
        if path.endswith(f"/meetings/{meeting.id}"):
            assert after["poll"] == 1
            after = {**after, "poll": 2}
        assert set(before) - set(after) == gone, path
        assert _badge(html) == f"{sum(_unread(db, ben).values())}|News, " + (
            f"{sum(_unread(db, ben).values())} new"
        )
        before = _unread(db, ben)
    assert _unread(db, ben) == {"poll": 1}


def test_the_people_page_marks_people_news_read(db, family, login, client):
    circle, sanne, ben, *_ = family
    news.notify([sanne], "people", ref_id=ben.id, actor=ben, data={"op": "joined"})
    db.session.commit()
    login(client, sanne.user).get(f"/c/{circle.id}/people")
    assert _unread(db, sanne) == {}


def test_opening_a_page_with_nothing_new_writes_nothing(db, family, login, client):
    circle, *_, oma = family
    writes: list[str] = []

    def listen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    login(client, oma.user)
    event.listen(_db.engine, "before_cursor_execute", listen)
    try:
        for path in (f"/c/{circle.id}/plan", "/me/commitments", f"/c/{circle.id}"):
            assert client.get(path).status_code == 200
    finally:
        event.remove(_db.engine, "before_cursor_execute", listen)
    assert writes == []


# --- Settings ------------------------------------------------------------------------


def _save_settings(client, **fields):
    token = csrf_from(client.get("/account"))
    return client.post("/account/news", data={"csrf_token": token, **fields})


def test_settings_show_and_save_and_take_effect(db, family, login, client, socket_client):
    circle, sanne, ben, *_ = family
    news.notify([ben], "people", ref_id=1, actor=sanne)
    news.notify([ben], "help", ref_id=1, actor=sanne)
    db.session.commit()
    login(client, ben.user)
    html = client.get("/account").get_data(as_text=True)
    assert 'id="news"' in html
    for kind in ("mention", "messages", "people", "remind_due"):
        assert re.search(rf'value="{kind}" checked', html), kind
    assert re.search(r'name="digest_period" value="daily" checked', html)
    tab = socket_client(ben.user)
    tab.get_received()
    shown = ["mention", "messages", "line", "due", "missed", "help", "needs_person", "consent",
             "decided", "poll", "meeting", "closing", "acted_for"]  # fmt: skip
    resp = _save_settings(client, shown=shown, reminders=["remind_due", "remind_meeting"],
                          digest_period="weekly", email_names=str(circle.id))  # fmt: skip
    assert resp.status_code == 302 and resp.headers["Location"] == "/account#news"
    user = db.session.get(User, ben.user_id)
    assert (user.digest_period, user.direct_email) == ("weekly", False)
    switches = {(s.channel, s.kind) for s in db.session.scalars(
        select(NotificationSwitch).where(NotificationSwitch.user_id == ben.user_id))}  # fmt: skip
    assert switches == {("app", "people"), ("email", "remind_poll")}
    db.session.refresh(ben)
    assert ben.email_names and not ben.muted
    # Switched off: the unread "people" line went with it, and no new line is made.
    assert _unread(db, ben) == {"help": 1}
    assert news.notify([ben], "people", ref_id=2, actor=sanne) == []
    assert any(e["name"] == "news" for e in tab.get_received())  # other tabs recount
    html = client.get("/account").get_data(as_text=True)
    assert 'value="people" checked' not in html
    assert re.search(r'name="digest_period" value="weekly" checked', html)
    assert re.search(rf'name="email_names" value="{circle.id}" checked', html)


def test_a_muted_circle_shows_nothing(db, family, login, client):
    circle, sanne, ben, *_ = family
    _send(db, sanne, "@ben hello")
    login(client, ben.user)
    assert news.unread_count(ben.user_id) == 2
    _save_settings(client, shown=["mention", "messages"], digest_period="daily",
                   muted=str(circle.id))  # fmt: skip
    db.session.refresh(ben)
    assert ben.muted
    assert news.unread_count(ben.user_id) == 0
    assert "All quiet for now." in client.get("/notifications").get_data(as_text=True)
    _send(db, sanne, "@ben are you there?")
    assert news.unread_count(ben.user_id) == 0
    _save_settings(client, shown=["mention", "messages"], digest_period="daily")
    db.session.refresh(ben)
    assert not ben.muted


def test_settings_refuse_a_made_up_period(db, family, login, client):
    _circle, _sanne, ben, *_ = family
    login(client, ben.user)
    _save_settings(client, digest_period="hourly")
    assert db.session.get(User, ben.user_id).digest_period == "daily"
    assert db.session.scalar(select(NotificationSwitch).limit(1)) is None


def test_settings_undo_a_one_click_unsubscribe_of_the_digest(db, family, login, client, new_client):
    _circle, _sanne, ben, *_ = family
    token = make_token(ben.user_id, "digest")
    assert new_client().post(f"/email/stop/{token}").status_code == 200
    login(client, ben.user)
    html = client.get("/account").get_data(as_text=True)
    assert re.search(r'name="digest_period" value="off" checked', html)
    _save_settings(client, digest_period="daily", direct_email="y", shown=list(NEWS_KINDS),
                   reminders=["remind_due", "remind_meeting", "remind_poll"])  # fmt: skip
    assert db.session.scalar(select(NotificationSwitch).limit(1)) is None
    assert db.session.get(User, ben.user_id).digest_period == "daily"


# --- Mentions ------------------------------------------------------------------------


def _mentions(db, member) -> list[Notification]:
    return [n for n in _lines(db, member) if n.kind == "mention"]


def test_a_mention_tells_that_person(db, family):
    _circle, sanne, ben, _ellen, oma = family
    message = _send(db, sanne, "Thanks @Ben. And @oma, see you!")
    for person in (ben, oma):
        (line,) = _mentions(db, person)
        assert (line.ref_id, line.actor_id, line.circle_id) == (
            message["id"], sanne.id, sanne.circle_id)  # fmt: skip
    assert _mentions(db, sanne) == []


def test_who_must_not_be_told(db, family, make_circle, add_member, make_user):
    circle, sanne, ben, ellen, oma = family
    oma.status = MembershipStatus.LEFT
    # Someone in another circle with the username "kees": not in this circle.
    other, _ = make_circle("Circle around Kees")
    kees = add_member(other, Role.MEMBER, "Kees", user=make_user("Kees", username="kees"))
    db.session.commit()
    _send(db, sanne, "@ellen @oma @kees @sanne @nobody mail ben@example.org")
    assert _mentions(db, ellen) == []  # a professional, the chat closed to her
    assert _mentions(db, oma) == []  # she left
    assert _mentions(db, kees) == []  # another circle
    assert _mentions(db, sanne) == []  # the author
    assert _mentions(db, ben) == []  # an address is not a mention
    # Once the chat is open to professionals, Ellen is told.
    circle.professionals_read_chat = True
    db.session.commit()
    _send(db, sanne, "@ellen can you read this now?")
    assert len(_mentions(db, ellen)) == 1


def test_a_mention_of_someone_who_muted_the_circle_or_switched_mentions_off(db, family):
    _circle, sanne, ben, _ellen, oma = family
    ben.muted = True
    db.session.add(NotificationSwitch(user_id=oma.user_id, channel="app", kind="mention"))
    db.session.commit()
    _send(db, sanne, "@ben @oma")
    assert _mentions(db, ben) == [] and _mentions(db, oma) == []


def test_sending_only_looks_people_up_when_there_is_an_at_sign(db, family):
    _circle, sanne, *_ = family
    seat = ChatSeat.of(sanne)
    db.session.commit()
    counts = []
    for text in ("no names here", "hello @nobody"):
        seen: list[str] = []

        def count(conn, cursor, statement, *args, seen=seen):
            seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", count)
        try:
            chat.send_message(seat, secrets.token_hex(8), text)
        finally:
            event.remove(_db.engine, "before_cursor_execute", count)
        db.session.commit()
        counts.append(len(seen))
    assert counts[1] == counts[0] + 1  # one look-up, and nobody found: nothing more


def test_mentions_are_highlighted_in_the_chat(db, family, login, client):
    circle, sanne, ben, *_ = family
    _send(db, sanne, "Hi @Ben and @nobody, see https://example.org/@ben <b>@oma</b>")
    html = login(client, ben.user).get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert '<strong class="mention">@Ben</strong>' in html
    assert "@nobody" in html and '<strong class="mention">@nobody' not in html
    assert 'href="https://example.org/@ben"' in html  # a link stays one link
    assert '&lt;b&gt;<strong class="mention">@oma</strong>&lt;/b&gt;' in html
    # The people one can mention, for the chat box: names and usernames, not Ellen
    # (the chat is closed to her).
    people = re.search(r'<template id="mention-people".*?</template>', html, re.S).group(0)
    assert '<li data-username="ben">Ben</li>' in people
    assert "ellen" not in people


def test_following_a_mention_opens_the_chat_at_that_message(db, family, login, client):
    circle, sanne, ben, *_ = family
    for i in range(60):
        _send(db, sanne, f"message {i}")
    message = _send(db, sanne, "@ben this one")
    for i in range(60):
        _send(db, sanne, f"later {i}")
    login(client, ben.user)
    page = client.get("/notifications").get_data(as_text=True)
    href = re.search(r'href="(/c/\d+/chat\?after=\d+#m(\d+))"', page)
    assert href and int(href.group(2)) == message["seq"]
    html = client.get(href.group(1).split("#")[0]).get_data(as_text=True)
    assert f'id="m{message["seq"]}"' in html
    assert _badge(html) == "|News"
