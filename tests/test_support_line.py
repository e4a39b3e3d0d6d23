"""The private line between a supporter and the member they support (issue 14).

Over HTTP and over a real Socket.IO test client sharing the browser's session (as
tests/test_chat_socket.py): who the supporter supports (the invitation, the people
page), exactly-once delivery and the catch-up after a reconnect, the attacks of every
other role, and the life of the data (news, erasure, exports, purge, "who can see").
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import purge
from portal.extensions import db as _db
from portal.models import (
    AccessLogEntry,
    Circle,
    LineMessage,
    Membership,
    Notification,
    Role,
    SupportLine,
)
from portal.services import circles as circle_svc
from portal.services import closing as closing_svc
from portal.services import erasure
from portal.services import lines as line_svc
from portal.services import membership as membership_svc
from tests.conftest import csrf_from

SECRET = "I am scared of the weekend"


# --- Setting up a pair --------------------------------------------------------------


def _supporter_of(db, make_user, circle, inviter, member, name="Sanne"):
    """Invite ``name`` as the supporter of ``member`` (by id, as the form does) and join."""
    inv, token = circle_svc.invite(
        circle, inviter, name=name, role=Role.SUPPORTER, supports=str(member.id)
    )
    db.session.commit()
    assert inv.supports_id == member.id and inv.supporter_of == member.display_name
    supporter = circle_svc.redeem_invitation(token, make_user(name))
    db.session.commit()
    return supporter


@pytest.fixture
def pair(db, make_circle, add_member, make_user):
    """A circle with a child (member), their supporter, a central person, a plain member,
    another supporter (of someone else), a professional (the chat open to them), and a
    second circle."""
    circle, coordinator = make_circle("Circle around Sam")
    central = add_member(circle, Role.CENTRAL, name="Mum")
    child = add_member(circle, Role.MEMBER, name="Sam")
    supporter = _supporter_of(db, make_user, circle, central, child)
    member = add_member(circle, Role.MEMBER, name="Uncle Tom")
    other_supporter = _supporter_of(db, make_user, circle, central, member, name="Jo")
    professional = add_member(circle, Role.PROFESSIONAL, name="Social worker")
    circle_svc.set_professionals_read_chat(circle, central, True)
    other, _ = make_circle("Another circle")
    outsider = add_member(other, Role.CENTRAL, name="Other mum")
    db.session.commit()
    line = db.session.scalar(
        select(SupportLine).where(
            SupportLine.supporter_id == supporter.id, SupportLine.member_id == child.id
        )
    )
    assert line is not None
    return {
        "circle": circle,
        "coordinator": coordinator,
        "central": central,
        "child": child,
        "supporter": supporter,
        "member": member,
        "other_supporter": other_supporter,
        "professional": professional,
        "other": other,
        "outsider": outsider,
        "line": line,
    }


def _url(p, line=None, circle=None):
    return f"/c/{(circle or p['circle']).id}/line/{(line or p['line']).id}"


def _ids(p):
    return {"circle_id": p["circle"].id, "line_id": p["line"].id}


def _events(sock, name="line:message"):
    return [e["args"][0] for e in sock.get_received() if e["name"] == name]


def _browser(new_client, login, membership):
    return login(new_client(), membership.user)


# --- Who supports whom --------------------------------------------------------------


def test_the_invitation_offers_the_circles_people_and_the_supporter_gets_the_line(
    app, db, pair, new_client, login
):
    p = pair
    supporter = db.session.get(Membership, p["supporter"].id)
    assert supporter.supports_id == p["child"].id
    assert supporter.supporter_of == "Sam"
    # The form is a choice of the circle's people: family yes; professionals and the
    # coordinator no (nobody's line may open to them).
    central = _browser(new_client, login, p["central"])
    page = central.get(f"/c/{p['circle'].id}/people").get_data(as_text=True)
    form = page.split('name="supports"', 1)[1].split("</select>", 1)[0]
    assert f'value="{p["child"].id}"' in form and f'value="{p["central"].id}"' in form
    assert f'value="{p["professional"].id}"' not in form
    assert f'value="{p["coordinator"].id}"' not in form
    # A professional (or someone of another circle) typed into the form is refused.
    token = csrf_from(central.get(f"/c/{p['circle'].id}/people"))
    for bad in (p["professional"].id, p["outsider"].id, "", "nobody"):
        resp = central.post(
            f"/c/{p['circle'].id}/invitations",
            data={"csrf_token": token, "name": "X", "role": "supporter", "supports": str(bad)},
        )
        assert resp.status_code == 400, bad
    # A supporter chosen from the list gets the card; nobody else's choice is needed.
    resp = central.post(
        f"/c/{p['circle'].id}/invitations",
        data={"csrf_token": token, "name": "Aunt Ria", "role": "supporter",
              "supports": str(p["member"].id)},
    )  # fmt: skip
    assert resp.status_code == 200 and "Aunt Ria" in resp.get_data(as_text=True)


def test_a_supporter_whose_member_left_before_they_joined_supports_nobody(
    db, make_circle, add_member, make_user
):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL, name="Mum")
    child = add_member(circle, Role.MEMBER, name="Sam")
    _inv, token = circle_svc.invite(
        circle, central, name="Sanne", role=Role.SUPPORTER, supports=child.id
    )
    membership_svc.leave_circle(circle, child)
    db.session.commit()
    supporter = circle_svc.redeem_invitation(token, make_user("Sanne"))
    db.session.commit()
    assert supporter.supports_id is None
    assert db.session.scalar(select(func.count()).select_from(SupportLine)) == 0


# --- The page -------------------------------------------------------------------------


def test_the_two_see_the_line_and_a_link_to_it_and_nobody_else_does(
    app, db, pair, new_client, login
):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    db.session.commit()
    for who in ("child", "supporter"):
        browser = _browser(new_client, login, p[who])
        home = browser.get(f"/c/{p['circle'].id}").get_data(as_text=True)
        assert _url(p) in home, who  # the nav's link
        page = browser.get(_url(p))
        assert page.status_code == 200 and SECRET in page.get_data(as_text=True)
    for who in ("central", "member", "other_supporter", "professional", "coordinator"):
        browser = _browser(new_client, login, p[who])
        home = browser.get(f"/c/{p['circle'].id}").get_data(as_text=True)
        assert f"/line/{p['line'].id}" not in home, who
        # (The uncle and Jo have a line of their own: not this one.)
        assert "Private line with Sam" not in home and "Private line with Sanne" not in home


def test_the_page_sends_without_javascript_once_per_client_id(app, db, pair, new_client, login):
    p = pair
    browser = _browser(new_client, login, p["child"])
    token = csrf_from(browser.get(_url(p)))
    data = {"csrf_token": token, "client_id": "form-client-01", "body": SECRET}
    assert browser.post(_url(p), data=data).status_code == 302
    assert browser.post(_url(p), data=data).status_code == 302  # pressed twice
    bodies = db.session.scalars(select(LineMessage.body)).all()
    assert bodies == [SECRET]
    # Nothing went to the circle chat.
    assert "messages" not in {n.kind for n in db.session.scalars(select(Notification))}


def test_no_access_log_rows_for_a_line(app, db, pair, new_client, login):
    p = pair
    for who in ("child", "supporter"):
        _browser(new_client, login, p[who]).get(_url(p))
    assert db.session.scalar(select(func.count()).select_from(AccessLogEntry)) == 0


# --- Exactly once, live, and the catch-up -------------------------------------------------


def test_send_is_stored_once_numbered_and_delivered_live_to_the_other_only(
    app, db, pair, socket_client
):
    p = pair
    child, sup = socket_client(p["child"].user), socket_client(p["supporter"].user)
    central = socket_client(p["central"].user)
    assert child.emit("line:join", _ids(p))["ok"]
    assert sup.emit("line:join", _ids(p))["ok"]
    # The central person joins the circle chat: the line's message must not come there.
    assert central.emit("chat:join", {"circle_id": p["circle"].id})["ok"]
    for s in (child, sup, central):
        s.get_received()

    payload = {**_ids(p), "client_id": "line-client-0001", "body": SECRET}
    first = child.emit("line:send", payload)
    again = child.emit("line:send", payload)  # a retry after a lost answer
    assert first["ok"] and first["message"]["seq"] == 1 and first["duplicate"] is False
    assert again["ok"] and again["duplicate"] is True
    assert again["message"]["id"] == first["message"]["id"]
    assert db.session.scalar(select(func.count()).select_from(LineMessage)) == 1
    nxt = child.emit("line:send", {**_ids(p), "client_id": "line-client-0002", "body": "Two"})
    assert nxt["message"]["seq"] == 2  # the duplicate used no number

    got = _events(sup)
    assert [e["message"]["body"] for e in got] == [SECRET, "Two"]
    assert got[0]["type"] == "message" and got[0]["op"] == "new"
    assert SECRET not in json.dumps(central.get_received())


def test_a_reconnect_catches_up_after_the_last_seq_it_has(app, db, pair, socket_client):
    p = pair
    child = socket_client(p["child"].user)
    child.emit("line:join", _ids(p))
    child.emit("line:send", {**_ids(p), "client_id": "catch-up-00001", "body": "One"})
    child.disconnect()
    # While the child is away, the supporter writes twice.
    sup = socket_client(p["supporter"].user)
    for i in (2, 3):
        sup.emit("line:send", {**_ids(p), "client_id": f"catch-up-0000{i}", "body": f"N{i}"})
    back = socket_client(p["child"].user)
    ack = back.emit("line:join", {**_ids(p), "after_seq": 1})
    assert ack["ok"] and ack["last_seq"] == 3
    assert [(m["seq"], m["body"]) for m in ack["messages"]] == [(2, "N2"), (3, "N3")]
    older = back.emit("line:history", {**_ids(p), "before_seq": 3})
    assert [m["seq"] for m in older["messages"]] == [1, 2] and older["more"] is False


# --- Every other role is refused, as for a line that does not exist ----------------------

ATTACKERS = ("central", "member", "other_supporter", "professional", "coordinator", "outsider")
EVENTS = {
    "line:join": {},
    "line:send": {"client_id": "attack-0000001", "body": "Let me in"},
    "line:history": {"before_seq": 2},
    "line:read": {"seq": 1},
}


def _missing(p):
    return {"circle_id": p["circle"].id, "line_id": p["line"].id + 1000}


def _refused_everywhere(db, p, browser, sock):
    """HTTP: the one 404, byte for byte the same as a line that does not exist; socket:
    ``not_found`` for every event, the same as for a missing line; nothing changes and
    no live message reaches the socket."""
    missing = f"/c/{p['circle'].id}/line/{p['line'].id + 1000}"
    a, b = browser.get(_url(p)), browser.get(missing)
    assert a.status_code == b.status_code == 404 and a.get_data() == b.get_data()
    token = csrf_from(browser.get("/account"))
    data = {"csrf_token": token, "client_id": "attack-http-001", "body": "x"}
    a, b = browser.post(_url(p), data=data), browser.post(missing, data=data)
    assert a.status_code == b.status_code == 404 and a.get_data() == b.get_data()
    for event, extra in EVENTS.items():
        got = sock.emit(event, {**_ids(p), **extra})
        assert (
            got
            == sock.emit(event, {**_missing(p), **extra})
            == {
                "ok": False,
                "error": "not_found",
            }
        ), event
    assert db.session.scalar(select(func.count()).select_from(LineMessage)) == 1
    line = db.session.get(SupportLine, p["line"].id)
    assert line.message_seq == 1 and line.member_read_seq == 0


@pytest.mark.parametrize("who", ATTACKERS)
def test_every_other_role_gets_the_one_404(app, db, pair, new_client, login, socket_client, who):
    p = pair
    line_svc.send_message(p["line"], p["supporter"], "client-0000001", SECRET)
    db.session.commit()
    browser = _browser(new_client, login, p[who])
    sock = socket_client(p[who].user, http=browser)
    _refused_everywhere(db, p, browser, sock)
    # And nothing comes live either (a message the two write later).
    sock.get_received()
    line_svc.send_message(p["line"], p["child"], "client-0000002", "later")
    db.session.commit()
    assert "later" not in json.dumps(sock.get_received())
    db.session.execute(LineMessage.__table__.delete().where(LineMessage.seq == 2))
    db.session.execute(SupportLine.__table__.update().values(message_seq=1))
    db.session.commit()


def test_the_coordinator_after_the_handover_gets_the_one_404(
    app, db, pair, new_client, login, socket_client
):
    p = pair
    line_svc.send_message(p["line"], p["supporter"], "client-0000001", SECRET)
    circle_svc.hand_over(p["circle"], p["coordinator"])
    db.session.commit()
    browser = _browser(new_client, login, p["coordinator"])
    _refused_everywhere(db, p, browser, socket_client(p["coordinator"].user, http=browser))


@pytest.mark.parametrize("gone", ["supporter_removed", "supporter_left", "child_left"])
def test_a_removed_or_left_supporter_or_member_loses_the_line(
    app, db, pair, new_client, login, socket_client, gone
):
    """Whoever went gets the 404; and the one who stays cannot read it either (the pair no
    longer stands)."""
    p = pair
    line_svc.send_message(p["line"], p["supporter"], "client-0000001", SECRET)
    db.session.commit()
    stayer, goer = (
        ("child", "supporter") if gone.startswith("supporter") else ("supporter", "child")
    )
    b_go = _browser(new_client, login, p[goer])
    b_stay = _browser(new_client, login, p[stayer])
    line_svc.send_message(p["line"], p[goer], "client-0000009", "unread")
    db.session.commit()
    unread = select(Notification).where(Notification.kind == "line", Notification.read_at.is_(None))
    assert p[stayer].user_id in [n.user_id for n in db.session.scalars(unread)]
    if gone == "supporter_removed":
        membership_svc.remove_member(p["circle"], p["central"], p["supporter"])
    else:
        membership_svc.leave_circle(p["circle"], p[goer])
    db.session.commit()
    # The unread news of the line is put away: it would only lead to the 404.
    assert db.session.scalars(unread).all() == []
    db.session.execute(LineMessage.__table__.delete().where(LineMessage.seq == 2))
    db.session.execute(SupportLine.__table__.update().values(message_seq=1))
    db.session.commit()
    _refused_everywhere(db, p, b_stay, socket_client(p[stayer].user, http=b_stay))
    assert b_go.get(_url(p)).status_code == 404


def test_a_line_id_under_another_circle_is_not_found(app, db, pair, new_client, login):
    """The child, in a second circle too, puts the line's id under that circle's URL."""
    p = pair
    child_user = p["child"].user
    _inv, token = circle_svc.invite(p["other"], None, name="Sam", role=Role.MEMBER)
    circle_svc.redeem_invitation(token, child_user)
    db.session.commit()
    browser = _browser(new_client, login, p["child"])
    a = browser.get(_url(p, circle=p["other"]))
    b = browser.get(f"/c/{p['other'].id}/line/{p['line'].id + 1000}")
    assert a.status_code == b.status_code == 404 and a.get_data() == b.get_data()


# --- Changing who supports whom ------------------------------------------------------------


def test_a_central_person_changes_the_pair_and_the_old_line_closes(
    app, db, pair, new_client, login, socket_client
):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    db.session.commit()
    central = _browser(new_client, login, p["central"])
    token = csrf_from(central.get(f"/c/{p['circle'].id}/people"))
    url = f"/c/{p['circle'].id}/members/{p['supporter'].id}/supports"
    # Not a person who can be supported: refused, nothing changes.
    for bad in (p["professional"].id, p["outsider"].id, p["supporter"].id, "x"):
        central.post(url, data={"csrf_token": token, "supports": str(bad)})
        assert db.session.get(Membership, p["supporter"].id).supports_id == p["child"].id
    assert (
        central.post(url, data={"csrf_token": token, "supports": str(p["member"].id)}).status_code
        == 302
    )
    supporter = db.session.get(Membership, p["supporter"].id)
    assert supporter.supports_id == p["member"].id and supporter.supporter_of == "Uncle Tom"
    new_line = db.session.scalar(
        select(SupportLine).where(SupportLine.member_id == p["member"].id,
                                  SupportLine.supporter_id == p["supporter"].id)
    )  # fmt: skip
    # The old line: closed to both of its people (and still to everyone else).
    for who in ("child", "supporter", "central"):
        assert _browser(new_client, login, p[who]).get(_url(p)).status_code == 404, who
    # The new line: open to the new pair only, and empty (nothing of the old one).
    sup = _browser(new_client, login, p["supporter"])
    page = sup.get(_url(p, line=new_line))
    assert page.status_code == 200 and SECRET not in page.get_data(as_text=True)
    assert _browser(new_client, login, p["member"]).get(_url(p, line=new_line)).status_code == 200
    assert _browser(new_client, login, p["child"]).get(_url(p, line=new_line)).status_code == 404
    # Back to the child: the old line opens again for the two of them, as it was.
    central.post(url, data={"csrf_token": token, "supports": str(p["child"].id)})
    page = _browser(new_client, login, p["child"]).get(_url(p))
    assert page.status_code == 200 and SECRET in page.get_data(as_text=True)


def test_only_managers_change_the_pair(app, db, pair, new_client, login):
    p = pair
    url = f"/c/{p['circle'].id}/members/{p['supporter'].id}/supports"
    for who in ("child", "supporter", "member", "professional"):
        browser = _browser(new_client, login, p[who])
        token = csrf_from(browser.get("/account"))
        resp = browser.post(url, data={"csrf_token": token, "supports": str(p[who].id)})
        assert resp.status_code == 403, who
    assert db.session.get(Membership, p["supporter"].id).supports_id == p["child"].id


# --- A closed circle ----------------------------------------------------------------------


def test_a_closed_circle_keeps_the_line_readable_and_refuses_sends(
    app, db, pair, new_client, login, socket_client
):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    closing_svc.close_circle(p["circle"], p["central"])
    db.session.commit()
    browser = _browser(new_client, login, p["child"])
    page = browser.get(_url(p))
    assert page.status_code == 200 and SECRET in page.get_data(as_text=True)
    assert 'id="send-form"' not in page.get_data(as_text=True)
    token = csrf_from(browser.get("/account"))
    resp = browser.post(
        _url(p), data={"csrf_token": token, "client_id": "closed-00001", "body": "x"}
    )
    assert resp.status_code == 403
    sock = socket_client(p["child"].user, http=browser)
    assert sock.emit("line:join", _ids(p))["ok"]
    got = sock.emit("line:send", {**_ids(p), "client_id": "closed-00002", "body": "x"})
    assert got == {"ok": False, "error": "closed"}
    # Outsiders still get the 404, not "closed".
    central = socket_client(p["central"].user)
    assert central.emit("line:send", {**_ids(p), "client_id": "closed-00003", "body": "x"}) == {
        "ok": False,
        "error": "not_found",
    }
    assert db.session.scalar(select(func.count()).select_from(LineMessage)) == 1


# --- News ---------------------------------------------------------------------------------


def test_news_goes_to_the_other_person_only_and_never_says_the_text(
    app, db, pair, new_client, login, socket_client
):
    p = pair
    sock = socket_client(p["child"].user)
    for i in range(3):
        sock.emit("line:send", {**_ids(p), "client_id": f"news-client-{i:03}", "body": SECRET})
    lines = db.session.scalars(select(Notification).where(Notification.kind == "line")).all()
    assert [(n.user_id, n.kind, n.count, n.ref_id) for n in lines] == [
        (p["supporter"].user_id, "line", 3, p["line"].id)
    ]
    assert SECRET not in json.dumps([n.data for n in lines])
    sup = _browser(new_client, login, p["supporter"])
    news = sup.get("/notifications").get_data(as_text=True)
    assert "3 new messages from Sam on your private line" in news and SECRET not in news
    assert _url(p) in news
    # Opening the line reads its news.
    sup.get(_url(p))
    assert db.session.scalar(select(Notification.read_at).where(Notification.kind == "line"))
    # The email counts, never says.
    from portal.notice_mail import _phrase

    with app.test_request_context():
        assert SECRET not in _phrase("line", 3)


def test_the_nav_counts_what_is_unread(app, db, pair, new_client, login):
    p = pair
    for i in range(2):
        line_svc.send_message(p["line"], p["supporter"], f"unread-000{i}", "hi")
    db.session.commit()
    child = _browser(new_client, login, p["child"])
    home = child.get(f"/c/{p['circle'].id}").get_data(as_text=True)
    nav = home.split('class="line-link"', 1)[1].split("</a>", 1)[0]
    assert '<span class="badge">2<span class="visually-hidden"> new messages</span>' in nav
    child.get(_url(p))
    home = child.get(f"/c/{p['circle'].id}").get_data(as_text=True)
    assert "badge" not in home.split('class="line-link"', 1)[1].split("</a>", 1)[0]


# --- Who can see what ------------------------------------------------------------------------


def test_who_can_see_says_the_line_exists_and_only_the_two_read_it(
    app, db, pair, new_client, login
):
    p = pair
    page = (
        _browser(new_client, login, p["professional"])
        .get(f"/c/{p['circle'].id}/who-can-see")
        .get_data(as_text=True)
    )
    fact = page.split('id="fact-line"', 1)[1].split("</li>", 1)[0]
    assert "Only those two can read it" in fact
    assert "Now there are 2 private lines in this circle." in fact


# --- The life of the data ----------------------------------------------------------------------


def _unzip(resp) -> tuple[dict, str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as z:
        return json.loads(z.read("data.json")), z.read("index.html").decode()


def test_the_account_export_holds_the_line_and_the_circle_export_does_not(
    app, db, pair, new_client, login
):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    line_svc.send_message(p["line"], p["supporter"], "client-0000002", "I am here for you")
    db.session.commit()
    data, html = _unzip(_browser(new_client, login, p["child"]).get("/account/export"))
    assert [(m["from"], m["text"]) for m in data["lines"]] == [
        ("Sam", SECRET),
        ("Sanne", "I am here for you"),
    ]
    assert SECRET in html and "Private line of Sanne and Sam" in html
    data, html = _unzip(
        _browser(new_client, login, p["central"]).get(f"/c/{p['circle'].id}/export")
    )
    assert SECRET not in json.dumps(data) and SECRET not in html
    assert "I am here for you" not in json.dumps(data) + html
    # Someone who is no longer in the pair keeps what they wrote, not the other's words.
    membership_svc.leave_circle(p["circle"], p["child"])
    db.session.commit()
    data, _html = _unzip(_browser(new_client, login, p["child"]).get("/account/export"))
    assert [m["text"] for m in data["lines"]] == [SECRET]


@pytest.mark.parametrize("delete_messages", [False, True])
def test_erasure_treats_line_messages_like_chat_messages(app, db, pair, delete_messages):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    db.session.commit()
    erasure.erase_account(p["child"].user, delete_messages=delete_messages)
    db.session.commit()
    msg = db.session.scalar(select(LineMessage))
    assert msg.author.display_name == "a former member"
    if delete_messages:
        assert msg.body == "" and msg.deleted_at is not None
    else:
        assert msg.body == SECRET
    supporter = db.session.get(Membership, p["supporter"].id)
    assert supporter.supporter_of is None


def test_the_purge_removes_the_lines(app, db, pair):
    p = pair
    line_svc.send_message(p["line"], p["child"], "client-0000001", SECRET)
    closing_svc.close_circle(p["circle"], p["central"])
    db.session.commit()
    closed_at = db.session.get(Circle, p["circle"].id).closed_at
    assert purge.run(closed_at + timedelta(days=90, minutes=1))["purged"] == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LineMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(SupportLine)) == 0
    assert db.session.get(Membership, p["supporter"].id).supports_id is None


# --- Valid HTML -------------------------------------------------------------------------------


def test_the_line_pages_are_valid_html(app, db, pair, new_client, login, tmp_path):
    """The line (with an unread divider, and empty), the people page with its "Supporter
    of" choices, and "who can see what", through the Nu HTML Checker as
    tests/test_html_valid.py does for the demo's pages."""
    from tests.test_html_valid import _save, _vnu

    p = pair
    for i in range(3):
        line_svc.send_message(p["line"], p["supporter"], f"valid-client-{i}", f"Hello {i} <b>")
    db.session.commit()
    child = _browser(new_client, login, p["child"])
    _save(tmp_path, "line unread", child.get(_url(p)))
    _save(tmp_path, "line older", child.get(_url(p) + "?before=2"))
    member_line = db.session.scalar(
        select(SupportLine).where(SupportLine.supporter_id == p["other_supporter"].id)
    )
    uncle = _browser(new_client, login, p["member"])
    _save(tmp_path, "line empty", uncle.get(_url(p, member_line)))
    central = _browser(new_client, login, p["central"])
    _save(tmp_path, "people", central.get(f"/c/{p['circle'].id}/people"))
    _save(tmp_path, "who can see", central.get(f"/c/{p['circle'].id}/who-can-see"))
    errors = [m for m in _vnu(sorted(tmp_path.glob("*.html"))) if m.get("type") != "info"]
    assert not errors, errors


# --- Concurrent sends (PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres_only
def test_concurrent_sends_on_a_line_are_numbered_without_gaps_and_stored_once(app, pair):
    """Both people send at once from several devices, and one retry of each message goes
    with them: the line's row lock numbers them 1..n, each client id is stored once."""
    import threading

    from portal.access import access_line
    from portal.realtime.state import SocketUser

    p = pair
    circle_id, line_id = p["circle"].id, p["line"].id
    jobs = [
        (who.user_id, f"{name}-client-{i:04d}", f"{name} says {i}")
        for i in range(8)
        for name, who in (("child", p["child"]), ("supporter", p["supporter"]))
    ]
    jobs += jobs[:4]  # four retries of messages already on their way
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(i, user_id, client_id, body):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                user = SocketUser(id=user_id, login_session_id=0)
                _circle, me, line = access_line(user, circle_id, line_id)
                results[i] = line_svc.send_message(line, me, client_id, body)
                _db.session.commit()
            except Exception as e:  # noqa: BLE001 - reported below
                _db.session.rollback()
                results[i] = e
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [r for r in results if isinstance(r, Exception)], results
    _db.session.expire_all()
    seqs = _db.session.scalars(select(LineMessage.seq).order_by(LineMessage.seq)).all()
    assert seqs == list(range(1, 17))
    assert _db.session.get(SupportLine, line_id).message_seq == 16
    # A retry answers with the very message its first send stored.
    by_client = {}
    for message, _new in results:
        by_client.setdefault(message["client_id"], set()).add(message["id"])
    assert all(len(ids) == 1 for ids in by_client.values())
