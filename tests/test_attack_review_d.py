# ruff: noqa: F811  (fixtures imported from other test modules, then used as arguments)
"""Review D of issue 13 ("The family owns its data"), attacked as an insider would.

Each test performs one attack and asserts the SAFE behaviour: a failing test is a hole.
Focus: the access log (can a professional read without being seen?), the exports,
erasure (old tokens, old sockets, the name "former-member") and closed circles.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.access import ChatSeat
from portal.models import CalendarFeed, Role
from portal.models.privacy import AccessLogEntry
from portal.services import ServiceError, accounts
from portal.services import chat as chat_svc
from portal.services import plan as plan_svc
from portal.tokens import hash_token
from tests.conftest import PASSWORD, csrf_from
from tests.test_access_log import family  # noqa: F401


@pytest.fixture(autouse=True)
def _lenient_limits(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    app.config["TOKEN_RATE_LIMIT"] = "1000 per minute"
    app.config["EXPORT_RATE_LIMIT"] = "1000 per hour"


def _looks(db, circle, membership) -> dict[str, int]:
    """The access log as the family reads it: page -> count, for one person."""
    db.session.expire_all()
    return dict(
        db.session.execute(
            select(AccessLogEntry.page, AccessLogEntry.count).where(
                AccessLogEntry.circle_id == circle.id,
                AccessLogEntry.membership_id == membership.id,
            )
        ).all()
    )


def _chat(db, f, n: int = 3) -> None:
    for i in range(n):
        chat_svc.send_message(ChatSeat.of(f.sanne), secrets.token_hex(8), f"Worry number {i}")
    db.session.commit()


def _agreed(db, f) -> None:
    plan_svc.record_agreement(f.circle, f.coord, [f.sanne.id, f.ben.id])
    db.session.commit()


def _unzip(resp) -> tuple[dict, str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as z:
        return json.loads(z.read("data.json")), z.read("index.html").decode()


# --- The access log: reading without being seen -------------------------------------------


def test_a_professional_reading_the_chat_over_the_socket_is_in_the_log(db, family, socket_client):
    """Ellen (a professional, the chat is open to her) never opens the chat page: she
    opens /account, takes its CSRF token, and reads the whole chat over the socket
    (chat:join from seq 0, then chat:history). The family must still see that she
    looked at the chat."""
    f = family
    _chat(db, f)
    sock = socket_client(f.ellen.user)
    joined = sock.emit("chat:join", {"circle_id": f.circle.id, "after_seq": 0})
    assert joined["ok"] and len(joined["messages"]) == 3
    assert _looks(db, f.circle, f.ellen) == {"chat": 1}
    older = sock.emit("chat:history", {"circle_id": f.circle.id, "before_seq": 3})
    assert older["ok"] and len(older["messages"]) == 2
    # Recorded, but a page and its live companion do not inflate the count.
    assert _looks(db, f.circle, f.ellen) == {"chat": 1}


def test_the_family_reading_the_chat_over_the_socket_writes_nothing(db, family, socket_client):
    f = family
    _chat(db, f)
    sock = socket_client(f.ben.user)
    assert sock.emit("chat:join", {"circle_id": f.circle.id, "after_seq": 0})["ok"]
    assert sock.emit("chat:history", {"circle_id": f.circle.id, "before_seq": 3})["ok"]
    db.session.expire_all()
    assert db.session.scalars(select(AccessLogEntry)).all() == []


def test_the_chat_page_and_its_socket_count_as_one_look(db, family, login, client, csrf):
    """The chat page opens its socket and joins: one look, not two."""
    from tests.conftest import SocketClient

    f = family
    _chat(db, f)
    login(client, f.ellen.user)
    page = client.get(f"/c/{f.circle.id}/chat")
    assert page.status_code == 200
    sock = SocketClient(client.application, client, auth={"csrf": csrf(page)})
    assert sock.emit("chat:join", {"circle_id": f.circle.id, "after_seq": 3})["ok"]
    assert _looks(db, f.circle, f.ellen) == {"chat": 1}


@pytest.mark.parametrize("path", ["/plan/versions/1", "/plan/diff?a=1&b=1"])
def test_a_professional_reading_the_plan_as_a_version_is_in_the_log(
    db, family, login, client, path
):
    """The latest version IS the current plan: opening /plan/versions/<latest> (or a
    diff of it) shows every commitment, and must be logged like /plan."""
    f = family
    _agreed(db, f)
    login(client, f.ellen.user)
    page = client.get(f"/c/{f.circle.id}{path}")
    assert page.status_code == 200
    assert "Walk the dog" in page.get_data(as_text=True)
    assert _looks(db, f.circle, f.ellen) == {"plan": 1}


def test_a_professional_account_export_is_in_the_log(db, family, login, client, new_client):
    """/account/export holds the current plan of every circle one is in: for a
    professional that is reading the plan as a file, and the family must see it."""
    f = family
    _agreed(db, f)
    login(client, f.ellen.user)
    data, _html = _unzip(client.get("/account/export"))
    assert any(c["what"] == "Walk the dog" for p in data["plans"] for c in p["plan"]["commitments"])
    assert _looks(db, f.circle, f.ellen) == {"plan_export": 1}
    # The family reads it on the access log page.
    other = login(new_client(), f.sanne.user)
    log = other.get(f"/c/{f.circle.id}/access-log").get_data(as_text=True)
    assert "Ellen" in log and "as a file to download" in log


def test_the_familys_own_account_export_writes_no_log(db, family, login, client):
    f = family
    login(client, f.ben.user)
    _unzip(client.get("/account/export"))
    db.session.expire_all()
    assert db.session.scalars(select(AccessLogEntry)).all() == []


# --- Erasure: the name "former-member" and old keys ------------------------------------------


def test_nobody_can_take_the_username_former_member(db, make_user):
    """An erased person's @mentions become "@former-member". Whoever registers that
    username would be the one those old messages seem to call (and mention), so it
    is nobody's."""
    with pytest.raises(ServiceError):
        accounts.validate_username("former-member")
    with pytest.raises(ServiceError):
        accounts.validate_username("Former-Member")


def test_an_erased_persons_old_keys_open_nothing(
    app, db, family, login, new_client, socket_client, csrf
):
    """Before erasing, Ben keeps: a second browser's cookie, an open socket, a calendar
    feed link. After, none of them reaches anything."""
    f = family
    ben = f.ben.user
    other_tab = login(new_client(), ben)
    sock = socket_client(ben)
    assert sock.emit("chat:join", {"circle_id": f.circle.id})["ok"]
    feed_token = secrets.token_urlsafe(32)
    db.session.add(CalendarFeed(user_id=ben.id, token_hash=hash_token(feed_token)))
    db.session.commit()

    browser = login(new_client(), ben)
    page = browser.get("/account/delete")
    resp = browser.post(
        "/account/delete", data={"csrf_token": csrf_from(page), "password": PASSWORD}
    )
    assert resp.status_code == 200

    assert other_tab.get(f"/c/{f.circle.id}/chat").status_code in (302, 404)
    # The open socket was closed with the account; had it lived, its seat is gone too.
    if sock.is_connected():
        sent = sock.emit(
            "chat:send", {"circle_id": f.circle.id, "client_id": "late-send-1", "body": "hi"}
        )
        assert not sent.get("ok")
    assert new_client().get(f"/calendar/{feed_token}.ics").status_code == 404
    # Nor can anyone sign in with the old username and password.
    again = new_client()
    page = again.get("/login")
    resp = again.post(
        "/login", data={"login": ben.username, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert resp.status_code != 302


# --- Exports: markup and other people's secrets ---------------------------------------------


def test_markup_in_names_titles_and_messages_stays_text_in_the_export(db, family, login, client):
    f = family
    f.circle.title = "</title></style><script>alert(1)</script>"
    f.sanne.stored_name = '<img src=x onerror="alert(2)">'
    db.session.commit()
    chat_svc.send_message(ChatSeat.of(f.sanne), "markup-01", "<script>alert(3)</script>")
    db.session.commit()
    login(client, f.sanne.user)
    resp = client.get(f"/c/{f.circle.id}/export")
    assert "script" not in resp.headers["Content-Disposition"]
    data, html = _unzip(resp)
    assert "<script" not in html and "<img" not in html
    assert data["circle"]["title"].startswith("</title>")
    # No account data of anyone: usernames, emails, hashes.
    raw = json.dumps(data) + html
    for m in f.circle.memberships:
        assert m.user.username not in raw
        assert m.user.password_hash not in raw
        if m.user.email:
            assert m.user.email not in raw


def test_an_export_of_another_circle_is_the_404(db, family, make_circle, add_member, login, client):
    f = family
    other, _coord = make_circle("Circle around Kim")
    add_member(other, Role.CENTRAL, user=f.ben.user, name="Ben")
    db.session.commit()
    login(client, f.sanne.user)
    missing = client.get("/c/999999/export")
    theirs = client.get(f"/c/{other.id}/export")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_data() == missing.get_data()


# --- Closed circles ---------------------------------------------------------------------------


def test_a_closed_circle_refuses_socket_writes_but_the_reopen_is_the_central_persons(
    db, family, login, client, socket_client
):
    from portal.services import closing

    f = family
    _chat(db, f, 1)
    closing.close_circle(f.circle, f.sanne, now=datetime.now(UTC))
    db.session.commit()
    sock = socket_client(f.ben.user)
    sent = sock.emit(
        "chat:send", {"circle_id": f.circle.id, "client_id": "closed-01", "body": "hi"}
    )
    assert sent.get("error") == "closed"
    login(client, f.ben.user)
    home = client.get(f"/c/{f.circle.id}")
    assert home.status_code == 200
    resp = client.post(f"/c/{f.circle.id}/reopen", data={"csrf_token": csrf_from(home)})
    assert resp.status_code == 403
    db.session.expire_all()
    assert f.circle.closed_at is not None
