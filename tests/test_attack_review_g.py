"""Review G: attacks on the changes since b6f977c (the plan export read as plain rows,
the circle ZIP's messages written in Python, the 503 page's "Try again" link, the
Redis message queue with a capped back-off).

Each test is one attack, as an outsider (a crafted link sent to a signed-in person) or
an insider (a member who writes names and messages that end up in someone else's
download). Those that found something name the fix.
"""

from __future__ import annotations

import html as html_mod
import io
import json
import re
import sqlite3
import zipfile
from html.parser import HTMLParser

import pytest
from sqlalchemy.exc import OperationalError

from portal.services import accounts as accounts_svc
from tests.conftest import csrf_from

# --- The 503 page's "Try again": never another site ----------------------------------


def _storage_away(*_args, **_kwargs):
    raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))


def _try_again(html: str) -> str:
    """The href of the page's "Try again" link, as the HTML parser hands it on (the
    entities decoded)."""
    found = re.search(r'<a href="([^"]*)">Try again</a>', html)
    assert found, html
    return html_mod.unescape(found[1])


def _host_to_a_browser(href: str) -> str | None:
    """Where a browser goes for this href on a Kring page: the WHATWG URL parser first
    removes every ASCII tab and newline, and reads a backslash as a slash. A link that
    then starts with two slashes is another host."""
    href = re.sub(r"[\t\n\r]", "", href).replace("\\", "/")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", href):
        return href.split(":", 1)[0] + ":"
    if href.startswith("//"):
        return href.lstrip("/").split("/", 1)[0]  # more slashes are skipped too
    return None  # same site


@pytest.mark.parametrize(
    "path",
    [
        "/%09/evil.example/x",  # a tab: "/\t/evil.example" is "//evil.example"
        "/%0A/evil.example/x",
        "/%0D%0A%5Cevil.example/x",
        "/%09%09//evil.example",
        "/%5C%5Cevil.example/x",
    ],
)
def test_a_crafted_address_gives_no_try_again_link_to_another_site(
    app, make_circle, add_member, new_client, login, monkeypatch, path
):
    """An attacker sends a signed-in person a Kring address whose path holds a tab or a
    newline. While the database is away (or merely locked on SQLite), the page's "Try
    again" repeated the path as it was decoded: ``href="/\\t/evil.example/x"``, which a
    browser reads as ``//evil.example/x``, another site (phishing for the password on
    a page that looks like Kring's). Fix: the path is written percent-encoded."""
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    monkeypatch.setattr(accounts_svc, "load_login_session", _storage_away)
    # As in production: the error reaches the error handlers instead of the test.
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    resp = browser.get(path)
    assert resp.status_code == 503
    href = _try_again(resp.get_data(as_text=True))
    assert _host_to_a_browser(href) is None, href
    assert href.startswith("/")


@pytest.mark.parametrize(
    "path", ["/%09/evil.example/x", "/%0A%5Cevil.example", "/%5C%5Cevil.example"]
)
def test_send_again_never_posts_the_message_and_its_token_to_another_site(
    app, make_circle, add_member, new_client, login, monkeypatch, path
):
    """The same trick on a form: a message posted (with a client id) to a crafted path
    while the database is away comes back in the "Send again" box, whose form carried
    the decoded path as its action: ``action="/\t/evil.example/x"``. Pressing "Send
    again" would post the typed words and the person's CSRF token to another site.
    Fix: the action is written percent-encoded, like "Try again"."""
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    token = csrf_from(browser.get(f"/c/{circle.id}/chat"))
    monkeypatch.setattr(accounts_svc, "load_login_session", _storage_away)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    resp = browser.post(
        path, data={"csrf_token": token, "client_id": "c-000001", "body": "my words"}
    )
    assert resp.status_code == 503
    html = resp.get_data(as_text=True)
    assert "my words" in html
    found = re.search(r'<form method="post" action="([^"]*)">', html)
    assert found, html
    action = html_mod.unescape(found[1])
    assert _host_to_a_browser(action) is None, action
    assert action.startswith("/")


def test_try_again_keeps_an_ordinary_address_with_its_query(
    app, make_circle, add_member, new_client, login, monkeypatch
):
    """What held (and must keep holding after the fix): the same page again, with its
    query, letters outside ASCII as the browser sent them."""
    from portal.plan import routes as plan_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    monkeypatch.setattr(plan_routes, "export_json", _storage_away)
    resp = browser.get(f"/c/{circle.id}/plan/export.json?q=caf%C3%A9&x=%22%3E%3Cb%3E")
    assert resp.status_code == 503
    html = resp.get_data(as_text=True)
    assert "<b>" not in html.split("Try again")[0].rsplit("<a", 1)[-1]
    href = _try_again(html)
    assert href.startswith(f"/c/{circle.id}/plan/export.json?")
    assert _host_to_a_browser(href) is None
    monkeypatch.undo()
    assert browser.get(href).status_code == 200


# --- The plan export, now read as plain rows -----------------------------------------


@pytest.fixture
def lived_plan(make_circle, add_member):
    """A plan whose ticks, answers and acceptance were given by people who are no longer
    there: Zyx (erased their account), Remy (removed), Dr Vos (accepted, then erased);
    Sanne answers for Oma (offline). Circle B has its own plan and ticks."""
    from datetime import date, timedelta

    from portal.extensions import db as _db
    from portal.models import Role
    from portal.services import erasure
    from portal.services import membership as membership_svc
    from portal.services import offline as offline_svc
    from portal.services import plan as plan_svc
    from portal.services.schedule import Schedule
    from tests import plan_data

    def circle_with_plan(title, *names):
        circle, coord = make_circle(title)
        people = {name: add_member(circle, role, name=name) for name, role in names}
        return circle, coord, people

    circle, coord, p = circle_with_plan(
        "Circle around Sam",
        ("Sanne", Role.CENTRAL),
        ("Kees", Role.CENTRAL),
        ("Tom", Role.MEMBER),
        ("Zyx Quux", Role.MEMBER),
        ("Remy Rood", Role.MEMBER),
        ("Dr Vos", Role.PROFESSIONAL),
        ("Dr Jansen", Role.PROFESSIONAL),
    )
    oma = offline_svc.add_offline_member(circle, p["Sanne"], name="Oma", role="member")
    membership_svc.set_proxies(circle, p["Sanne"], oma, [p["Sanne"].id])
    voters = [p[n] for n in ("Zyx Quux", "Remy Rood", "Tom")] + [oma]
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Soup on Sundays",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=5)),
            assignee_ids=[m.id for m in voters],
            items=["Fetch the pot", "Wash the bowls", "Bring bread"],
        ),
    )
    plan_svc.record_agreement(circle, coord, [p["Sanne"].id, p["Kees"].id, p["Tom"].id])
    _db.session.commit()
    item = [f"item:{i.id}" for i in c.items]
    plan_svc.tick(circle, p["Zyx Quux"], c, item[0], note="pot fetched by Zyx")
    plan_svc.tick(circle, p["Remy Rood"], c, item[1], note="bowls by Remy")
    plan_svc.tick(circle, p["Sanne"], c, item[2], note="bread for Oma", for_member=oma)
    plan_svc.add_condition(circle, p["Dr Vos"], "Sam sleeps at home")
    _db.session.commit()
    plan_svc.accept(circle, p["Dr Vos"], plan_svc.get_plan(circle).version)
    proposal = plan_svc.propose(circle, p["Kees"], "add_agreement", payload={"text": "Call Oma"})
    _db.session.commit()
    plan_svc.answer(circle, p["Zyx Quux"], proposal, False, "Zyx objects")
    plan_svc.answer(circle, p["Sanne"], proposal, True, for_member=oma)
    plan_svc.answer(circle, p["Remy Rood"], proposal, True)
    _db.session.commit()
    erasure.erase_account(p["Zyx Quux"].user)
    erasure.erase_account(p["Dr Vos"].user)
    membership_svc.remove_member(circle, coord, p["Remy Rood"])
    _db.session.commit()

    other, other_coord, q = circle_with_plan("Circle B", ("Bea", Role.MEMBER))
    oc = plan_data.add_commitment(
        other,
        other_coord,
        plan_svc.CommitmentData(
            what="Circle B walks",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=5)),
            assignee_ids=[q["Bea"].id],
            items=["Circle B leash"],
        ),
    )
    plan_svc.record_agreement(other, other_coord, [q["Bea"].id])
    _db.session.commit()
    plan_svc.tick(other, q["Bea"], oc, f"item:{oc.items[0].id}", note="Circle B note")
    _db.session.commit()
    return {"circle": circle, "coord": coord, "oma": oma, **p}


def test_the_plan_export_is_the_same_for_every_role_and_names_only_who_is_named(
    lived_plan, new_client, login
):
    """Whoever downloads it (coordinator, central person, member, professional) gets
    the same file. Ticks, answers and the acceptance of people who erased their account
    say "a former member" and hold their name nowhere; a removed member's are still
    theirs; a tick and an answer given for Oma name Sanne as who gave them. Nothing of
    circle B. (Held: the Core-row export gave what the ORM export gave, compared on this
    circle on SQLite and PostgreSQL.)"""
    from sqlalchemy import select

    from portal.extensions import db as _db
    from portal.models import AccessLogEntry

    circle = lived_plan["circle"]
    url = f"/c/{circle.id}/plan/export.json"
    bodies = {}
    for who in ("coord", "Sanne", "Tom", "Dr Jansen"):
        resp = login(new_client(), lived_plan[who].user).get(url)
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        bodies[who] = resp.get_data(as_text=True)
    assert len(set(bodies.values())) == 1
    raw = bodies["Tom"]
    for gone in ("Zyx Quux", "Dr Vos", "Circle B"):
        assert gone not in raw
    data = json.loads(raw)
    ticks = {t["note"]: t for t in data["completions"]}
    assert sorted(ticks) == ["bowls by Remy", "bread for Oma", "pot fetched by Zyx"]
    assert (ticks["pot fetched by Zyx"]["by"], ticks["pot fetched by Zyx"]["step"]) == (
        "a former member",
        "Fetch the pot",
    )
    assert ticks["bowls by Remy"]["by"] == "Remy Rood"
    assert (ticks["bread for Oma"]["by"], ticks["bread for Oma"]["acted_by"]) == ("Oma", "Sanne")
    answers = {a["reason"] or a["by"]: a for a in data["proposals"][0]["answers"]}
    assert (answers["Zyx objects"]["by"], answers["Zyx objects"]["answer"]) == (
        "a former member",
        "object",
    )
    assert (answers["Oma"]["acted_by"], answers["Oma"]["answer"]) == ("Sanne", "consent")
    assert answers["Remy Rood"]["answer"] == "consent"
    assert [a["by"] for a in data["acceptances"]] == ["a former member"]
    # The professional's download is in the access log; the family's are not.
    logged = _db.session.scalars(
        select(AccessLogEntry.membership_id).where(AccessLogEntry.page == "plan_export")
    ).all()
    assert logged == [lived_plan["Dr Jansen"].id]


def test_a_removed_member_cannot_download_the_plan(lived_plan, new_client, login):
    """Remy was removed: his own account asks for the plan and gets the same 404 as a
    stranger (the export's rows are read after the access check, not instead of it)."""
    circle = lived_plan["circle"]
    resp = login(new_client(), lived_plan["Remy Rood"].user).get(f"/c/{circle.id}/plan/export.json")
    assert resp.status_code == 404
    assert "Soup on Sundays" not in resp.get_data(as_text=True)


# --- The circle ZIP's index.html: messages written in Python ---------------------------

HOSTILE = "\"'><img src=x onerror=alert(1)></strong></script><script>alert(2)</script>"


class _Tags(HTMLParser):
    """Every element and attribute of a page, and its text, as a browser's parser
    sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _unzip_html(resp) -> str:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as z:
        return z.read("index.html").decode()


def _assert_inert(html: str, *texts: str) -> None:
    page = _Tags(html)
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe", "object")]
    handlers = [(t, k) for t, attrs in page.tags for k in attrs if k.startswith("on")]
    assert handlers == []
    hrefs = [a.get("href", "") for t, a in page.tags if t == "a"]
    assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:"))]
    # Every hostile text is there, as words on the page.
    shown = "".join(page.text)
    for text in texts:
        assert text in shown, text


def test_hostile_names_and_texts_stay_text_in_the_circle_zip(
    make_circle, add_member, new_client, login
):
    """The family opens index.html from disk (file://: a script there could read other
    files the browser lets it). A member whose name, message, earlier version and a
    central person's name (as "Removed by ...") are markup gets none of it run: no
    element, no attribute, no handler; the words show as typed."""
    from portal.extensions import db as _db
    from portal.services import chat as chat_svc
    from tests.family_circle import send

    circle, _ = make_circle("Circle " + HOSTILE)
    sanne = add_member(circle, "central", name="Sanne " + HOSTILE)
    oma = add_member(circle, "member", name="Oma " + HOSTILE)
    kept = send(oma, "first " + HOSTILE)
    chat_svc.edit_message(circle, oma, kept, "edited <a href=javascript:alert(3)>x</a>")
    gone = send(oma, "hurtful " + HOSTILE)
    chat_svc.delete_message(circle, sanne, gone)
    send(sanne, "RTL \u202egnp.exe and a quote \" ' &amp; {{ 7*7 }} %(name)s")
    _db.session.commit()

    html = _unzip_html(login(new_client(), sanne.user).get(f"/c/{circle.id}/export"))
    _assert_inert(
        html,
        "Oma " + HOSTILE,
        "first " + HOSTILE,
        "edited <a href=javascript:alert(3)>x</a>",
        "Removed by Sanne " + HOSTILE + ".",
        "&amp; {{ 7*7 }} %(name)s",
    )
    assert "hurtful" not in html
    assert "\u202e" not in html  # stripped when stored, as every text is

    # Oma's own export names the circle beside each message: the title stays text too.
    html = _unzip_html(login(new_client(), oma.user).get("/account/export"))
    _assert_inert(html, "Circle " + HOSTILE, "edited <a href=javascript:alert(3)>x</a>")


# --- The Redis message queue: the capped back-off ---------------------------------------


class _Stop(BaseException):
    """Ends the listener's loop from its sleep (the loop catches only Exception)."""


@pytest.mark.parametrize("setting", ["2", "0.5"])
def test_the_listener_waits_between_tries_however_long_redis_is_away(monkeypatch, setting):
    """What held: against a Redis that never answers, the listener waits 1 s, then at
    most the setting, and keeps trying (it does not end)."""
    import time

    from portal.realtime.queue import RedisQueue
    from tests.live_server import free_port

    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 6:
            raise _Stop

    queue = RedisQueue(f"redis://127.0.0.1:{free_port()}/0", retry_max=float(setting))
    monkeypatch.setattr(time, "sleep", sleep)
    with pytest.raises(_Stop):
        next(queue._redis_listen_with_retries())
    assert waits == {"2": [1, 2, 2, 2, 2, 2], "0.5": [0.5] * 6}[setting]


@pytest.mark.parametrize("setting", ["0", "-1", "nan", "inf"])
def test_a_wait_setting_that_would_spin_or_go_deaf_stops_the_start(setting):
    """REDIS_RETRY_MAX_SECONDS is the operator's, but a slip there was silent and worse
    than the library it replaced: 0 tried to connect in a tight loop (a core at 100%
    and a log line per try for the whole outage), -1 spun the same under gevent and,
    without gevent, ended the listener for good on the first failure (time.sleep(-1)
    raises inside the retry's ``except``), "nan" and "inf" lifted the cap (waits
    doubling without end). Now the process refuses to start and names the setting."""
    from portal import create_app
    from tests.conftest import _Config
    from tests.live_server import free_port

    class WithRedis(_Config):
        REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
        REDIS_RETRY_MAX_SECONDS = float(setting)

    with pytest.raises(ValueError, match="REDIS_RETRY_MAX_SECONDS"):
        create_app(WithRedis)


def test_a_hostile_name_on_a_private_line_stays_text_in_the_account_zip(
    db, make_circle, add_member, make_user, new_client, login
):
    """The account ZIP heads each private-line message with "Private line of X and Y"
    (translated in the template, then handed to the Python-written message): a
    supporter and a member whose names are markup get none of it run, in either's
    download. Found on the way: the Python-written message read ``m["edited_at"]``,
    which a line message does not have (the macro's ``m.edited_at`` was undefined,
    so false), so the download of anyone with a private-line message broke off in
    index.html with a KeyError: a cut ZIP instead of their data. Fix: optional keys
    are read with ``.get``."""
    from portal.models import Role
    from portal.services import lines as line_svc
    from tests.test_support_line import _supporter_of

    circle, _ = make_circle("Circle around Sam")
    central = add_member(circle, Role.CENTRAL, name="Mum")
    child = add_member(circle, Role.MEMBER, name="Sam " + HOSTILE)
    supporter = _supporter_of(db, make_user, circle, central, child, name="Jo " + HOSTILE)
    line = line_svc.line_between(supporter, child)
    line_svc.send_message(line, supporter, "line-000001", "on the line " + HOSTILE)
    db.session.commit()
    for who in (supporter, child):
        html = _unzip_html(login(new_client(), who.user).get("/account/export"))
        _assert_inert(html, "on the line " + HOSTILE, "Jo " + HOSTILE, "Sam " + HOSTILE)
