"""Review B: an attack on the finished issue 10 change, from outside and signed in.

Each test performs one attack and asserts the SAFE behaviour: a failing test is a
hole. Run on SQLite and on PostgreSQL (the NUL tests matter most there).
"""

from __future__ import annotations

import re

import pytest
from flask import current_app
from sqlalchemy import event, func, select

from portal.extensions import db as _db
from portal.extensions import socketio
from portal.mail import send_pending
from portal.models import EmailChange, Message, MessageRevision, OutboxMail, Proposal, Role, User
from portal.services import accounts
from portal.services import chat as chat_svc
from tests.conftest import PASSWORD, csrf_from
from tests.test_access_matrix import (  # noqa: F401 (fixtures)
    FORM_IDS,
    POST_DATA,
    _path,
    as_persona,
    world,
)
from tests.test_security import token_of

NUL = "x\x00y"


def _mails_to(db, to: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(OutboxMail).where(OutboxMail.to == to)
    )


def _from(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def _link_in(db, to: str, prefix: str) -> str:
    """The link in the last mail sent to ``to`` (the sender runs first: a reset link is
    made by the sender, not by the request)."""
    db.session.rollback()
    send_pending()
    body = [m for m in current_app.extensions["kring_outbox"] if m["To"] == to][-1].get_content()
    return token_of(re.search(rf"http\S+{prefix}\S+", body).group(0), prefix)


def _change_email(client, new_email: str, password: str = PASSWORD, ip: str = "127.0.0.1"):
    token = csrf_from(client.get("/account"))
    return client.post(
        "/account/email",
        data={"new_email": new_email, "email_password": password, "csrf_token": token},
        **_from(ip),
    )


def _confirm_email(client, token: str):
    client.get(f"/e/{token}")
    page = client.get("/account/email/confirm")
    if page.status_code != 200:
        return page
    return client.post("/account/email/confirm", data={"csrf_token": csrf_from(page)})


# --- Email change: takeover paths ----------------------------------------------------


def test_pending_email_change_dies_when_the_password_is_changed(
    app, db, client, new_client, make_user, login
):
    """An attacker who knew the old password asks to move the address to theirs. The
    owner gets the notice and changes the password: the attacker's confirmation link
    must die with the old password, or "forgot password" hands them the account."""
    victim = make_user("Victim", email="victim@example.com")
    attacker_browser = new_client()
    login(attacker_browser, victim)
    assert _change_email(attacker_browser, "attacker@evil.example").status_code == 302
    link = _link_in(db, "attacker@evil.example", "/e/")

    # The owner reacts to the notice: a new password (signs out every other browser).
    login(client, victim)
    token = csrf_from(client.get("/account"))
    resp = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": "a brand new secret",
            "confirm": "a brand new secret",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302

    _confirm_email(new_client(), link)
    db.session.rollback()
    assert db.session.get(User, victim.id).email == "victim@example.com"


def test_pending_email_change_dies_when_a_reset_link_is_used(
    app, db, client, new_client, make_user, login
):
    victim = make_user("Victim", email="victim2@example.com")
    attacker_browser = new_client()
    login(attacker_browser, victim)
    _change_email(attacker_browser, "attacker2@evil.example")
    link = _link_in(db, "attacker2@evil.example", "/e/")
    # The owner uses "forgot password" on the old address.
    page = client.get("/password/forgot")
    client.post(
        "/password/forgot", data={"email": "victim2@example.com", "csrf_token": csrf_from(page)}
    )
    reset = _link_in(db, "victim2@example.com", "/r/")
    client.get(f"/r/{reset}")
    page = client.get("/password/new")
    resp = client.post(
        "/password/new",
        data={
            "password": "fresh password 1",
            "confirm": "fresh password 1",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 302
    _confirm_email(new_client(), link)
    db.session.rollback()
    assert db.session.get(User, victim.id).email == "victim2@example.com"


def test_a_stranger_cannot_kill_someones_reset_links(app, db, client, new_client, make_user, login):
    victim = make_user("Victim", email="owner@example.com")
    page = client.get("/password/forgot")
    client.post(
        "/password/forgot", data={"email": "owner@example.com", "csrf_token": csrf_from(page)}
    )
    reset = _link_in(db, "owner@example.com", "/r/")
    # A stranger asks again for the address, and tries to claim it for their account.
    stranger = make_user("Stranger")
    other = new_client()
    page = other.get("/password/forgot")
    other.post(
        "/password/forgot", data={"email": "owner@example.com", "csrf_token": csrf_from(page)}
    )
    login(other, stranger)
    _change_email(other, "owner@example.com")
    db.session.rollback()
    assert accounts.find_reset_token(reset) is not None
    assert db.session.get(User, victim.id).email == "owner@example.com"


# --- Mail flooding --------------------------------------------------------------------


MAIL_CAP = 10  # generous: no address should get more than this many mails in a burst


def test_forgot_password_cannot_flood_one_address_from_many_addresses(
    app, db, new_client, make_user
):
    """The per-IP limit (20/min) does not protect the victim's mailbox: 60 asks from
    three addresses queue 60 mails to one victim."""
    make_user("Victim", email="flooded@example.com")
    for i in range(60):
        browser = new_client()
        ip = f"10.0.{i % 3}.1"
        page = browser.get("/password/forgot", **_from(ip))
        browser.post(
            "/password/forgot",
            data={"email": "flooded@example.com", "csrf_token": csrf_from(page)},
            **_from(ip),
        )
    assert _mails_to(db, "flooded@example.com") <= MAIL_CAP


def test_email_change_cannot_flood_a_victim_address(app, db, client, make_user, login):
    """One signed-in account aims the email-change form at someone else's address."""
    attacker = make_user("Attacker")
    make_user("Victim", email="target@example.com")
    login(client, attacker)
    for i in range(40):
        _change_email(client, "target@example.com", ip=f"10.1.{i % 4}.1")
    assert _mails_to(db, "target@example.com") <= MAIL_CAP


def test_email_change_cannot_flood_a_fresh_address(app, db, client, make_user, login):
    attacker = make_user("Attacker")
    login(client, attacker)
    for i in range(40):
        _change_email(client, "nobody-yet@example.com", ip=f"10.2.{i % 4}.1")
    assert _mails_to(db, "nobody-yet@example.com") <= MAIL_CAP


def test_forgot_password_does_the_same_database_work_for_known_and_unknown(
    app, db, new_client, make_user
):
    """The same work either way, as far as the asker can see (the docstring's claim):
    count the SQL statements the request runs."""
    make_user("Known", email="known@example.com")

    def statements(email: str, ip: str) -> int:
        browser = new_client()
        page = browser.get("/password/forgot", **_from(ip))
        count = [0]

        def on_exec(*_a, **_k):
            count[0] += 1

        event.listen(_db.engine, "before_cursor_execute", on_exec)
        try:
            resp = browser.post(
                "/password/forgot",
                data={"email": email, "csrf_token": csrf_from(page)},
                **_from(ip),
            )
        finally:
            event.remove(_db.engine, "before_cursor_execute", on_exec)
        assert resp.status_code == 200
        return count[0]

    assert statements("known@example.com", "10.3.0.1") == statements(
        "unknown@example.com", "10.3.0.2"
    )


# --- Names that clean to nothing -----------------------------------------------------


INVISIBLE_ONLY = "\u202e\u200b\u2066\x00"


def test_account_name_of_only_invisible_characters_is_refused(app, db, client, make_user, login):
    user = make_user("Visible Name")
    login(client, user)
    token = csrf_from(client.get("/account"))
    client.post(
        "/account",
        data={
            "name": INVISIBLE_ONLY,
            "locale": "en",
            "timezone": "Europe/Amsterdam",
            "csrf_token": token,
        },
    )
    db.session.rollback()
    assert db.session.get(User, user.id).name.strip() != ""


def test_join_name_of_only_invisible_characters_leaves_no_empty_account_name(
    app, db, client, make_circle
):
    from portal.services import circles as circle_svc

    circle, coord = make_circle()
    _inv, token = circle_svc.invite(circle, coord, name="Oma Riet", role=Role.MEMBER)
    db.session.commit()
    client.get(f"/i/{token}")
    page = client.get("/join")
    client.post(
        "/join",
        data={
            "display_name": INVISIBLE_ONLY,
            "username": "blankname",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    db.session.rollback()
    user = db.session.scalar(select(User).where(User.username == "blankname"))
    assert user is None or user.name.strip() != ""


# --- Flooding other than chat sends -------------------------------------------------


def test_chat_edits_over_http_are_limited_per_person(
    app, db, client, make_circle, add_member, login
):
    """Each edit stores a revision and is broadcast to the whole circle."""
    app.config["CHAT_SEND_RATE_LIMIT"] = "30 per minute"
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    payload, _ = chat_svc.send_message(chat_svc.ChatSeat.of(anna), "edit-flood-0001", "hi")
    db.session.commit()
    login(client, anna.user)
    url = f"/c/{circle.id}/chat/messages/{payload['id']}/edit"
    token = csrf_from(client.get(url))
    for i in range(100):
        client.post(url, data={"body": f"version {i}", "csrf_token": token})
    db.session.rollback()
    revisions = db.session.scalar(select(func.count()).select_from(MessageRevision))
    assert revisions <= 60


def test_chat_edits_over_many_sockets_are_limited_per_person(
    app, db, client, make_circle, add_member, login, socket_client
):
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    payload, _ = chat_svc.send_message(chat_svc.ChatSeat.of(anna), "edit-flood-0002", "hi")
    db.session.commit()
    login(client, anna.user)
    sockets = [socket_client(anna.user, http=client) for _ in range(8)]
    ok = 0
    for round_ in range(15):
        for n, s in enumerate(sockets):
            ack = s.emit(
                "chat:edit",
                {"circle_id": circle.id, "message_id": payload["id"], "body": f"v{round_}-{n}"},
            )
            ok += bool(ack.get("ok"))
    assert ok <= 60


def test_proposals_are_limited_per_person(app, db, client, world, as_persona):  # noqa: F811
    app.config["WRITE_RATE_LIMIT"] = "60 per minute"  # the default; the world lifts it
    token = as_persona("member")
    url = f"/c/{world.circle.id}/plan/agreements"
    before = db.session.scalar(select(func.count()).select_from(Proposal))
    for i in range(80):
        client.post(url, data={"text": f"If it rains {i}", "reason": "x", "csrf_token": token})
    db.session.rollback()
    made = db.session.scalar(select(func.count()).select_from(Proposal)) - before
    assert made <= 60


def test_send_limit_holds_across_login_sessions_of_one_person(
    app, db, new_client, make_circle, add_member, login, socket_client
):
    app.config["CHAT_SEND_RATE_LIMIT"] = "5 per minute"
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browsers = [login(new_client(), anna.user) for _ in range(3)]
    sockets = [socket_client(anna.user, http=b) for b in browsers for _ in range(2)]
    for i, s in enumerate(sockets):
        s.emit("chat:send", {"circle_id": circle.id, "client_id": f"multi-{i:05d}", "body": "x"})
    for i, b in enumerate(browsers):
        page = b.get(f"/c/{circle.id}/chat")
        b.post(
            f"/c/{circle.id}/chat",
            data={"body": "y", "client_id": f"multiform-{i:04d}", "csrf_token": csrf_from(page)},
        )
    db.session.rollback()
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.author_id == anna.id)
        )
        == 5
    )


# --- NUL and junk in every form field, query string and socket payload ---------------


EXTRA_FIELDS = [
    "name",
    "title",
    "question",
    "body",
    "what",
    "other_assignees",
    "checker_name",
    "items",
    "reason",
    "text",
    "note",
    "occurrence",
    "place",
    "video_link",
    "purpose",
    "email",
    "new_email",
    "username",
    "display_name",
    "login",
    "password",
    "confirm",
    "current",
    "email_password",
    "supporter_of",
    "next",
    "back",
    "clear",
    "answer",
    "action",
    "option",
    "present",
    "invitees",
    "assignees",
    "kind",
    "start",
    "end",
    "weekdays",
    "interval",
    "checker",
    "date",
    "version",
    "language",
    "timezone",
    "locale",
    "duration",
    "deadline",
    "starts_at",
    "notes",
    "next_evaluation",
    "show_titles",
    "client_id",
    "role",
    "replaces",
    "read_chat",
    "enabled",
    "plan_keeper",
    "followup",
    "option_0",
    "option_1",
]
JUNK = [NUL, "\x00", "9223372036854775808", "-1", "1.5", "\u202e1", "１２"]


def _junk_forms(base: dict[str, str]):
    for junk in JUNK:
        # Every known field junk at once, then each of the route's fields alone.
        yield {**{f: junk for f in EXTRA_FIELDS}, **{k: junk for k in base}}
        for key in base:
            yield {**base, key: base[key] + junk if junk == NUL else junk}


def test_junk_in_every_circle_form_gives_no_500(app, db, client, world, as_persona):  # noqa: F811
    app.config["WRITE_RATE_LIMIT"] = "100000 per minute"  # every post must reach its form
    token = as_persona("central")
    failures = []
    seen: dict[int, int] = {}
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or "circle_id" not in rule.arguments:
            continue
        ids = {name: fill(world) for name, fill in FORM_IDS.items()}
        base = {
            k.format(**ids): v.format(**ids) for k, v in POST_DATA.get(rule.endpoint, {}).items()
        }
        path = _path(app, rule.endpoint, "POST", world.circle.id, world)
        for form in _junk_forms(base):
            resp = client.post(path, data={**form, "csrf_token": token})
            seen.setdefault(resp.status_code, 0)
            seen[resp.status_code] += 1
            if resp.status_code >= 500:
                failures.append((rule.endpoint, {k: v for k, v in form.items() if k in base}))
                db.session.rollback()
    assert not failures, failures[:10]
    # The forms were reached (not all refused at the door): some re-rendered with errors.
    assert seen.get(400, 0) + seen.get(200, 0) > 20, seen


TOP_FORMS = [
    "/login",
    "/password/forgot",
    "/language",
    "/account",
    "/account/email",
    "/account/password",
    "/circles/new",
    "/account/calendar",
]


def test_junk_in_every_top_level_form_gives_no_500(app, db, client, new_client, make_user, login):
    anon = new_client()
    anon_token = csrf_from(anon.get("/login"))
    failures = []
    for browser, token in ((anon, anon_token), (None, None)):
        if browser is None:
            user = make_user("Signed In", can_create_circles=True)
            browser = login(client, user)
            token = csrf_from(client.get("/account"))
        for path in TOP_FORMS:
            for junk in JUNK:
                for ip_n, form in enumerate(
                    [
                        {f: junk for f in EXTRA_FIELDS},
                        {"login": junk, "password": junk},
                        {"email": junk},
                        {"new_email": junk, "email_password": PASSWORD},
                    ]
                ):
                    resp = browser.post(
                        path,
                        data={**form, "csrf_token": token},
                        **_from(f"10.9.{ip_n}.{JUNK.index(junk)}"),
                    )
                    if resp.status_code >= 500:
                        failures.append((path, junk, sorted(form)[:3]))
    assert not failures, failures[:10]


def test_junk_at_join_gives_no_500(app, db, client, make_circle):
    from portal.services import circles as circle_svc

    circle, coord = make_circle()
    _inv, token = circle_svc.invite(circle, coord, name="Oma Riet", role=Role.MEMBER)
    db.session.commit()
    client.get(f"/i/{token}")
    for junk in JUNK:
        page = client.get("/join")
        assert page.status_code == 200
        resp = client.post(
            "/join",
            data={
                "display_name": junk,
                "username": junk,
                "password": junk * 8,
                "confirm": junk * 8,
                "email": junk,
                "csrf_token": csrf_from(page),
            },
            **_from(f"10.8.0.{JUNK.index(junk)}"),
        )
        assert resp.status_code < 500, (junk, resp.status_code)


def test_junk_in_query_strings_gives_no_500(app, db, client, world, as_persona):  # noqa: F811
    as_persona("central")
    failures = []
    query = "&".join(
        f"{k}={v}"
        for k, v in [
            ("page", "%00"),
            ("before", "%00"),
            ("after", "1.5"),
            ("a", "-1"),
            ("b", "%E2%80%AE1"),
            ("next", "%00"),
            ("q", "%00"),
            ("back", "%00"),
        ]
    )
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static",) or "<token>" in rule.rule:
            continue
        if (
            rule.arguments
            - {"circle_id"}
            - {
                "member_id",
                "invitation_id",
                "message_id",
                "commitment_id",
                "agreement_id",
                "condition_id",
                "proposal_id",
                "completion_id",
                "number",
                "meeting_id",
            }
        ):
            continue
        path = (
            _path(app, rule.endpoint, "GET", world.circle.id, world)
            if "circle_id" in rule.arguments
            else rule.rule
        )
        resp = client.get(f"{path}?{query}")
        if resp.status_code >= 500:
            failures.append(path)
    for path in ("/e/%00", "/r/%00", "/i/%00", "/calendar/%00.ics", "/login?next=%00"):
        if client.get(path).status_code >= 500:
            failures.append(path)
    assert not failures, failures


ID_JUNK = [2**63, 2**64, -1, 0, 1.5, True, False, [1], {"a": 1}, "1", "\x00", None]


def test_junk_ids_and_text_in_every_socket_event(
    app, db, client, make_circle, add_member, login, socket_client
):
    # Every event must reach its handler (the per-person allowances are tested apart).
    app.config["WRITE_RATE_LIMIT"] = app.config["CHAT_SEND_RATE_LIMIT"] = "100000 per minute"
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    payload, _ = chat_svc.send_message(chat_svc.ChatSeat.of(anna), "sock-junk-0001", "hi")
    db.session.commit()
    login(client, anna.user)
    s = socket_client(anna.user, http=client)
    handlers = [name for name in socketio.server.handlers["/"] if ":" in name]
    assert len(handlers) >= 8
    missing = s.emit("chat:edit", {"circle_id": 987654, "message_id": payload["id"], "body": "z"})
    bad = []
    state = {"s": s}

    def emit(name, data):
        ack = state["s"].emit(name, data)
        if ack == {"ok": False, "error": "rate_limited"}:  # per-socket bucket: a fresh one
            state["s"] = socket_client(anna.user, http=client)
            ack = state["s"].emit(name, data)
        return ack

    for name in handlers:
        # Each event's own answer for a circle that does not exist: ``line:leave`` and
        # ``chat:leave`` need no access and answer the same for every circle.
        missing_here = emit(
            name,
            {
                "circle_id": 987654,
                "message_id": payload["id"],
                "line_id": 1,
                "after_seq": 0,
                "before_seq": 5,
                "limit": 5,
                "seq": 1,
                "client_id": "sock-junk-0002",
                "body": "fine",
            },
        )
        if name not in ("chat:leave", "line:leave", "chat:send", "news:count"):
            assert missing_here == missing, (name, missing_here)
        for key in (
            "circle_id",
            "message_id",
            "line_id",
            "after_seq",
            "before_seq",
            "limit",
            "seq",
        ):
            for junk in ID_JUNK:
                good = {
                    "circle_id": circle.id,
                    "message_id": payload["id"],
                    "line_id": 1,  # the private line's events (issue 14): none exists
                    "after_seq": 0,
                    "before_seq": 5,
                    "limit": 5,
                    "seq": 1,
                    "client_id": "sock-junk-0002",
                    "body": "fine",
                }
                good[key] = junk
                ack = emit(name, good)
                if not isinstance(ack, dict) or ack.get("error") == "server_error":
                    bad.append((name, key, junk, ack))
                if (
                    key == "circle_id"
                    and isinstance(junk, int)
                    and not isinstance(junk, bool)
                    and not 1 <= junk < 2**63
                    # news:count takes no circle: it answers with one's own count
                    and name not in ("chat:send", "news:count")
                ):
                    if ack != missing_here:
                        bad.append((name, key, junk, ack, "differs from missing"))
        for text_key in ("body", "client_id"):
            for junk in ("\x00", NUL, "\u202e", 5, None, ["a"], "a" * 100000):
                good = {
                    "circle_id": circle.id,
                    "message_id": payload["id"],
                    "client_id": "sock-junk-0003",
                    "body": "fine",
                    text_key: junk,
                }
                ack = emit(name, good)
                if not isinstance(ack, dict) or ack.get("error") == "server_error":
                    bad.append((name, text_key, junk[:10] if isinstance(junk, str) else junk, ack))
    assert not bad, bad[:10]


# --- Redirects ----------------------------------------------------------------------


REDIRECT_CORPUS = [
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%2F/evil.example",
    "/%252F/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "/%0d%0aSet-Cookie:x=1",
    "/%00",
    "/\u3000/evil.example",
    "/%E3%80%80/evil.example",
    "/\uff0f/evil.example",
    "/%EF%BC%8Fevil.example",
    "/.//evil.example",
    "/..//evil.example",
    "///evil.example",
    "/%2e%2e//evil.example",
    "\\/evil.example",
    " /evil",
    "/evil\r\nX: y",
    "/" + "a" * 5000,
    "/%",
    "/%zz",
    "/?next=//evil",
    "http:/evil.example",
    "/\x7f/evil",
]


def _local(location: str) -> bool:
    from urllib.parse import urlsplit

    if location.startswith("http://localhost/"):
        location = location[len("http://localhost") :]
    parts = urlsplit(location)
    return (
        not parts.scheme
        and not parts.netloc
        and location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
    )


def test_redirect_corpus_on_login_and_language(app, db, new_client, make_user):
    user = make_user("Redirected")
    bad = []
    for i, target in enumerate(REDIRECT_CORPUS):
        browser = new_client()
        page = browser.get("/login")
        try:
            resp = browser.post(
                "/login",
                query_string={"next": target},
                data={"login": user.username, "password": PASSWORD, "csrf_token": csrf_from(page)},
                **_from(f"10.7.0.{i}"),
            )
        except Exception as e:  # noqa: BLE001
            bad.append(("login", target, repr(e)))
            continue
        if resp.status_code != 302 or not _local(resp.headers["Location"]):
            bad.append(("login", target, resp.status_code, resp.headers.get("Location")))
        resp = browser.post(
            "/language",
            data={
                "language": "nl",
                "next": target,
                "csrf_token": csrf_from(browser.get("/account")),
            },
        )
        if resp.status_code != 302 or not _local(resp.headers["Location"]):
            bad.append(("language", target, resp.status_code, resp.headers.get("Location")))
    assert not bad, bad


# --- Headers and inline script on the new pages --------------------------------------


def test_new_pages_carry_csp_and_no_inline_script(app, db, client, make_user, login, make_circle):
    from portal.services import circles as circle_svc

    user = make_user("Header Check", email="hc@example.com")
    login(client, user)
    _change_email(client, "hc-new@example.com")
    link = _link_in(db, "hc-new@example.com", "/e/")
    client.get(f"/e/{link}")
    pages = {
        "confirm": client.get("/account/email/confirm"),
        "account": client.get("/account"),
        "forgot": client.get("/password/forgot"),
    }
    circle, coord = make_circle()
    _inv, token = circle_svc.invite(circle, coord, name="Oma", role=Role.MEMBER)
    db.session.commit()
    from flask.testing import FlaskClient  # noqa: F401

    anon = app.test_client()
    anon.get(f"/i/{token}")
    pages["join"] = anon.get("/join")
    for name, resp in pages.items():
        assert resp.status_code == 200, name
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"], name
        html = resp.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name
        assert not re.search(r"\son[a-z]+\s*=", html), name
        assert resp.headers["X-Frame-Options"] == "DENY"


def test_pending_change_cannot_be_confirmed_twice_or_after_a_newer_request(
    app, db, client, new_client, make_user, login
):
    user = make_user("Twice", email="twice@example.com")
    login(client, user)
    _change_email(client, "first@example.com")
    first = _link_in(db, "first@example.com", "/e/")
    _change_email(client, "second@example.com")
    assert _confirm_email(new_client(), first).status_code == 404
    second = _link_in(db, "second@example.com", "/e/")
    assert _confirm_email(new_client(), second).status_code == 302
    assert _confirm_email(new_client(), second).status_code == 404
    db.session.rollback()
    assert db.session.get(User, user.id).email == "second@example.com"
    assert (
        db.session.scalar(
            select(func.count()).select_from(EmailChange).where(EmailChange.used_at.is_(None))
        )
        == 0
    )


@pytest.mark.parametrize("field", ["login", "password"])
def test_nul_in_the_login_form(app, db, client, make_user, field):
    user = make_user("Nul Login")
    page = client.get("/login")
    data = {"login": user.username, "password": PASSWORD, "csrf_token": csrf_from(page)}
    data[field] = data[field] + "\x00"
    resp = client.post("/login", data=data)
    assert resp.status_code in (200, 302)
