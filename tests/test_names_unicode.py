"""Issue 10, hole 10: names and one-line fields lose direction overrides, NUL and
invisible characters, through every door (forms, the socket, the command line's
services), and the pages show them as stored. Runs on SQLite and PostgreSQL (which
refuses NUL in text: before the fix such a form was a 500 there).
"""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import Circle, Commitment, Condition, Invitation, Membership, Message, User
from portal.services import circles as circle_svc
from portal.services import meetings as meeting_svc
from tests.conftest import PASSWORD, csrf_from

# What the attacker types, and what must be stored.
NAME = "Anna\u202e\x00 de\r\nVries\u2066\u200b\ufeff\u2069"
NAME_STORED = "Anna de Vries"
ONE_LINE = "\u202eetaD\x00 nav\n\u2067Jan\u200b\u200e "
ONE_LINE_STORED = "etaD nav Jan"
TEXT = "First\u202e line\x00\r\nsecond\u2066 line\u200b\u2069"
TEXT_STORED = "First line\nsecond line"
FORBIDDEN = ["\x00", "\u202e", "\u202a", "\u2066", "\u2067", "\u2069", "\u200b", "\ufeff", "\u200e"]
# An emoji family keeps its zero width joiners; Arabic and Hebrew are untouched.
KEPT = "Oma \U0001f468\u200d\U0001f469\u200d\U0001f467 \u0633\u0627\u0631\u0629 \u05e9\u05e8\u05d4"


def _clean(s: str) -> bool:
    return not any(ch in s for ch in FORBIDDEN)


def _post(client, url, data, page_url="/account"):
    return client.post(url, data={**data, "csrf_token": csrf_from(client.get(page_url))})


def test_clean_line_and_clean_text():
    from portal.sanitize import clean_line, clean_text

    assert clean_line(NAME, 80) == NAME_STORED
    assert clean_line(ONE_LINE, 80) == ONE_LINE_STORED
    assert clean_line(KEPT, 80) == KEPT
    assert clean_line("  a\tb\u2028c\x85d\x9be  ", 80) == "a b cde"
    assert clean_line("x" * 100, 80) == "x" * 80
    assert clean_line("abc   def", 4) == "abc"  # no trailing space after the cut
    assert clean_line(None, 80) == ""
    assert clean_text(TEXT) == TEXT_STORED
    assert clean_text("a\u2029b\rc") == "a\nb\nc"
    assert clean_text(KEPT) == KEPT


def test_names_through_the_forms_and_the_socket(
    app, client, make_circle, add_member, login, new_client, socket_client
):
    circle, coord = make_circle()
    prof = add_member(circle, role="professional", name="Dr Vos")
    # The person a supporter supports is chosen from the circle (issue 14); their name,
    # cleaned when they joined, is what "supporter of" shows.
    sam = add_member(circle, role="member", name=ONE_LINE_STORED)
    login(client, coord.user)
    home = f"/c/{circle.id}"

    # The circle's title and question.
    resp = _post(
        client,
        f"{home}/settings",
        {"title": ONE_LINE, "question": TEXT, "language": "en", "timezone": "Europe/Amsterdam"},
        f"{home}/settings",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    _db.session.expire_all()
    c = _db.session.get(Circle, circle.id)
    assert (c.title, c.question) == (ONE_LINE_STORED, TEXT_STORED)

    # An invitation (name, supporter of, email), then joining with a chosen name.
    resp = _post(
        client,
        f"{home}/invitations",
        {"name": NAME, "role": "supporter", "supports": str(sam.id), "email": ""},
        f"{home}/people",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[-1500:]
    inv = _db.session.scalar(select(Invitation).where(Invitation.role == "supporter"))
    assert (inv.name, inv.supporter_of, inv.supports_id) == (NAME_STORED, ONE_LINE_STORED, sam.id)
    token = re.search(r"/i/([A-Za-z0-9_\-]{20,})", resp.get_data(as_text=True)).group(1)
    anna_browser = new_client()
    anna_browser.get(f"/i/{token}")
    page = anna_browser.get("/join")
    resp = anna_browser.post(
        "/join",
        data={
            "display_name": NAME + " X",
            "username": "anna.vries",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    anna = _db.session.scalar(select(Membership).where(Membership.role == "supporter"))
    assert anna.display_name == NAME_STORED + " X"
    assert anna.supporter_of == ONE_LINE_STORED
    assert _db.session.scalar(select(User.name).where(User.id == anna.user_id)) == (
        NAME_STORED + " X"
    )

    # Chat, over the socket and the form.
    sock = socket_client(anna.user, http=anna_browser)
    ack = sock.emit("chat:send", {"circle_id": circle.id, "client_id": "names-0001", "body": TEXT})
    assert ack["ok"] and ack["message"]["body"] == TEXT_STORED, ack
    assert ack["message"]["author"] == NAME_STORED + " X"
    resp = _post(
        anna_browser,
        f"{home}/chat",
        {"body": TEXT, "client_id": "names-0002"},
        f"{home}/chat",
    )
    assert resp.status_code == 302
    bodies = _db.session.scalars(select(Message.body).where(Message.circle_id == circle.id))
    assert list(bodies) == [TEXT_STORED, TEXT_STORED]

    # The plan: a commitment with its one-line fields and checklist, a condition.
    resp = _post(
        client,
        f"{home}/plan/commitments/new",
        {
            "what": TEXT,
            "assignees": [str(anna.id)],
            "other_assignees": ONE_LINE,
            "kind": "once",
            "start": "2030-12-10",
            "checker": "0",
            "checker_name": NAME,
            "interval": "1",
            "items": "First\u202e\x00 step\u200b\r\n\u2066Second step\u2069",
        },
        f"{home}/plan",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[-1500:]
    commitment = _db.session.scalar(select(Commitment))
    assert commitment.what == TEXT_STORED
    assert (commitment.other_assignees, commitment.checker_name) == (ONE_LINE_STORED, NAME_STORED)
    assert [i.text for i in commitment.items] == ["First step", "Second step"]
    prof_browser = login(new_client(), prof.user)
    resp = _post(prof_browser, f"{home}/plan/conditions", {"text": TEXT}, f"{home}/plan")
    assert resp.status_code == 302
    assert _db.session.scalar(select(Condition.text)) == TEXT_STORED

    # Every page that shows them shows them clean.
    pages = {
        "chat": anna_browser.get(f"{home}/chat"),
        "people": client.get(f"{home}/people"),
        "home": client.get(home),
        "plan": client.get(f"{home}/plan"),
        "print": client.get(f"{home}/plan/print"),
        "export": client.get(f"{home}/plan/export.json"),
    }
    for name, resp in pages.items():
        assert resp.status_code == 200, name
        text = resp.get_data(as_text=True)
        assert _clean(text), name
    for name in ("chat", "people", "plan"):
        assert NAME_STORED + " X" in pages[name].get_data(as_text=True), name
    exported = json.dumps(pages["export"].get_json(), ensure_ascii=False)
    assert _clean(exported) and "etaD nav Jan" in exported
    joined = sock.emit("chat:join", {"circle_id": circle.id})
    assert {m["author"] for m in joined["messages"]} == {NAME_STORED + " X"}


def test_command_line_and_meeting_fields(app, make_circle, add_member, make_user):
    """``kring create-circle``, ``invite`` and ``create-account`` use these services."""
    circle, _membership, token = circle_svc.create_circle(
        title=ONE_LINE, question=TEXT, language="en", coordinator_name=NAME
    )
    _db.session.commit()
    assert (circle.title, circle.question) == (ONE_LINE_STORED, TEXT_STORED)
    coord = circle_svc.redeem_invitation(token, make_user("Someone"))
    assert coord.display_name == NAME_STORED
    user = make_user(NAME)
    assert user.name == NAME_STORED
    from datetime import timedelta

    from portal.models.types import utcnow

    central = add_member(circle, role="central", name="Sanne")
    meeting = meeting_svc.propose_meeting(
        circle,
        central,
        meeting_svc.MeetingData(
            title=NAME,
            purpose=TEXT,
            place=ONE_LINE,
            video_link="",
            duration_minutes=60,
            options=[utcnow() + timedelta(days=3), utcnow() + timedelta(days=4)],
            deadline=None,
            invitee_ids=[],
        ),
    )
    assert (meeting.title, meeting.place, meeting.purpose) == (
        NAME_STORED,
        ONE_LINE_STORED,
        TEXT_STORED,
    )


def test_a_nul_in_the_sign_in_name_is_just_a_wrong_name(client, make_user):
    make_user(username="anna")
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={"login": "an\x00na", "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert resp.status_code in (200, 302)  # not a 500 (PostgreSQL refuses NUL)
