"""Review F: attacks on issue 15's changes (production mode, logs, the sequence beat,
the 503 page, render_text's fast path, PROXY_HOPS and CSRF over HTTPS, backups).

Each test is one attack, as an insider (a member whose place changed) or an outsider
(a cross-site page, a spoofed header). Those that found something name the fix.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal.extensions import db as _db
from portal.models import MembershipStatus, Role
from portal.sanitize import clean_text, render_text
from portal.services import lines as line_svc
from tests.conftest import PASSWORD, csrf_from
from tests.test_seq_beat import _beat, _received
from tests.test_support_line import pair  # noqa: F401  (a fixture)

SECRET_BODY = "Mum's diagnosis: nobody outside may read this 7f3a"


# --- The sequence beat: even a seq number says someone wrote -------------------------


@pytest.mark.parametrize("status", [MembershipStatus.LEFT, MembershipStatus.HANDED_OVER])
def test_who_left_or_handed_over_hears_no_chat_beat(
    app, make_circle, add_member, socket_client, status
):
    """Someone who left (or the coordinator after the handover) whose socket stayed
    joined (closing it went through Redis and was lost) hears no ``chat:latest``."""
    circle, _ = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    a, b = socket_client(anna.user), socket_client(ben.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    assert b.emit("chat:join", {"circle_id": circle.id})["ok"]
    a.get_received(), b.get_received()
    ben.status = status
    _db.session.commit()
    assert b.is_connected()

    assert _beat(app) == (1, 1)
    assert _received(a, "chat:latest") == [{"circle_id": circle.id, "seq": 0}]
    assert _received(b, "chat:latest") == []


def test_a_member_of_another_circle_hears_only_their_own_circles_beat(
    app, make_circle, add_member, socket_client
):
    """Someone in circle B (joined to B's chat) never hears circle A's number, and
    cannot join A's room to hear it."""
    a_circle, _ = make_circle("A")
    b_circle, _ = make_circle("B")
    add_member(a_circle, name="Anna")
    outsider = add_member(b_circle, name="Olga")
    o = socket_client(outsider.user)
    assert o.emit("chat:join", {"circle_id": b_circle.id})["ok"]
    refused = o.emit("chat:join", {"circle_id": a_circle.id})
    assert refused["ok"] is False
    o.get_received()
    _beat(app)
    assert _received(o, "chat:latest") == [{"circle_id": b_circle.id, "seq": 0}]


@pytest.mark.parametrize("change", ["supporter_offline", "member_offline", "role", "member_left"])
def test_line_beat_stops_when_the_pair_no_longer_stands(
    app,
    pair,  # noqa: F811
    socket_client,
    change,
):
    """The two of a private line after the pair changed (one marked without internet,
    the supporter no longer a supporter, the member gone): no ``line:latest`` to either,
    and the central person, joined to the chat, never hears of the line."""
    p = pair
    ids = {"circle_id": p["circle"].id, "line_id": p["line"].id}
    child, sup = socket_client(p["child"].user), socket_client(p["supporter"].user)
    central = socket_client(p["central"].user)
    assert child.emit("line:join", ids)["ok"] and sup.emit("line:join", ids)["ok"]
    assert central.emit("chat:join", {"circle_id": p["circle"].id})["ok"]
    line_svc.send_message(p["line"], p["supporter"], "line-f-0001", "Hello")
    _db.session.commit()
    for s in (child, sup, central):
        s.get_received()

    if change == "supporter_offline":
        p["supporter"].offline = True
    elif change == "member_offline":
        p["child"].offline = True
    elif change == "role":
        p["supporter"].role = Role.MEMBER
    else:
        p["child"].status = MembershipStatus.LEFT
    _db.session.commit()
    _beat(app)
    for s in (child, sup, central):
        assert _received(s, "line:latest") == []


# --- Logs: no message text, token or password, even from a bug -----------------------


def _failing_send(*_args, **_kwargs):
    """A bug in the send path: a statement that fails (not 'database is locked': a
    real bug, a 500 with its traceback) and carries the message as a parameter."""
    _db.session.execute(text("INSERT INTO no_such_table VALUES (:body)"), {"body": SECRET_BODY})


def test_a_500_in_the_chat_form_does_not_write_the_message_into_the_log(
    app, make_circle, add_member, new_client, login, monkeypatch, caplog
):
    """Found: a failing statement's traceback carried its parameters ('[parameters:
    ("Mum's diagnosis...",)]'), so a bug anywhere near a send put the message, a token
    hash or a password hash into the log. Fixed: the engine hides parameters."""
    from portal.chat import routes as chat_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    page = browser.get(f"/c/{circle.id}/chat")
    monkeypatch.setattr(chat_routes.svc, "send_message", _failing_send)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    caplog.set_level(logging.INFO)
    resp = browser.post(
        f"/c/{circle.id}/chat",
        data={"body": SECRET_BODY, "client_id": "f-000000001", "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 500
    assert "no_such_table" in caplog.text  # the traceback is there, for the operator
    assert "7f3a" not in caplog.text


def test_a_failing_socket_event_does_not_write_the_message_into_the_log(
    app, make_circle, add_member, socket_client, monkeypatch, caplog
):
    from portal.realtime import chat as realtime_chat

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    a = socket_client(anna.user)
    assert a.emit("chat:join", {"circle_id": circle.id})["ok"]
    # The socket's send goes through send_as (on PostgreSQL it does not call
    # send_message: access and counter are one statement there).
    monkeypatch.setattr(realtime_chat.svc, "send_as", _failing_send)
    caplog.set_level(logging.INFO)
    got = a.emit("chat:send", {"circle_id": circle.id, "client_id": "f-2", "body": SECRET_BODY})
    assert got == {"ok": False, "error": "server_error"}
    assert "no_such_table" in caplog.text
    assert "7f3a" not in caplog.text


def test_gevent_lines_lose_whatever_the_client_sent(caplog):
    """gevent's own messages quote a broken request line or an environ value: a token
    in the path, with quotes of either kind inside it, never reaches the log."""
    from portal.logs import ServerErrors

    caplog.set_level(logging.WARNING)
    ServerErrors().write(
        "Invalid HTTP method: 'GET /i/tok\\'en-ABC123 HTTP/1.1'\n"
        "{'PATH_INFO': \"/r/it's-XYZ789\", 'QUERY_STRING': 'code=QQQ456'}\n"
    )
    assert caplog.text.count("'…'") >= 4
    for leaked in ("ABC123", "XYZ789", "QQQ456"):
        assert leaked not in caplog.text


# --- The 503 page: the typed text comes back escaped, to its sender only, uncached ----


def _storage_away(*_args, **_kwargs):
    raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))


def test_the_503_page_gives_the_text_back_escaped_and_uncached(
    app, make_circle, add_member, new_client, login, monkeypatch
):
    from portal.chat import routes as chat_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    page = browser.get(f"/c/{circle.id}/chat")
    monkeypatch.setattr(chat_routes.svc, "send_message", _storage_away)
    hostile = '</textarea><script>alert(1)</script><input name="x" value="'
    resp = browser.post(
        f"/c/{circle.id}/chat",
        data={"body": hostile, "client_id": '"><b>id', "csrf_token": csrf_from(page)},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503
    assert resp.headers["Cache-Control"] == "no-store"
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;/textarea&gt;&lt;script&gt;" in html
    monkeypatch.undo()
    assert browser.get("/account").status_code == 200  # still signed in afterwards


def test_a_cross_site_post_during_an_outage_is_refused_before_anything_is_echoed(
    app, make_circle, add_member, new_client, login, monkeypatch
):
    """CSRF is checked before the database is asked: a forged post while the storage
    is away answers 400, never the 503 page with the forged text in a 'Send again'
    form (a ready-made, token-carrying form for the attacker's words)."""
    from portal.chat import routes as chat_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    monkeypatch.setattr(chat_routes.svc, "send_message", _storage_away)
    resp = browser.post(
        f"/c/{circle.id}/chat",
        data={"body": "forged words", "client_id": "f-000000003"},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
        base_url="https://localhost",
    )
    assert resp.status_code == 400
    assert "forged words" not in resp.get_data(as_text=True)


# --- render_text's fast path is the bleach path -----------------------------------------

LOOKALIKES = [
    "www.example.org",
    "see www.example.org.",
    "(https://example.org/a_(b))!",
    "https://example.org/?q=<script>&x='1'",
    "javascript:alert(1)//example.org",
    "jav&#x09;ascript:alert(1)",
    "&#106;avascript:alert(1)",
    "ｊａｖａｓｃｒｉｐｔ：alert(1)",
    "example。org",  # ideographic full stop
    "example\uff0eorg",  # fullwidth full stop
    "exаmple.org",  # Cyrillic а
    "https://еxample.org",  # Cyrillic е
    "sanne@example.org",
    "mailto:sanne@example.org",
    "@sanne and @sanne. and https://example.org/@sanne",
    "&amp;lt;script&amp;gt;",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "a&#x3C;b",
    "<<a href=https://x.org>>",
    "e.g. 3.5 i.e. U.S.A.",
    "https://example.org\u202e/gpj.exe",
    "http://[::1]:8080/x",
    "https://example.org/\u200b<script>",
]


@pytest.mark.parametrize("text_", LOOKALIKES)
def test_fast_path_and_bleach_path_agree_and_stay_inert(text_):
    """Both ways through render_text give the same HTML, which never holds a tag but
    our links, and a link only to http(s) or mailto."""
    import re

    from bleach.linkifier import URL_RE

    from portal import sanitize
    from tests.test_xss import _through_bleach

    out = str(render_text(text_, mentions=["sanne"]))
    plain = str(render_text(text_))
    assert plain == _through_bleach(text_)
    if URL_RE.search(clean_text(text_)) is None:
        # the fast path: the escaped text itself, with mentions highlighted
        assert plain == str(sanitize.escape(clean_text(text_))).replace("\n", "<br>\n")
    for tag in re.findall(r"<(/?[a-zA-Z]+)", out):
        assert tag in ("a", "/a", "br", "strong", "/strong"), out
    for href in re.findall(r'href="([^"]*)"', out):
        assert href.startswith(("http://", "https://", "mailto:")), out


# --- PROXY_HOPS: the socket's origin check, and whose address counts -----------------


def _behind(hops: int, **extra):
    from portal import create_app
    from tests.conftest import _Config

    class Behind(_Config):
        PROXY_HOPS = hops
        BASE_URL = "https://kring.example.org"
        PREFERRED_URL_SCHEME = "https"
        SOCKET_ALLOWED_ORIGINS: list = []
        LOGIN_RATE_LIMIT = "3 per minute"

    for k, v in extra.items():
        setattr(Behind, k, v)
    return create_app(Behind)


@pytest.mark.parametrize("hops", [0, 1])
def test_the_socket_origin_check_holds_behind_the_proxy(app, hops):
    """Forwarded headers must not widen who may open a socket: an Origin other than
    BASE_URL's is refused however the proxy headers are dressed up."""
    behind = _behind(hops)
    client = behind.test_client()
    path = "/socket.io/?EIO=4&transport=polling"
    spoof = {
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "198.51.100.7",
        "Host": "evil.example",
    }
    evil = client.get(path, headers={"Origin": "https://evil.example", **spoof})
    assert evil.status_code == 400
    ours = client.get(path, headers={"Origin": "https://kring.example.org"})
    assert ours.status_code == 200


@pytest.mark.parametrize("hops", [0, 1])
def test_a_forged_forwarded_for_does_not_reset_the_sign_in_limit(hops, tmp_path):
    """With PROXY_HOPS=0 the header is ignored; with 1 only nginx's own (last) entry
    counts: a script that writes a fresh address in front each time stays limited."""
    from portal.extensions import limiter
    from portal.services import accounts

    behind = _behind(hops, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/kring.sqlite3")
    with behind.app_context():
        _db.create_all()
        accounts.create_user(name="Ann", username="ann", password=PASSWORD, email=None)
        _db.session.commit()
        limiter.reset()
    client = behind.test_client()
    token = csrf_from(client.get("/login", base_url="https://kring.example.org"))
    codes = []
    for i in range(5):
        forged = {"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.5"}
        resp = client.post(
            "/login",
            data={"login": "ann", "password": "wrong " + PASSWORD, "csrf_token": token},
            headers=forged,
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
            base_url="https://kring.example.org",
        )
        codes.append(resp.status_code)
    with behind.app_context():
        _db.engine.dispose()
    assert 429 in codes, codes


# --- Production mode: no debugger --------------------------------------------------------


@pytest.mark.parametrize("command", [("app.py",), ("-m", "flask", "--app", "app", "routes")])
def test_production_refuses_flask_debug(tmp_path, command):
    """Found: FLASK_DEBUG=1 left in the environment (an env file, a shell) made a
    production ``python app.py`` run in debug mode: Flask-SocketIO then wraps the app in
    Werkzeug's interactive debugger (tracebacks with source, a console behind a PIN)
    and starts the reloader. Production mode now refuses it, in one line."""
    from tests.test_production import _env, _refused

    env = _env(tmp_path, BASE_URL="https://kring.example.org", FLASK_DEBUG="1")
    line = _refused(env, *command)
    assert "FLASK_DEBUG" in line


# --- /readyz: public, never limited, so it must stay cheap, the log too ------------------


def test_readyz_during_an_outage_writes_one_line_not_one_per_probe(monkeypatch, caplog):
    """Found: every /readyz while the database was away wrote a warning. Probes come
    every few seconds from each balancer, and anyone on the internet may ask too, as
    fast as they like (the probe is never rate limited): the log filled with one line
    per request. Now one line per while (30 s), as for the other outage lines."""
    from portal import create_app, readiness
    from tests.test_readiness import _UnreachableDatabase

    monkeypatch.setattr(readiness, "_warned", {}, raising=False)
    caplog.set_level(logging.WARNING, logger="portal.readiness")
    broken = create_app(_UnreachableDatabase)
    with broken.app_context():
        try:
            client = broken.test_client()
            answers = {client.get("/readyz").status_code for _ in range(20)}
        finally:
            _db.engine.dispose()
    assert answers == {503}
    lines = [r for r in caplog.records if r.name == "portal.readiness"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].getMessage() == "readiness: the database did not answer (OperationalError)"


# --- The log's request id: nginx's, never the visitor's ----------------------------------


@pytest.mark.parametrize(("hops", "kept"), [(0, False), (1, True)])
def test_a_visitor_cannot_choose_the_request_id_in_the_log(app, hops, kept):
    """Found: without a proxy (PROXY_HOPS=0) Kring kept whatever X-Request-ID the
    visitor sent, so anyone could give their requests another request's id (or one id
    to everything) and muddle what an operator reads back. Behind nginx, which sets the
    header on every request, nginx's id is kept, as before."""
    from portal.logs import new_request_id

    app.config["PROXY_HOPS"] = hops
    forged = "a1b2c3d4e5f60718"
    with app.test_request_context("/", headers={"X-Request-ID": forged}):
        assert (new_request_id() == forged) is kept


# --- Pages that load only recent ticks ------------------------------------------------------


def test_old_ticks_outside_the_window_stay_counted_and_protected(
    app, make_circle, add_member, new_client, login, csrf
):
    """A daily routine running 90 days, every turn ticked by Anna (late ones too: the
    pages now load only the recent ticks). No turn is offered again as missed, the
    plan page's health is what all the ticks give, and Ben (a member, not his to undo)
    cannot undo her ticks from 20 or 60 days back through the form."""
    from datetime import timedelta

    from portal.models import Completion
    from portal.services import plan as plan_svc
    from portal.services.plan_view import my_commitments, plan_view
    from portal.services.schedule import Health, Schedule, health, today_in
    from tests import plan_data

    circle, coord = make_circle()
    anna, ben = add_member(circle, name="Anna"), add_member(circle, name="Ben")
    today = today_in(circle.timezone)
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Water the plants",
            assignee_ids=[anna.id],
            schedule=Schedule(
                kind="weekly", start=today - timedelta(days=90), weekdays=frozenset(range(7))
            ),
        ),
    )
    _db.session.commit()
    old = {}
    for back in range(0, 91):
        day = today - timedelta(days=back)
        done = plan_svc.tick(circle, anna, c, day.isoformat())
        old[back] = done["completion_id"]
    _db.session.commit()

    [group] = my_commitments(anna.user_id)
    [row] = group.rows
    assert row.missed == [] and row.done is not None
    every_tick = set(plan_svc.standing_completions([c.id])[c.id])  # no window
    assert len(every_tick) == 91
    shown = plan_view(circle, anna).rows[0].health
    assert shown == health(plan_svc.schedule_of(c), today, every_tick) != Health.OVERDUE

    browser = login(new_client(), ben.user)
    page = browser.get(f"/c/{circle.id}/plan")
    for back in (20, 60):
        resp = browser.post(
            f"/c/{circle.id}/plan/completions/{old[back]}/undo",
            data={"csrf_token": csrf(page)},
        )
        assert resp.status_code in (302, 403), resp.status_code  # the form was heard
        _db.session.expire_all()
        assert _db.session.get(Completion, old[back]).undone_at is None
    # The same form works for whom it is meant: Anna undoes today's fresh tick.
    hers = login(new_client(), anna.user)
    page = hers.get(f"/c/{circle.id}/plan")
    hers.post(f"/c/{circle.id}/plan/completions/{old[0]}/undo", data={"csrf_token": csrf(page)})
    _db.session.expire_all()
    assert _db.session.get(Completion, old[0]).undone_at is not None


# --- Backups ---------------------------------------------------------------------------------


@pytest.mark.parametrize("already", ["readable_file", "symlink"])
def test_a_backup_over_an_existing_name_is_still_for_its_owner_only(tmp_path, already):
    """The name given already exists: a world-readable file from an earlier copy, or a
    symlink someone planted to make the backup land in a file they can read. The
    backup replaces the name itself, owner-only, and writes nothing through the link."""
    from sqlalchemy import create_engine

    from portal import backup

    source = tmp_path / "kring.sqlite3"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE messages (body TEXT)")
        conn.execute("INSERT INTO messages VALUES (?)", (SECRET_BODY,))
    target = tmp_path / "kring.backup"
    trap = tmp_path / "readable-by-others"
    if already == "readable_file":
        target.write_text("an old copy")
        target.chmod(0o644)
    else:
        trap.write_text("")
        trap.chmod(0o666)
        target.symlink_to(trap)
    engine = create_engine(f"sqlite:///{source}")
    try:
        backup.backup(engine, target)
    finally:
        engine.dispose()
    assert not target.is_symlink()
    assert target.stat().st_mode & 0o077 == 0
    assert SECRET_BODY.encode() in target.read_bytes()
    if already == "symlink":
        assert trap.read_text() == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
