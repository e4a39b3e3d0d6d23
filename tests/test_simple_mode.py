"""Issue 14: simple mode, the discreet tab title, "Leave quickly", and the quiet
defaults (no presence, no read receipts).

Simple mode is the same pages with ``<body class="simple">`` and a short menu; the
discreet setting makes every tab title "Notes"; every page, signed in or not, has a
"Leave quickly" link to QUICK_EXIT_URL and no inline script (the CSP forbids it).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.display import check_quick_exit_url
from portal.extensions import db as _db
from portal.models import Circle, Invitation, User
from tests.conftest import PASSWORD, csrf_from

TITLE = re.compile(r"<title>(.*?)</title>", re.S)
MAIN_NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)


def _profile(user, **extra) -> dict:
    data = {"name": user.name, "locale": "en", "timezone": "Europe/Amsterdam"}
    data.update(extra)
    return data


def _fresh(user) -> User:
    return _db.session.get(User, user.id)


def _title(resp) -> str:
    return TITLE.search(resp.get_data(as_text=True)).group(1).strip()


def _menu(resp) -> list[str]:
    nav = MAIN_NAV.search(resp.get_data(as_text=True)).group(1)
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)]


@pytest.fixture
def family(make_circle, add_member):
    """A circle with a central person (who may invite) and a member."""
    circle, _coordinator = make_circle()
    central = add_member(circle, "central", name="Sanne")
    mila = add_member(circle, name="Mila")
    return circle, central, mila


# --- The settings ----------------------------------------------------------------------


def test_simple_mode_and_discreet_are_saved_from_the_account_page(client, login, make_user):
    user = make_user("Oma")
    login(client, user)
    page = client.get("/account")
    html = page.get_data(as_text=True)
    assert "Simple mode: bigger letters, fewer buttons" in html
    assert "Hide Kring" in html and "name in the browser tab" in html
    resp = client.post(
        "/account",
        data=_profile(user, simple_mode="y", discreet="y", csrf_token=csrf_from(page)),
    )
    assert resp.status_code == 302
    assert _fresh(user).simple_mode and _fresh(user).discreet
    # The page shows them switched on; unticking switches them off again.
    page = client.get("/account")
    box = re.search(r'<input[^>]*id="simple_mode"[^>]*>', page.get_data(as_text=True)).group(0)
    assert "checked" in box
    client.post("/account", data=_profile(user, csrf_token=csrf_from(page)))
    assert not _fresh(user).simple_mode and not _fresh(user).discreet


def test_a_forged_post_without_the_csrf_token_changes_nothing(client, login, make_user):
    user = make_user("Oma")
    login(client, user)
    resp = client.post("/account", data=_profile(user, simple_mode="y", discreet="y"))
    assert resp.status_code in (200, 400)
    assert not _fresh(user).simple_mode and not _fresh(user).discreet


# --- The invitation --------------------------------------------------------------------


def _invite(client, circle, page, **extra) -> str:
    """Post the people page's invitation form; return the link on the printed card."""
    data = {"name": "Mees", "role": "member", "csrf_token": csrf_from(page), **extra}
    card = client.post(f"/c/{circle.id}/invitations", data=data)
    assert card.status_code == 200, card.get_data(as_text=True)[:400]
    return re.search(r"http://localhost(/i/[A-Za-z0-9_\-]+)", card.get_data(as_text=True)).group(1)


def _join(new_client, path: str, username: str) -> User:
    child = new_client()
    assert child.get(path).status_code == 302
    form = child.get("/join")
    resp = child.post(
        "/join",
        data={
            "display_name": "Mees",
            "username": username,
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_from(form),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    return _db.session.scalar(select(User).where(User.username == username))


def test_an_invitation_can_switch_simple_mode_on_for_the_new_account(
    client, login, new_client, family
):
    circle, central, _mila = family
    login(client, central.user)
    page = client.get(f"/c/{circle.id}/people")
    assert "Use simple mode: bigger letters, fewer buttons" in page.get_data(as_text=True)
    link = _invite(client, circle, page, simple_mode="y")
    inv = _db.session.scalar(select(Invitation).where(Invitation.name == "Mees"))
    assert inv.simple_mode
    mees = _join(new_client, link, "mees")
    assert mees.simple_mode
    # Without the box, the new account is as everyone's.
    plain = _join(
        new_client, _invite(client, circle, client.get(f"/c/{circle.id}/people")), "mees2"
    )
    assert not plain.simple_mode


def test_an_existing_account_keeps_its_own_setting(family, make_user, db):
    from portal.services import circles as circle_svc

    circle, central, _mila = family
    adult = make_user("Tom")
    _inv, token = circle_svc.invite(circle, central, name="Tom", role="member", simple_mode=True)
    circle_svc.redeem_invitation(token, adult)
    db.session.commit()
    assert not _fresh(adult).simple_mode


# --- The layout ------------------------------------------------------------------------


def test_simple_mode_is_the_same_page_with_a_class_and_a_short_menu(client, login, family, db):
    circle, _central, mila = family
    mila.user.simple_mode = True
    db.session.commit()
    login(client, mila.user)
    for path in (f"/c/{circle.id}", f"/c/{circle.id}/plan", f"/c/{circle.id}/chat", "/account"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        html = resp.get_data(as_text=True)
        assert '<body class="simple"' in html, path
        assert _menu(resp)[:3] == ["Home", "Messages", "My tasks"], path
        assert "My meetings" not in _menu(resp), path
        # The way back to the setting (and out) is still there, in the footer.
        assert 'href="/account"' in html and "Sign out" in html, path
    # One circle: "Messages" is its chat.
    assert f'href="/c/{circle.id}/chat"' in MAIN_NAV.search(html).group(1)
    mine = client.get("/me/commitments").get_data(as_text=True)
    assert "<h1>My tasks</h1>" in mine


def test_without_simple_mode_the_full_menu_stays(client, login, family):
    circle, _central, mila = family
    login(client, mila.user)
    resp = client.get(f"/c/{circle.id}")
    html = resp.get_data(as_text=True)
    assert "<body>" in html and 'class="simple"' not in html
    assert "My circles" in _menu(resp) and "My meetings" in _menu(resp)
    assert "read-aloud.js" not in html


def test_read_aloud_buttons_on_messages_and_tasks_in_simple_mode(client, login, family, db):
    from datetime import date

    from portal.access import access_chat_seat
    from portal.services import chat as chat_svc
    from portal.services import plan as plan_svc
    from portal.services.plan import CommitmentData
    from portal.services.schedule import Schedule

    circle, central, mila = family
    chat_svc.send_message(access_chat_seat(central.user, circle.id), "cake00000001", "Cake?")
    data = CommitmentData(
        what="Feed the cat",
        assignee_ids=[mila.id],
        schedule=Schedule(kind="once", start=date.today()),
    )
    plan_svc.change(circle, central, "add_commitment", payload=data.to_payload())
    db.session.commit()
    login(client, mila.user)
    # Not in the normal layout.
    assert "data-read-aloud" not in client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    mila.user.simple_mode = True
    db.session.commit()
    chat = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert 'data-read-aloud="m1"' in chat
    assert '<p class="body" data-speak>Cake?</p>' in chat
    assert "/static/js/read-aloud.js" in chat
    assert 'data-t-read-aloud="Read aloud"' in chat  # for live messages (chat.js)
    plan = client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "<h2>Tasks</h2>" in plan and "Download (JSON)" not in plan  # plain, fewer buttons
    for path in (f"/c/{circle.id}/plan", "/me/commitments"):
        html = client.get(path).get_data(as_text=True)
        assert re.search(r'data-read-aloud="c\d+">Read aloud</button>', html), path
        assert '<h3 class="what" data-speak>Feed the cat</h3>' in html, path


# --- The discreet title ----------------------------------------------------------------


def test_discreet_and_simple_make_every_tab_title_neutral(client, login, family, db):
    circle, _central, mila = family
    login(client, mila.user)
    assert _title(client.get(f"/c/{circle.id}/chat")).endswith("· Kring")
    mila.user.discreet = True
    db.session.commit()
    for path in (f"/c/{circle.id}", f"/c/{circle.id}/chat", f"/c/{circle.id}/plan", "/account"):
        title = _title(client.get(path))
        assert title == "Notes", (path, title)
    assert _title(client.get("/c/999999")) == "Notes"  # the 404 page too
    # Simple mode is a "safe setup" too: a child's tab does not say Kring either.
    mila.user.discreet, mila.user.simple_mode = False, True
    db.session.commit()
    assert _title(client.get(f"/c/{circle.id}/chat")) == "Notes"
    # ... and the tab's icon is a plain note, not Kring's.
    html = client.get(f"/c/{circle.id}").get_data(as_text=True)
    assert 'rel="icon" href="/static/icons/notes.svg"' in html


# --- Leave quickly ---------------------------------------------------------------------


def _scripts_are_files(html: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_every_page_has_leave_quickly_to_the_configured_address(client, login, family, app):
    url = app.config["QUICK_EXIT_URL"]
    assert url.startswith("https://")
    link = f'<a class="quick-exit" href="{url}" data-quick-exit>Leave quickly</a>'
    circle, _central, mila = family
    for path in (
        "/",
        "/login",
        "/password/forgot",
        "/join",
    ):  # signed out; /join: the dead-link page
        html = client.get(path).get_data(as_text=True)
        assert link in html, path
        assert "/static/js/quick-exit.js" in html, path
        _scripts_are_files(html)
    mila.user.simple_mode = True
    _db.session.commit()
    login(client, mila.user)
    for path in (f"/c/{circle.id}", f"/c/{circle.id}/chat", f"/c/{circle.id}/plan", "/c/1234567"):
        html = client.get(path).get_data(as_text=True)  # ... and the 404 page
        assert link in html, path
        _scripts_are_files(html)


def test_leave_quickly_goes_where_the_operator_says(app_with_exit):
    client = app_with_exit.test_client()
    html = client.get("/login").get_data(as_text=True)
    assert 'href="https://weather.example/today"' in html


@pytest.fixture
def app_with_exit(app):
    app.config["QUICK_EXIT_URL"] = "https://weather.example/today"
    return app


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "/relative", "", "data:text/html,x"])
def test_quick_exit_url_must_be_a_web_address(bad):
    with pytest.raises(ValueError):
        check_quick_exit_url(bad)


# --- Quiet by default ------------------------------------------------------------------


def test_a_new_circle_shows_nobody_who_is_here_and_no_read_receipts(
    make_circle, add_member, socket_client, client, login
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    assert _db.session.get(Circle, circle.id).presence_enabled is False
    a, b = socket_client(anna.user), socket_client(ben.user)
    joined_a = a.emit("chat:join", {"circle_id": circle.id})
    joined_b = b.emit("chat:join", {"circle_id": circle.id})
    assert joined_a["ok"] and joined_b["ok"]
    # Presence is off: Ben's page is not told that Anna is here.
    assert not joined_b.get("here")
    ack = b.emit("chat:send", {"circle_id": circle.id, "client_id": "hello0000001", "body": "Hi"})
    assert ack["ok"]
    a.get_received()
    b.get_received()
    # Anna reads it: Ben hears nothing of that, live or on his page.
    assert a.emit("chat:read", {"circle_id": circle.id, "seq": ack["message"]["seq"]})["ok"]
    assert [e["name"] for e in b.get_received() if e["name"] != "news"] == []
    login(client, ben.user)
    html = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert "Anna" not in html.split('id="messages"', 1)[1].split("</ol>", 1)[0]
    assert not re.search(r"\b(seen|read by)\b", html, re.I)
    assert '<p id="presence" class="presence muted" hidden></p>' in html
