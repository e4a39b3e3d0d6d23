"""Follow-up meetings end to end over HTTP: propose, answer, fix, .ics, feed, review."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from portal.extensions import db
from portal.models import MeetingAnswer
from tests.conftest import csrf_from


def _post(client, url, page_url, data):
    page = client.get(page_url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page)})


def test_poll_fix_calendar_and_review(client, new_client, make_circle, add_member, login):
    circle, _ = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma")
    oma.in_followup_group = True
    db.session.commit()
    base = f"/c/{circle.id}/meetings"
    s = login(client, sanne.user)
    soon = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    later = (datetime.now(UTC) + timedelta(days=11)).strftime("%Y-%m-%d")
    resp = _post(
        s,
        f"{base}/new",
        f"{base}/new",
        {
            "title": "Is the plan working?",
            "purpose": "Check",
            "place": "Oma's house",
            "duration": "90",
            "option_0": f"{soon}T10:00",
            "option_1": f"{later}T19:30",
            "invitees": [str(sanne.id), str(oma.id)],
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    url = resp.headers["Location"]
    html = s.get(url).get_data(as_text=True)
    options = re.findall(r'name="answer-(\d+)"', html)
    first, second = sorted(set(options), key=int)
    o = login(new_client(), oma.user)
    _post(o, f"{url}/answers", url, {f"answer-{first}": "maybe", f"answer-{second}": "yes"})
    _post(o, f"{url}/answers", url, {f"answer-{first}": "no", f"answer-{second}": "yes"})
    assert db.session.scalar(select(db.func.count()).select_from(MeetingAnswer)) == 2
    html = s.get(url).get_data(as_text=True)
    assert "Best so far" in html and "Not answered yet: Sanne" in html
    _post(s, f"{url}/fix", url, {"option": second})
    ics = s.get(f"{url}/meeting.ics")
    cal = Calendar.from_ical(ics.data)
    ev = next(iter(cal.walk("VEVENT")))
    assert str(ev["summary"]) == "Kring meeting" and int(ev["sequence"]) == 1
    # 19:30 Amsterdam time (winter) is 18:30 UTC.
    assert ev.decoded("dtstart").astimezone(UTC).strftime("%H:%M") == "18:30"
    # Oma's feed.
    page = o.get("/account/calendar")
    made = o.post("/account/calendar", data={"action": "renew", "csrf_token": csrf_from(page)})
    feed_url = re.search(
        r"(http://localhost/calendar/[^<\s]+\.ics)", made.get_data(as_text=True)
    ).group(1)
    anon = new_client()
    feed = anon.get(feed_url.replace("http://localhost", ""))
    assert feed.status_code == 200
    assert len(list(Calendar.from_ical(feed.data).walk("VEVENT"))) == 1
    # Cancel: the feed says CANCELLED with a higher SEQUENCE.
    _post(s, f"{url}/cancel", url, {})
    ev = next(
        iter(
            Calendar.from_ical(anon.get(feed_url.replace("http://localhost", "")).data).walk(
                "VEVENT"
            )
        )
    )
    assert str(ev["status"]) == "CANCELLED" and int(ev["sequence"]) == 2
    # Revoke: the old URL is a 404.
    page = o.get("/account/calendar")
    o.post("/account/calendar", data={"action": "revoke", "csrf_token": csrf_from(page)})
    assert anon.get(feed_url.replace("http://localhost", "")).status_code == 404
    assert "Is the plan working?" in o.get("/me/meetings").get_data(as_text=True)
