"""Take everything with you (issue 13, docs/export.md): a person's own data at
/account/export and the whole circle at /c/<id>/export, each a ZIP with data.json and
index.html, streamed.

What a person or an attacker would notice: what is in each file, what never is (the
password hash, token hashes, another circle), who gets a 404 or 403, that there is no
way to ask for someone else's account, and that a 20,000-message circle streams in a
few MB of memory."""

from __future__ import annotations

import gc
import io
import json
import os
import re
import tempfile
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from portal.extensions import db as _db
from portal.models import (
    CalendarFeed,
    Circle,
    Commitment,
    LoginSession,
    Message,
    MessageRevision,
    PlanVersion,
    SignIn,
    User,
)
from portal.models.types import utcnow
from portal.services import meetings as meetings_svc
from tests.family_circle import family_circle, send


def _unzip(resp) -> tuple[dict, str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="kring-export-\d{4}-\d{2}-\d{2}\.zip"',
        resp.headers["Content-Disposition"],
    )
    assert resp.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as z:
        assert sorted(z.namelist()) == ["data.json", "index.html"]
        assert z.testzip() is None
        return json.loads(z.read("data.json")), z.read("index.html").decode()


@pytest.fixture
def family(make_circle, add_member):
    """Circle A (tests/family_circle.py), whose chat message carries HTML and a script;
    a calendar feed of Oma's. Circle B: its own secret message and plan."""
    family = family_circle(
        make_circle,
        add_member,
        first="Oma <b>says</b> hello",
        edited="Oma <script>alert(1)</script> edited",
    )
    oma = family["oma"]
    _db.session.add(CalendarFeed(user_id=oma.user_id, token_hash="f" * 64, show_titles=True))
    other, other_coord = make_circle("Circle B secret")
    other_central = add_member(other, "central", name="Central B")
    send(other_central, "Circle B secret message")
    _db.session.commit()
    return family | {"other": other, "other_central": other_central}


def _client_for(new_client, login, membership):
    return login(new_client(), membership.user)


def _no_secrets(raw: str, *users: User) -> None:
    """No password hash, login-session or feed token hash anywhere in the file."""
    for user in users:
        assert user.password_hash not in raw
    for h in _db.session.scalars(select(LoginSession.key_hash)):
        assert h not in raw
    for h in _db.session.scalars(select(CalendarFeed.token_hash)):
        assert h not in raw
    assert "argon2" not in raw and "password_hash" not in raw and "token" not in raw


def test_account_export_holds_my_data_and_nothing_secret(family, new_client, login):
    oma = family["oma"]
    client = _client_for(new_client, login, oma)
    data, html = _unzip(client.get("/account/export"))
    assert data["format"] == "kring-export" and data["version"] == 1
    assert data["kind"] == "account"
    acc = data["account"]
    assert acc["id"] == oma.user_id and acc["name"] == "Oma Riet"
    assert acc["username"] == oma.user.username
    assert not any("hash" in key for key in data["account"])
    assert [m["name"] for m in data["memberships"]] == ["Oma Riet"]
    assert data["memberships"][0]["role"] == "member"
    # Every message she wrote, with the earlier version; not Sanne's, not circle B's.
    assert [m["text"] for m in data["messages"]] == ["Oma <script>alert(1)</script> edited"]
    assert data["messages"][0]["earlier_versions"][0]["text"] == "Oma <b>says</b> hello"
    assert data["commitments"][0]["what"] == "Take Sam to football"
    assert data["commitments"][0]["i_do_it"] and data["commitments"][0]["help_asked_at"]
    assert [(t["step"], t["note"]) for t in data["ticks"]] == [("Pack the boots", "boots packed")]
    assert [(a["meeting"], a["answer"]) for a in data["poll_answers"]] == [
        ("Check-in at Gran's", "yes")
    ]
    assert data["settings"]["calendar_feed"] == {"on": True, "meeting_titles": True}
    # Signing in through the form above was recorded; only the moment.
    assert len(data["sign_ins"]) == 1
    assert _db.session.scalar(select(SignIn.user_id)) == oma.user_id
    plan = data["plans"][0]
    assert plan["circle"] == "Circle around Sam" and plan["version"] == 2
    assert plan["plan"]["conditions"][0]["text"] == "Sam sleeps at home on school nights"
    # The readable page: escaped, no script, her message and plan.
    assert "Oma &lt;script&gt;alert(1)&lt;/script&gt; edited" in html
    assert "Oma &lt;b&gt;says&lt;/b&gt; hello" in html
    assert "<script" not in html.lower()
    assert "Take Sam to football" in html
    for raw in (json.dumps(data), html):
        _no_secrets(raw, oma.user)
        assert "Circle B secret" not in raw
        assert "Sanne answers" not in raw


def test_a_removed_member_takes_their_own_words_not_what_the_family_changed_since(
    family, new_client, login
):
    """After Oma is removed, the family renames her commitment and the meeting. Her
    export keeps her message, her tick's note and her answer, but neither the new
    texts nor the plan (found by the attack review)."""
    from portal.services import membership as membership_svc

    circle, oma = family["circle"], family["oma"]
    membership_svc.remove_member(circle, family["sanne"], oma)
    _db.session.commit()
    commitment = _db.session.scalars(select(Commitment)).first()
    commitment.what = "A new plan Oma must not see"
    commitment.items[0].text = "A new step Oma must not see"
    family["meeting"].title = "A new meeting title Oma must not see"
    _db.session.commit()
    data, html = _unzip(_client_for(new_client, login, oma).get("/account/export"))
    assert [m["text"] for m in data["messages"]] == ["Oma <script>alert(1)</script> edited"]
    assert [(t["commitment"], t["step"], t["note"]) for t in data["ticks"]] == [
        (None, None, "boots packed")
    ]
    assert [(a["meeting"], a["answer"]) for a in data["poll_answers"]] == [(None, "yes")]
    assert data["commitments"] == [] and data["plans"] == []
    for raw in (json.dumps(data), html):
        assert "must not see" not in raw


def test_there_is_no_way_to_ask_for_someone_elses_account(family, new_client, login):
    """The URL names nobody: whatever is added to it, it is the signed-in person's."""
    client = _client_for(new_client, login, family["sanne"])
    for path in (
        "/account/export",
        f"/account/export?user_id={family['oma'].user_id}",
        f"/account/export?id={family['oma'].user_id}",
    ):
        data, _html = _unzip(client.get(path))
        assert data["account"]["id"] == family["sanne"].user_id
        assert "Oma <b>says</b> hello" not in json.dumps(data)
    assert client.get(f"/account/export/{family['oma'].user_id}").status_code == 404
    anonymous = new_client()
    resp = anonymous.get("/account/export")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_circle_export_holds_the_whole_circle(family, new_client, login):
    circle, sanne = family["circle"], family["sanne"]
    client = _client_for(new_client, login, sanne)
    data, html = _unzip(client.get(f"/c/{circle.id}/export"))
    assert (data["format"], data["version"], data["kind"]) == ("kring-export", 1, "circle")
    assert data["circle"]["title"] == "Circle around Sam"
    people = {p["name"]: p["role"] for p in data["people"]}
    assert people == {
        "Coordinator": "coordinator",
        "Sanne": "central",
        "Oma Riet": "member",
        "Dr Vos": "professional",
    }
    assert [m["text"] for m in data["messages"]] == [
        "Oma <script>alert(1)</script> edited",
        "Sanne answers",
    ]
    assert [m["number"] for m in data["messages"]] == [1, 2]
    assert data["messages"][0]["earlier_versions"][0]["text"] == "Oma <b>says</b> hello"
    plan = data["plan"]
    assert plan["version"] == 2
    assert [v["number"] for v in plan["versions"]] == [1, 2]
    stored = _db.session.scalars(
        select(PlanVersion.snapshot)
        .where(PlanVersion.circle_id == circle.id)
        .order_by(PlanVersion.number)
    ).all()
    assert [v["plan"] for v in plan["versions"]] == stored
    assert sorted(plan["versions"][0]["decided_by"]) == ["Oma Riet", "Sanne"]
    assert plan["ticks"][0]["step"] == "Pack the boots"
    meeting = data["meetings"][0]
    assert meeting["title"] == "Check-in at Gran's" and meeting["organiser"] == "Sanne"
    assert meeting["times"][0]["answers"] == [{"by": "Oma Riet", "acted_by": None, "answer": "yes"}]
    assert "Oma &lt;script&gt;" in html and "<script" not in html.lower()
    assert "Check-in at Gran&#39;s" in html and "Version 2" in html
    for raw in (json.dumps(data), html):
        _no_secrets(raw, *(m.user for m in circle.memberships))
        assert "Circle B secret" not in raw
        for m in circle.memberships:  # account data stays out: no usernames, no email
            assert m.user.username not in raw


def test_circle_export_reviews_and_erased_names(family, new_client, login):
    circle, sanne, oma = family["circle"], family["sanne"], family["oma"]
    meeting = family["meeting"]
    meetings_svc.fix_date(meeting, sanne, meeting.options[0].id)
    _db.session.commit()
    meeting.starts_at = utcnow() - timedelta(hours=2)
    _db.session.commit()
    meetings_svc.record_review(
        circle,
        meeting,
        sanne,
        present_ids=[sanne.id, oma.id],
        verdicts={},
        decisions={},
        next_evaluation=None,
        notes="Football works",
    )
    oma.stored_name = ""  # Oma erased her account
    _db.session.commit()
    data, html = _unzip(_client_for(new_client, login, sanne).get(f"/c/{circle.id}/export"))
    review = data["meetings"][0]["review"]
    assert review["notes"] == "Football works" and review["recorded_by"] == "Sanne"
    assert data["messages"][0]["from"] == "a former member"
    assert "a former member" in html and "Football works" in html


@pytest.mark.parametrize(
    "who,status", [("oma", 403), ("prof", 403), ("coord", 403), ("other_central", 404)]
)
def test_only_central_persons_export_the_circle(family, new_client, login, who, status):
    client = _client_for(new_client, login, family[who])
    resp = client.get(f"/c/{family['circle'].id}/export")
    assert resp.status_code == status
    assert b"Oma" not in resp.get_data()
    if status == 404:  # exactly like a circle that does not exist
        assert resp.get_data() == client.get("/c/999999999/export").get_data()


def test_a_removed_central_person_gets_the_404(family, new_client, login, add_member):
    from portal.services import membership as membership_svc

    circle, sanne = family["circle"], family["sanne"]
    other = add_member(circle, "central", name="Second central")
    client = _client_for(new_client, login, other)
    membership_svc.remove_member(circle, sanne, other)
    _db.session.commit()
    resp = client.get(f"/c/{circle.id}/export")
    assert resp.status_code == 404
    assert resp.get_data() == client.get("/c/999999999/export").get_data()


def test_downloads_are_rate_limited_per_person(app, family, new_client, login):
    app.config["EXPORT_RATE_LIMIT"] = "2 per hour"
    client = _client_for(new_client, login, family["sanne"])
    assert client.get("/account/export").status_code == 200
    assert client.get(f"/c/{family['circle'].id}/export").status_code == 200
    assert client.get("/account/export").status_code == 429
    # Another person is not held back by Sanne's downloads.
    assert _client_for(new_client, login, family["oma"]).get("/account/export").status_code == 200


def test_the_pages_offer_the_downloads(family, new_client, login):
    circle = family["circle"]
    sanne = _client_for(new_client, login, family["sanne"])
    assert b'href="/account/export"' in sanne.get("/account").get_data()
    settings = sanne.get(f"/c/{circle.id}/settings").get_data(as_text=True)
    assert settings.count(f'href="/c/{circle.id}/export"') == 1
    title = re.search(r"<title>(.*?)</title>", settings, re.S).group(1)
    assert "export" not in title and "<" not in title
    coord = _client_for(new_client, login, family["coord"])
    assert f"/c/{circle.id}/export".encode() not in coord.get(f"/c/{circle.id}/settings").get_data()


# --- Memory: 20,000 messages stream in a few MB ------------------------------------


def _fill_chat(circle: Circle, author_id: int, n: int) -> None:
    """n messages of ~300 characters in one executemany (not through the service)."""
    now = utcnow()
    text = "Shall I take Sam to football on Saturday? " * 7
    rows = [
        {
            "circle_id": circle.id,
            "seq": i,
            "author_id": author_id,
            "client_id": f"bulk-{i}",
            "body": f"{i}: {text}",
            "created_at": now,
        }
        for i in range(1, n + 1)
    ]
    _db.session.execute(insert(Message), rows)
    first = _db.session.scalar(
        select(Message.id).where(Message.circle_id == circle.id, Message.seq == 1)
    )
    # Every tenth message was edited once.
    _db.session.execute(
        insert(MessageRevision),
        [
            {"message_id": first + i, "body": f"before {i}", "written_at": now}
            for i in range(0, n, 10)
        ],
    )
    _db.session.execute(
        Message.__table__.update()
        .where(Message.circle_id == circle.id, Message.seq % 10 == 1)
        .values(edited_at=now)
    )
    _db.session.execute(
        Circle.__table__.update().where(Circle.id == circle.id).values(message_seq=n)
    )
    _db.session.commit()


def _measure(client, circle_id: int) -> tuple[int, int, str]:
    """Peak traced memory while the whole response is read and written to disk, the
    ZIP's size, and the file's path."""
    out = tempfile.NamedTemporaryFile(suffix=".zip", delete=False)
    gc.collect()
    tracemalloc.start()
    try:
        resp = client.get(f"/c/{circle_id}/export", buffered=False)
        assert resp.status_code == 200
        size = 0
        for chunk in resp.response:
            out.write(chunk)
            size += len(chunk)
        resp.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        out.close()
    return peak, size, out.name


def test_a_large_chat_streams(app, make_circle, add_member, new_client, login):
    """Measured on SQLite (2 shared cores): 2,000 messages (2.1 MB unzipped) peak at
    about 1.2 MB of traced memory, 20,000 (20.6 MB unzipped) at about 1.3 MB."""
    app.config["EXPORT_RATE_LIMIT"] = "100 per hour"
    results = {}
    for n in (2_000, 20_000):
        circle, _coord = make_circle(f"Big circle {n}")
        central = add_member(circle, "central", name=f"Central {n}")
        _fill_chat(circle, central.id, n)
        client = _client_for(new_client, login, central)
        if n == 2_000:
            _measure(client, circle.id)  # warm up: templates, compiled statements
        peak, size, path = _measure(client, circle.id)
        with zipfile.ZipFile(path) as z:
            raw = z.read("data.json")
            unpacked = len(raw) + z.getinfo("index.html").file_size
            html_tail = z.read("index.html")[-3000:].decode(errors="replace")
            data = json.loads(raw)
        os.unlink(path)
        assert len(data["messages"]) == n
        assert data["messages"][-1]["number"] == n
        assert data["messages"][10]["earlier_versions"] == [
            {"text": "before 10", "written_at": data["messages"][10]["edited_at"]}
        ]
        assert f"{n}: Shall I take Sam" in html_tail and html_tail.rstrip().endswith("</html>")
        results[n] = (peak, size, unpacked)
        print(
            f"\n{n} messages: zip {size / 1e6:.2f} MB, unzipped {unpacked / 1e6:.1f} MB, "
            f"peak traced memory {peak / 1e6:.2f} MB"
        )
    small_peak, _, _ = results[2_000]
    peak, _size, unpacked = results[20_000]
    assert peak < 4e6, "a 20,000-message export must stream in a few MB"
    assert peak < unpacked / 5, "the peak must be well below what the export holds"
    assert peak < 2 * small_peak, "ten times the messages must not take ~ten times the memory"


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "Asia/Kolkata", "America/St_Johns"])
def test_the_exports_times_read_as_babel_writes_them(app, monkeypatch, language, zone):
    """index.html writes a time for every message through ``writer.moments()`` (Babel
    once per day, not per message): the same words as ``format_datetime(..., "d MMM y,
    HH:mm")`` in the person's language and time zone, across both summer-time changes,
    half-hour zones, times without a zone and times with microseconds."""
    import flask_babel

    from portal.services.export.writer import moments

    babel = flask_babel.get_babel(app)
    monkeypatch.setattr(babel, "locale_selector", lambda: language)
    monkeypatch.setattr(babel, "timezone_selector", lambda: zone)
    values = [None, ""]
    for start in (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)):
        step = timedelta(minutes=37, seconds=11, microseconds=123)
        values += [(start + i * step).isoformat() for i in range(3 * 24 * 60 // 37)]
    values += ["2026-12-31T23:59:59", "2027-01-01T00:00:00.5+00:00", "2026-06-01T12:00:00+02:00"]
    with app.test_request_context("/"):
        at = moments()
        expected = [
            flask_babel.format_datetime(datetime.fromisoformat(v), "d MMM y, HH:mm") if v else ""
            for v in values
        ]
        assert [at(v) for v in values] == expected
        assert len({e[-5:] for e in expected}) > 100  # many different times were compared


def test_a_message_in_index_html_escapes_every_value_once(app):
    """index.html's messages are written by ``writer.message_html`` (not a macro):
    names, texts, earlier versions and the circle's title come out escaped exactly
    once, a translation with its name in it as the template's i18n would write it."""
    from markupsafe import Markup

    from portal.services.export.writer import message_html, moments

    with app.test_request_context("/"):
        message = message_html(moments())
        html = message(
            {
                "from": "Oma <b>&",
                "written_at": "2026-06-01T12:00:00+00:00",
                "edited_at": "2026-06-01T12:05:00+00:00",
                "text": "gone",
                "earlier_versions": [
                    {"text": "first <i>", "written_at": "2026-06-01T12:00:00+00:00"}
                ],
                "removed_at": "2026-06-01T13:00:00+00:00",
                "removed_by": "Sanne <script>",
            },
            "Circle <x>",
        )
        kept = message(
            {
                "from": "Bo",
                "written_at": "2026-06-01T12:00:00+00:00",
                "edited_at": None,
                "text": "line one\n<two>",
                "earlier_versions": [],
                "removed_at": None,
                "removed_by": None,
            },
            Markup("<em>line</em>"),
        )
    assert "<strong>Oma &lt;b&gt;&amp;</strong>" in html
    assert " · Circle &lt;x&gt; · changed</p>" in html
    assert '<p class="muted">Removed by Sanne &lt;script&gt;.</p>' in html
    assert "gone" not in html  # a removed message's words are not written
    assert "<summary>Earlier versions</summary>" in html and "first &lt;i&gt;" in html
    assert '<p class="text">line one\n&lt;two&gt;</p>' in kept and "<em>line</em>" in kept
    assert "&amp;lt;" not in html + kept and "<details>" not in kept
