"""The printout of the plan (issue 14): on paper, a ticked step must still read as done
(text, not a colour), and the family sees when it meets next."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from portal.extensions import db as _db
from portal.services import meetings as meet_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data


def _text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


def _meeting(circle, organiser, title, days, *, place="", fix=True):
    when = [
        meet_svc.local_to_utc(
            datetime.combine(date.today() + timedelta(days=d), time(19, 0)), circle.timezone
        )
        for d in days
    ]
    m = meet_svc.propose_meeting(
        circle,
        organiser,
        meet_svc.MeetingData(
            title=title, purpose="", place=place, video_link="", duration_minutes=60, options=when
        ),
    )
    if fix:
        meet_svc.fix_date(m, organiser, m.options[0].id)
    _db.session.commit()
    return m


def test_printout_shows_ticked_steps_as_done_and_the_next_meeting(
    db, make_circle, add_member, new_client, login
):
    circle, coordinator = make_circle("Circle around Sam")
    sanne = add_member(circle, role="central", name="Sanne")
    jan = add_member(circle, name="Jan")
    c = plan_data.add_commitment(
        circle,
        coordinator,
        plan_svc.CommitmentData(
            what="Get Sam ready for school",
            assignee_ids=[sanne.id],
            items=["Buy the school shoes", "Make the doctor's appointment"],
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=5)),
        ),
    )
    _db.session.commit()
    shoes = next(i for i in c.items if i.text == "Buy the school shoes")
    plan_svc.tick(circle, sanne, c, f"item:{shoes.id}")
    _db.session.commit()

    browser = login(new_client(), jan.user)
    page = _text(browser.get(f"/c/{circle.id}/plan/print"))
    # No meeting with a date yet: the printout says so.
    assert "<h2>The next follow-up meeting</h2> <p>No date yet.</p>" in page
    # The ticked step carries its state in words, the open one a box to tick by pen.
    assert (
        '<li class="step-done"><span aria-hidden="true">✓</span> Buy the school shoes '
        "<em>(done by Sanne)</em></li>"
    ) in page
    assert (
        '<li><span aria-hidden="true">☐</span> Make the doctor&#39;s appointment'
        '<span class="visually-hidden"> (not done yet)</span></li>'
    ) in page
    assert "☐ Buy the school shoes" not in page

    # Meetings: a poll (no date), a cancelled one, a later one and the next one.
    _meeting(circle, sanne, "Still choosing", (3, 4), fix=False)
    cancelled = _meeting(circle, sanne, "Called off", (2, 3))
    meet_svc.cancel(cancelled, sanne)
    _meeting(circle, sanne, "Later check", (30, 31))
    nxt = _meeting(circle, sanne, "Is the plan working?", (12, 13), place="At Oma's")
    _db.session.commit()
    page = _text(browser.get(f"/c/{circle.id}/plan/print"))
    shown = format_datetime(
        nxt.starts_at, "EEEE d MMMM y, HH:mm", tzinfo=ZoneInfo(circle.timezone), locale="en"
    )
    section = page.split("<h2>The next follow-up meeting</h2>", 1)[1].split("</article>")[0]
    assert "<strong>Is the plan working?</strong>: <time" in section
    assert f">{shown}</time>" in section
    assert "Where: At Oma&#39;s" in section
    for other in ("Still choosing", "Called off", "Later check", "No date yet."):
        assert other not in section, other
