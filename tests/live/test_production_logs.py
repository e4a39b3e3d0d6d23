"""Production logs: a JSON line per request and per socket event, and no secret in them.

A real server (``python app.py``) in production mode, on SQLite with BASE_URL
``http://127.0.0.1:PORT``, goes through what people do: an invitation made on the
command line is opened and accepted with a password, the person signs in again in
another browser, opens a socket and sends a chat message, ticks a step of the plan,
makes a calendar feed and fetches it. Then everything the server wrote is read back:
every line is a JSON object, requests and socket events carry the fields an operator
searches by, and none of the secrets that passed through (the password, the
invitation and calendar tokens, the session cookie, the CSRF token, the message and the
note) appears anywhere.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest
import requests

from tests.live.conftest import PASSWORD, LiveServer, csrf_in
from tests.live_server import kring_server

pytestmark = pytest.mark.live

FIELDS = ("request_id", "route", "status", "duration_ms", "person_id")


@pytest.fixture(scope="module")
def production():
    with kring_server("kring-prodlogs-", KRING_ENV="production") as (url, env, log, proc):
        server = LiveServer(url=url, env=env, log=log)
        server.proc = proc
        yield server
        server.close_sockets()


def _demo(server: LiveServer, role: str) -> tuple[int, str]:
    """A demo circle (a plan in use, meetings): its id and the invitation for ``role``."""
    out = server.cli("kring", "demo", "--language", "en")
    links = dict(re.findall(r"^(\w+): (http\S+)$", out, re.M))
    return int(re.match(r"Demo circle (\d+):", out).group(1)), links[role]


def _tick(person, circle_id: int, note: str) -> None:
    page = person.get(f"/c/{circle_id}/plan")
    assert page.status_code == 200
    forms = re.findall(
        r'<form method="post" action="(/c/\d+/plan/commitments/\d+/tick)" class="tick-form">'
        r"(.*?)</form>",
        page.text,
        re.S,
    )
    assert forms, "nothing to tick on the demo plan"
    action, inner = forms[0]
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', inner))
    data["csrf_token"] = csrf_in(page.text)
    data["note"] = note
    done = person.post(action, data, allow_redirects=False)
    assert done.status_code == 302, done.text[:300]


def _calendar_feed(person) -> str:
    page = person.get("/account/calendar")
    made = person.post("/account/calendar", {"csrf_token": csrf_in(page.text)})
    assert made.status_code == 200
    url = re.search(r"(http://127\.0\.0\.1:\d+/calendar/[A-Za-z0-9_\-]+\.ics)", made.text)
    assert url, "no feed link on the page"
    feed = requests.get(url.group(1), timeout=10)  # a calendar app: no cookie
    assert feed.status_code == 200 and "BEGIN:VCALENDAR" in feed.text
    return url.group(1).rsplit("/", 1)[1].removesuffix(".ics")


def test_production_logs_are_json_lines_without_secrets(production):
    server = production
    circle_id, invitation = _demo(server, "central")
    invitation_token = invitation.rsplit("/", 1)[1]

    person = server.redeem(invitation, "Lotte")  # /i/<token>, /join with a password
    person = person.another_browser()  # /login with the password
    cookie = person.cookie()
    csrf = person.csrf()
    body = f"message-body-{secrets.token_hex(6)}"
    note = f"tick-note-{secrets.token_hex(6)}"
    sock = person.socket()
    sock.join(circle_id)
    assert sock.send(circle_id, body)["ok"]
    refused = sock.call("chat:send", {"circle_id": circle_id})  # no body: an error answer
    assert refused["ok"] is False
    _tick(person, circle_id, note)
    feed_token = _calendar_feed(person)
    person.get(f"/i/{secrets.token_urlsafe(24)}")  # a wrong invitation token: logged as a route
    # A long-polling request for a connection this process does not know (what a
    # missing sticky session looks like): Engine.IO logs an error of its own.
    stray_sid = secrets.token_urlsafe(15)
    stray = requests.get(
        f"{server.url}/socket.io/?EIO=4&transport=polling&sid={stray_sid}", timeout=10
    )
    assert stray.status_code == 400
    assert sock.sio.eio.sid  # the live socket's own id: checked below too
    socket_sid = sock.sio.eio.sid
    server.close_sockets()

    log = server.log.read_text()
    secrets_seen = (
        PASSWORD,
        invitation_token,
        cookie,
        csrf,
        body,
        note,
        feed_token,
        stray_sid,
        socket_sid,
    )
    for secret in secrets_seen:
        assert secret and secret not in log, f"{secret!r} is in the log"

    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all(isinstance(line, dict) and "event" in line for line in lines)
    records = [line for line in lines if line["event"] in ("http", "socket")]
    for line in records:
        assert all(k in line for k in FIELDS), line
        assert isinstance(line["duration_ms"], int | float)
        assert "path" not in line and "url" not in line
    http = {(line["route"], line["status"]) for line in records if line["event"] == "http"}
    for expected in [
        ("invitations.open_link", 302),  # the token-bearing paths, by name only
        ("invitations.join", 302),
        ("auth.login", 302),
        ("plan.tick", 302),
        ("meetings.feed", 200),
    ]:
        assert expected in http, sorted(http)
    sockets = [line for line in records if line["event"] == "socket"]
    sends = [line for line in sockets if line["route"] == "chat:send"]
    assert [line["status"] for line in sends] == ["ok", "error"]
    assert sends[1]["error"] == refused["error"]  # the answer's code, nothing sent
    assert any(line["route"] == "connect" and line["status"] == "ok" for line in sockets)
    person_ids = {line["person_id"] for line in sends}
    assert len(person_ids) == 1 and isinstance(person_ids.pop(), int)
    tick = next(line for line in records if line["route"] == "plan.tick")
    assert isinstance(tick["person_id"], int)
    feed = next(line for line in records if line["route"] == "meetings.feed")
    assert feed["person_id"] is None  # a calendar app fetches it without signing in
    ids = [line["request_id"] for line in records]
    assert len(set(ids)) == len(ids)  # one id per request and per event
