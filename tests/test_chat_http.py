"""Chat pages: they work without JavaScript, keep text safe, and respect the rules."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from sqlalchemy import event, func, select

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.models import CircleEvent, Message
from portal.models.types import utcnow
from portal.services import chat as chat_svc
from tests.conftest import csrf_from

_seed = itertools.count(1)


def _say(circle, membership, body):
    msg, _ = chat_svc.send_message(ChatSeat.of(membership), f"seed-{next(_seed):08d}", body)
    _db.session.commit()
    return msg


def _post(client, url, page_url, **data):
    page = client.get(page_url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page)})


def test_plain_form_posts_a_message_and_history_is_readable(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    login(client, anna.user)
    page = client.get(f"/c/{circle.id}/chat")
    client_id = re.search(
        r'name="client_id"[^>]*value="([^"]+)"', page.get_data(as_text=True)
    ).group(1)
    data = {
        "body": "Line one\nLine two 🎉 مرحبا Привет 你好",
        "client_id": client_id,
        "csrf_token": csrf_from(page),
    }
    assert client.post(f"/c/{circle.id}/chat", data=data).status_code == 302
    # Pressing "Send" twice (same form, same client id) stores it once.
    assert client.post(f"/c/{circle.id}/chat", data=data).status_code == 302
    assert _db.session.scalar(select(func.count()).select_from(Message)) == 1
    html = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert "Line one<br>\nLine two 🎉 مرحبا Привет 你好" in html


def test_links_become_clickable(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle)
    _say(circle, anna, "See https://example.org/plan?x=1 please")
    login(client, anna.user)
    html = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert (
        '<a href="https://example.org/plan?x=1" rel="nofollow noopener noreferrer" target="_blank">'
        in html
    )


def test_too_long_message_is_refused_and_the_text_is_kept(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle)
    login(client, anna.user)
    page = client.get(f"/c/{circle.id}/chat")
    long_text = "x" * (chat_svc.MAX_LENGTH + 1)
    resp = client.post(
        f"/c/{circle.id}/chat",
        data={"body": long_text, "client_id": "longmessage01", "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "too long" in html and long_text in html
    assert _db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_opening_the_chat_starts_at_the_first_unread(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    for i in range(1, 121):
        _say(circle, anna, f"message number {i}")
    ben.last_read_seq = 30
    _db.session.commit()
    login(client, ben.user)
    html = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert 'id="unread"' in html
    # The page starts a little above the first unread message, and offers both ways.
    assert "message number 31<" in html and "message number 26<" in html
    assert "message number 10<" not in html
    assert "Older messages" in html and "Newer messages" in html
    newer = re.search(r'href="([^"]+after=\d+)"', html).group(1).replace("&amp;", "&")
    nxt = client.get(newer).get_data(as_text=True)
    assert "message number 120<" not in nxt or "message number 80<" in nxt


def test_older_history_uses_keyset_links(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle)
    reader = add_member(circle)
    for i in range(1, 71):
        _say(circle, anna, f"note {i}")
    reader.last_read_seq = 70
    _db.session.commit()
    login(client, reader.user)
    html = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert "note 70<" in html and "note 20<" not in html
    older = re.search(r'href="([^"]+before=(\d+))"', html)
    assert older.group(2) == "21"  # keyset: before the first seq shown, no page offset
    html2 = client.get(older.group(1)).get_data(as_text=True)
    assert "note 20<" in html2 and "note 1<" in html2 and "note 21<" not in html2


def test_unread_counts_on_the_list_of_circles(client, make_circle, add_member, make_user, login):
    user = make_user("Grandma")
    c1, _ = make_circle("First circle")
    c2, _ = make_circle("Second circle")
    m1 = add_member(c1, user=user, name="Oma")
    add_member(c2, user=user, name="Oma")
    other = add_member(c1, name="Anna")
    for i in range(3):
        _say(c1, other, f"hi {i}")
    login(client, user)
    html = client.get("/circles").get_data(as_text=True)
    assert "3 new messages" in html
    client.get(f"/c/{c1.id}/chat")
    assert "new message" not in client.get("/circles").get_data(as_text=True)
    assert m1.last_read_seq == 3


def _count_queries(fn):
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    return len(statements)


def test_opening_the_chat_costs_the_same_with_10_or_1000_messages(
    client, make_circle, add_member, login
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    login(client, ben.user)
    url = f"/c/{circle.id}/chat"

    def everything_read():
        ben.last_read_seq = _db.session.get(type(circle), circle.id).message_seq
        _db.session.commit()

    for i in range(10):
        _say(circle, anna if i % 2 else ben, f"m{i}")
    everything_read()
    small = _count_queries(lambda: client.get(url))
    for i in range(990):
        _say(circle, anna if i % 2 else ben, f"more {i}")
    everything_read()
    large = _count_queries(lambda: client.get(url))
    assert small == large, (small, large)


def test_author_edits_within_15_minutes_and_the_circle_sees_versions(
    client, make_circle, add_member, login, new_client
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    msg = _say(circle, anna, "See you at 5")
    login(client, anna.user)
    edit_url = f"/c/{circle.id}/chat/messages/{msg['id']}/edit"
    assert _post(client, edit_url, edit_url, body="See you at 6").status_code == 302
    ben_client = login(new_client(), ben.user)
    html = ben_client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert "See you at 6" in html and "edited" in html
    versions = ben_client.get(f"/c/{circle.id}/chat/messages/{msg['id']}/versions").get_data(
        as_text=True
    )
    assert "See you at 5" in versions and "See you at 6" in versions
    # Ben cannot edit Anna's message.
    ben_client.get(edit_url)
    assert "You can only change your own messages" in _post(
        ben_client, edit_url, edit_url, body="hacked"
    ).get_data(as_text=True)
    # After 15 minutes, Anna cannot either.
    m = _db.session.get(Message, msg["id"])
    m.created_at = utcnow() - timedelta(minutes=16)
    _db.session.commit()
    resp = _post(client, edit_url, edit_url, body="Too late")
    assert "15 minutes" in resp.get_data(as_text=True)
    assert _db.session.get(Message, msg["id"]).body == "See you at 6"


def test_author_deletes_and_a_marker_stays(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    msg = _say(circle, anna, "oops wrong circle")
    login(client, anna.user)
    chat = f"/c/{circle.id}/chat"
    assert _post(client, f"{chat}/messages/{msg['id']}/delete", chat).status_code == 302
    html = client.get(chat).get_data(as_text=True)
    assert "oops wrong circle" not in html and "Message removed." in html
    assert _db.session.get(Message, msg["id"]).body == ""


def test_member_cannot_delete_someone_elses_message(client, make_circle, add_member, login):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    msg = _say(circle, anna, "mine")
    login(client, ben.user)
    chat = f"/c/{circle.id}/chat"
    _post(client, f"{chat}/messages/{msg['id']}/delete", chat)
    assert _db.session.get(Message, msg["id"]).deleted_at is None


def test_central_person_removes_a_hurtful_message_and_it_is_recorded(
    client, make_circle, add_member, login
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    sanne = add_member(circle, role="central", name="Sanne")
    msg = _say(circle, anna, "something hurtful")
    login(client, sanne.user)
    chat = f"/c/{circle.id}/chat"
    _post(client, f"{chat}/messages/{msg['id']}/delete", chat)
    html = client.get(chat).get_data(as_text=True)
    assert "something hurtful" not in html and "removed by a central person" in html
    ev = _db.session.scalar(select(CircleEvent).where(CircleEvent.kind == "message_removed"))
    assert ev.actor_id == sanne.id and ev.subject_id == anna.id
    assert "Sanne removed a message from Anna." in client.get(f"/c/{circle.id}").get_data(
        as_text=True
    )


def test_message_of_another_circle_is_404_under_my_circle(client, make_circle, add_member, login):
    c1, _ = make_circle("One")
    c2, _ = make_circle("Two")
    mine = add_member(c1, role="central")
    theirs = add_member(c2)
    msg = _say(c2, theirs, "their secret")
    login(client, mine.user)
    assert client.get(f"/c/{c1.id}/chat/messages/{msg['id']}/versions").status_code == 404
    chat = f"/c/{c1.id}/chat"
    assert _post(client, f"{chat}/messages/{msg['id']}/delete", chat).status_code == 404
    assert _db.session.get(Message, msg["id"]).deleted_at is None


def test_professionals_only_while_the_central_persons_allow_it(
    client, make_circle, add_member, login, new_client, socket_client
):
    circle, _ = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    ellen = add_member(circle, role="professional", name="Ellen")
    _say(circle, sanne, "family only")
    pro = login(new_client(), ellen.user)
    chat = f"/c/{circle.id}/chat"
    assert pro.get(chat).status_code == 403
    sock = socket_client(ellen.user)
    assert sock.emit("chat:join", {"circle_id": circle.id})["error"] == "forbidden"
    assert (
        sock.emit("chat:send", {"circle_id": circle.id, "client_id": "pro-00000001", "body": "x"})[
            "error"
        ]
        == "forbidden"
    )
    # The central person opens the chat to professionals.
    login(client, sanne.user)
    settings = f"/c/{circle.id}/settings"
    _post(client, f"/c/{circle.id}/professionals", settings, read_chat="y")
    assert "family only" in pro.get(chat).get_data(as_text=True)
    sock = socket_client(ellen.user)
    assert sock.emit("chat:join", {"circle_id": circle.id})["ok"]
    # Closing it takes effect at once: the open socket is closed and HTTP refuses.
    _post(client, f"/c/{circle.id}/professionals", settings)
    assert not sock.is_connected()
    assert pro.get(chat).status_code == 403


def test_presence_is_shown_only_when_switched_on(
    client, make_circle, add_member, login, socket_client
):
    circle, _ = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    anna = add_member(circle, name="Anna")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["here"] is None
    s = socket_client(sanne.user)
    s.emit("chat:join", {"circle_id": circle.id})
    assert not [e for e in a.get_received() if e["name"] == "presence"]
    login(client, sanne.user)
    settings = f"/c/{circle.id}/settings"
    _post(client, f"/c/{circle.id}/presence", settings, enabled="y")
    b = socket_client(anna.user)
    here = b.emit("chat:join", {"circle_id": circle.id})["here"]
    assert "Sanne" in here and "Anna" in here
    assert [e for e in s.get_received() if e["name"] == "presence"]
