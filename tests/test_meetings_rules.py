"""Follow-up meetings: the rules a member (or an attacker) runs into, over HTTP.

Who may propose, answer, fix and review; what a poll refuses; the calendar files and
the secret feed (parsed with ``icalendar``); time zones around the start of summer
time; live pushes; the agenda built from the plan; and the review deciding proposals.
Set-up goes through the services, every check through the pages a person sees.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from icalendar import Calendar
from sqlalchemy import func, select, text, update

from portal.extensions import db as _db
from portal.models import (
    CalendarFeed,
    CommitmentReview,
    Completion,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    MeetingReview,
    Plan,
    PlanVersion,
    Proposal,
    ProposalStatus,
)
from portal.models.types import utcnow
from portal.services import ServiceError
from portal.services import meetings as meet_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from

# --- helpers -----------------------------------------------------------------------------


def _count(model, *where) -> int:
    return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def _csrf(browser) -> str:
    return csrf_from(browser.get("/me/meetings"))


def _post(browser, url, data=None, **kw):
    return browser.post(url, data={**(data or {}), "csrf_token": _csrf(browser)}, **kw)


def _html(resp) -> str:
    return resp.get_data(as_text=True)


def _day(n: int) -> date:
    return date.today() + timedelta(days=n)


def _slot(n: int, hm: str = "19:00") -> str:
    """A time as typed into the form (local, no zone), ``n`` days from today."""
    return f"{_day(n).isoformat()}T{hm}"


def _proposal(title="Is the plan working?", times=None, **extra) -> dict:
    data = {"title": title, "purpose": "Check", "place": "Oma's house", "duration": "90"}
    for i, t in enumerate(times or [_slot(10), _slot(11)]):
        data[f"option_{i}"] = t
    data.update(extra)
    return data


def _meetings(circle) -> str:
    return f"/c/{circle.id}/meetings"


def _url(meeting) -> str:
    return f"/c/{meeting.circle_id}/meetings/{meeting.id}"


def _meeting(
    circle,
    organiser,
    *,
    days=(10, 11, 12),
    invite=(),
    title="Follow-up meeting",
    duration=90,
    deadline=None,
) -> Meeting:
    """A poll made through the service (set-up, not under test)."""
    options = [
        meet_svc.local_to_utc(datetime.combine(_day(d), time(19, 0)), circle.timezone) for d in days
    ]
    m = meet_svc.propose_meeting(
        circle,
        organiser,
        meet_svc.MeetingData(
            title=title,
            purpose="",
            place="",
            video_link="",
            duration_minutes=duration,
            options=options,
            deadline=deadline,
            invitee_ids=[x.id for x in invite],
        ),
    )
    _db.session.commit()
    return m


def _fixed(circle, organiser, **kw) -> Meeting:
    m = _meeting(circle, organiser, **kw)
    meet_svc.fix_date(m, organiser, m.options[0].id)
    _db.session.commit()
    return m


def _held(meeting, hours_ago: int = 1) -> Meeting:
    """The meeting has taken place: its time has come (a review needs that)."""
    _db.session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id)
        .values(starts_at=utcnow() - timedelta(hours=hours_ago))
    )
    _db.session.commit()
    return meeting


def _option_ids(meeting) -> list[int]:
    return [o.id for o in meeting.options]


def _flash(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-(?:error|success|info)"[^>]*>([^<]*)</p>', html)


def _event(ics_bytes: bytes):
    events = list(Calendar.from_ical(ics_bytes).walk("VEVENT"))
    assert len(events) == 1, ics_bytes
    return events[0]


def _events(ics_bytes: bytes) -> list:
    return list(Calendar.from_ical(ics_bytes).walk("VEVENT"))


def _start(ev) -> datetime:
    return ev.decoded("dtstart").astimezone(UTC)


@pytest.fixture(autouse=True)
def _many_logins(app):
    """These tests sign in many people from one address; the login limit has its own tests."""
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


def make_kring(db, make_circle, add_member) -> SimpleNamespace:
    """A circle with every kind of person a meeting cares about."""
    circle, coord = make_circle("Circle around Sam")
    p = SimpleNamespace(circle=circle, coord=coord)
    p.sanne = add_member(circle, role="central", name="Sanne")
    p.oma = add_member(circle, name="Oma")  # follow-up group
    p.piet = add_member(circle, name="Piet")  # follow-up group
    p.kees = add_member(circle, role="supporter", name="Kees")  # plan keeper
    p.jan = add_member(circle, name="Jan")  # a plain member
    p.vos = add_member(circle, role="professional", name="Dr Vos")
    p.oma.in_followup_group = True
    p.piet.in_followup_group = True
    p.kees.is_plan_keeper = True
    db.session.commit()
    return p


@pytest.fixture
def kring(db, make_circle, add_member):
    return make_kring(db, make_circle, add_member)


@pytest.fixture
def as_(new_client, login):
    """``as_(membership)``: that person's own signed-in browser (one per person)."""
    browsers = {}

    def get(m):
        if m.user_id not in browsers:
            browsers[m.user_id] = login(new_client(), m.user)
        return browsers[m.user_id]

    return get


# --- 1. Who may propose, and what a proposal must be ---------------------------------------


@pytest.mark.parametrize("who", ["oma", "kees", "sanne"])
def test_followup_member_plan_keeper_and_central_person_may_propose(kring, as_, who):
    me = getattr(kring, who)
    b = as_(me)
    base = _meetings(kring.circle)
    assert "Propose a meeting" in _html(b.get(base))
    assert b.get(f"{base}/new").status_code == 200
    resp = _post(b, f"{base}/new", _proposal(title=f"Check-in by {who}"))
    assert resp.status_code == 302, _html(resp)[:2000]
    m = _db.session.scalar(select(Meeting))
    assert m.title == f"Check-in by {who}" and m.organiser_id == me.id
    assert m.status == "poll" and len(m.options) == 2
    # The follow-up group, plan keeper and central person are invited by default.
    invited = {i.membership_id for i in m.invitees}
    assert {kring.sanne.id, kring.oma.id, kring.piet.id, kring.kees.id, me.id} <= invited
    assert kring.jan.id not in invited and kring.coord.id not in invited
    page = b.get(resp.headers["Location"])
    assert page.status_code == 200 and f"Check-in by {who}" in _html(page)


@pytest.mark.parametrize("who", ["jan", "vos", "coord"])
def test_plain_member_professional_and_coordinator_may_not_propose(kring, as_, who):
    b = as_(getattr(kring, who))
    base = _meetings(kring.circle)
    assert b.get(base).status_code == 200  # they can see the meetings ...
    assert "Propose a meeting" not in _html(b.get(base))
    assert b.get(f"{base}/new").status_code == 403  # ... but not propose one
    resp = _post(b, f"{base}/new", _proposal(title="Sneaky meeting"))
    assert resp.status_code == 403
    assert _count(Meeting) == 0 and _count(MeetingOption) == 0 and _count(MeetingInvitee) == 0


TIMES = "Please give between 2 and 10 possible times."
LINK = "A video call link starts with https://"
DURATION = "Number must be between 15 and 600."
BAD_PROPOSALS = {
    # case: (what is typed differently, the field that complains, what it says)
    "one time only": ({"times": [_slot(10)]}, "option_0", TIMES),
    "the same time twice": ({"times": [_slot(10), _slot(10)]}, "option_0", TIMES),
    "no times": ({"times": ["", ""]}, "option_0", TIMES),
    "a time in the past": (
        {"times": [_slot(-1, "10:00"), _slot(10)]},
        "option_0",
        "Please choose times in the future.",
    ),
    "a javascript: link": ({"video_link": "javascript:alert(1)"}, "video_link", LINK),
    "a JavaScript: link in capitals": (
        {"video_link": " JavaScript:alert(document.cookie)"},
        "video_link",
        LINK,
    ),
    "a data: link": (
        {"video_link": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="},
        "video_link",
        LINK,
    ),
    "a duration of 5 minutes": ({"duration": "5"}, "duration", DURATION),
    "a duration of 601 minutes": ({"duration": "601"}, "duration", DURATION),
    "a negative duration": ({"duration": "-90"}, "duration", DURATION),
    "an answer deadline in the past": (
        {"deadline": _slot(-1, "12:00")},
        "deadline",
        "Please choose times in the future.",
    ),
    # WTForms turns an unreadable number into "no value": the field asks to be filled in.
    "a duration that is not a number": ({"duration": "lots"}, "duration", "Please fill this in."),
}


@pytest.mark.parametrize("case", list(BAD_PROPOSALS), ids=list(BAD_PROPOSALS))
def test_a_bad_proposal_is_refused_with_a_message_and_keeps_what_was_typed(kring, as_, case):
    change, field, message = BAD_PROPOSALS[case]
    b = as_(kring.oma)
    data = _proposal(
        title="Spring check-in for Sam",
        times=change.get("times"),
        **{k: v for k, v in change.items() if k != "times"},
    )
    resp = _post(b, f"{_meetings(kring.circle)}/new", data)
    html = _html(resp)
    assert resp.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error and error.group(1).strip() == message
    assert len(re.findall(r'<p class="error"', html)) == 1
    assert 'value="Spring check-in for Sam"' in html  # what was typed is still there
    assert "Oma&#39;s house" in html
    assert _count(Meeting) == 0 and _count(MeetingOption) == 0 and _count(MeetingInvitee) == 0


def test_more_than_ten_times_are_refused(kring, as_):
    # The service refuses 11 outright ...
    options = [datetime.now(UTC).replace(microsecond=0) + timedelta(days=10 + i) for i in range(11)]
    with pytest.raises(ServiceError) as e:
        meet_svc.propose_meeting(
            kring.circle,
            kring.oma,
            meet_svc.MeetingData(
                title="Eleven",
                purpose="",
                place="",
                video_link="",
                duration_minutes=90,
                options=options,
            ),
        )
    assert "between 2 and 10" in str(e.value.message)
    _db.session.rollback()
    assert _count(Meeting) == 0
    # ... and a hand-made form with an eleventh time never gets more than ten stored.
    b = as_(kring.oma)
    resp = _post(
        b,
        f"{_meetings(kring.circle)}/new",
        _proposal(title="Eleven", times=[_slot(10 + i) for i in range(11)]),
    )
    assert resp.status_code == 302  # the form has ten slots; an eleventh field is ignored
    assert _count(MeetingOption) == 10


def test_the_plans_evaluation_date_is_suggested_as_the_first_time(kring, as_):
    plan_svc.set_evaluation_date(kring.circle, None, date(2027, 1, 15))
    _db.session.commit()
    html = _html(as_(kring.oma).get(f"{_meetings(kring.circle)}/new"))
    first = re.search(r'<input[^>]*name="option_0"[^>]*>', html).group(0)
    assert 'value="2027-01-15T19:00"' in first
    second = re.search(r'<input[^>]*name="option_1"[^>]*>', html).group(0)
    assert "value=" not in second or 'value=""' in second


# --- 2. Answering the poll -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["jan", "vos"])
def test_someone_not_invited_cannot_answer(kring, as_, who):
    m = _meeting(kring.circle, kring.oma)
    b = as_(getattr(kring, who))
    page = _html(b.get(_url(m)))
    assert "You are not invited to this meeting, so you cannot answer." in page
    assert 'name="answer-' not in page
    ids = _option_ids(m)
    resp = _post(b, f"{_url(m)}/answers", {f"answer-{i}": "yes" for i in ids})
    assert resp.status_code == 403
    assert _count(MeetingAnswer) == 0


def test_answers_can_be_changed_and_leave_one_row_per_person_and_option(kring, as_):
    m = _meeting(kring.circle, kring.oma)
    a, b, c = _option_ids(m)
    o = as_(kring.oma)
    resp = _post(
        o,
        f"{_url(m)}/answers",
        {f"answer-{a}": "yes", f"answer-{b}": "maybe"},
        follow_redirects=True,
    )
    assert "Thank you, your answers are saved." in _flash(_html(resp))
    _post(
        o, f"{_url(m)}/answers", {f"answer-{a}": "no", f"answer-{b}": "maybe", f"answer-{c}": "yes"}
    )
    _post(
        o, f"{_url(m)}/answers", {f"answer-{a}": "no", f"answer-{b}": "yes", f"answer-{c}": "yes"}
    )
    rows = _db.session.execute(
        select(MeetingAnswer.option_id, MeetingAnswer.answer).where(
            MeetingAnswer.membership_id == kring.oma.id
        )
    ).all()
    assert sorted(rows) == sorted([(a, "no"), (b, "yes"), (c, "yes")])
    assert _count(MeetingAnswer) == 3
    html = _html(o.get(_url(m)))
    assert re.search(rf'name="answer-{a}" value="no"\s+checked', html)
    assert re.search(rf'name="answer-{b}" value="yes"\s+checked', html)


def test_an_answer_that_is_not_yes_maybe_or_no_is_refused(kring, as_):
    m = _meeting(kring.circle, kring.oma)
    a, b, _c = _option_ids(m)
    o = as_(kring.oma)
    resp = _post(
        o,
        f"{_url(m)}/answers",
        {f"answer-{a}": "yes", f"answer-{b}": "<script>alert(1)</script>"},
        follow_redirects=True,
    )
    assert "Please answer yes, if need be, or no." in _flash(_html(resp))
    assert _count(MeetingAnswer) == 0


def test_answers_for_an_option_of_another_meeting_are_refused(kring, make_circle, add_member, as_):
    m1 = _meeting(kring.circle, kring.oma, title="First")
    m2 = _meeting(kring.circle, kring.piet, title="Second")
    other_circle, _ = make_circle("Another family")
    boss = add_member(other_circle, role="central", name="Boss")
    m3 = _meeting(other_circle, boss, title="Elsewhere")
    o = as_(kring.oma)
    foreign = _option_ids(m2) + _option_ids(m3)
    # Smuggling another meeting's options into this meeting's form stores nothing for them.
    _post(o, f"{_url(m1)}/answers", {f"answer-{i}": "yes" for i in foreign})
    assert _count(MeetingAnswer, MeetingAnswer.option_id.in_(foreign)) == 0
    # A meeting of another circle, reached through this circle's address: as if absent.
    resp = _post(
        o,
        f"{_meetings(kring.circle)}/{m3.id}/answers",
        {f"answer-{i}": "yes" for i in _option_ids(m3)},
    )
    assert resp.status_code == 404
    assert _post(o, f"{_url(m3)}/answers", {}).status_code == 404
    assert _count(MeetingAnswer) == 0
    # The service itself refuses an option that is not the meeting's.
    with pytest.raises(ServiceError):
        meet_svc.set_answers(m1, kring.oma, {_option_ids(m2)[0]: "yes"})
    _db.session.rollback()
    assert _count(MeetingAnswer) == 0


def test_after_the_deadline_answers_are_refused_with_a_message(kring, as_):
    m = _meeting(kring.circle, kring.oma, deadline=datetime.now(UTC) + timedelta(days=2))
    a, b, _c = _option_ids(m)
    o = as_(kring.oma)
    _post(o, f"{_url(m)}/answers", {f"answer-{a}": "yes"})
    assert _count(MeetingAnswer) == 1
    assert "Answer before" in _html(o.get(_url(m)))
    # Time passes: the deadline is now behind us.
    _db.session.execute(
        update(Meeting)
        .where(Meeting.id == m.id)
        .values(deadline=datetime.now(UTC) - timedelta(minutes=1))
    )
    _db.session.commit()
    resp = _post(
        o, f"{_url(m)}/answers", {f"answer-{a}": "no", f"answer-{b}": "yes"}, follow_redirects=True
    )
    assert "The time to answer has passed." in _flash(_html(resp))
    rows = _db.session.execute(select(MeetingAnswer.option_id, MeetingAnswer.answer)).all()
    assert rows == [(a, "yes")]


def test_tallies_best_option_and_who_has_not_answered(kring, as_):
    # Oma organises; invited: Sanne, Oma, Piet, Kees (defaults) and Jan (chosen).
    m = _meeting(kring.circle, kring.oma, invite=[kring.jan])
    a, b, c = _option_ids(m)
    answers = {
        kring.oma: {a: "yes", b: "yes", c: "maybe"},
        kring.sanne: {a: "yes", b: "yes", c: "maybe"},
        kring.piet: {a: "no", b: "maybe", c: "yes"},
        kring.kees: {a: "no", b: "no", c: "maybe"},
    }  # Jan does not answer.
    for person, mine in answers.items():
        resp = _post(
            as_(person), f"{_url(m)}/answers", {f"answer-{oid}": ans for oid, ans in mine.items()}
        )
        assert resp.status_code == 302
    # A: 2 yes, 0 maybe. B: 2 yes, 1 maybe -> best. C: 1 yes, 3 maybe.
    html = _html(as_(kring.oma).get(_url(m)))

    def option(oid):
        return re.search(rf'<li class="option[^"]*" id="o{oid}">(.*?)</li>', html, re.S).group(0)

    tally = {
        oid: re.sub(r"\s+", " ", re.search(r"data-tally>(.*?)</p>", option(oid), re.S).group(1))
        for oid in (a, b, c)
    }
    assert "Yes: 2</span> · <span>If need be: 0</span> · <span>No: 2" in tally[a]
    assert "Yes: 2</span> · <span>If need be: 1</span> · <span>No: 1" in tally[b]
    assert "Yes: 1</span> · <span>If need be: 3</span> · <span>No: 0" in tally[c]
    assert "Yes: Oma, Sanne" in tally[b] and "If need be: Piet" in tally[b]
    assert 'class="option best"' in option(b) and "Best so far" in option(b)
    assert "Best so far" not in option(a) and "Best so far" not in option(c)
    assert sum("Best so far" in option(x) for x in (a, b, c)) == 1
    # The organiser sees who has not answered and may choose a time.
    assert "Not answered yet: Jan" in html
    assert html.count("Choose this time") == 3
    # Someone invited who does not organise sees the tallies but neither of those.
    piet = _html(as_(kring.piet).get(_url(m)))
    assert "Best so far" in piet and 'name="answer-' in piet
    assert "Choose this time" not in piet and "Not answered yet" not in piet
    assert f'action="{_url(m)}/fix"' not in piet
    # A professional who is not invited sees no buttons either.
    assert "Choose this time" not in _html(as_(kring.vos).get(_url(m)))


# --- 3. Fixing the date ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["piet", "kees", "jan", "vos", "coord"])
def test_only_the_organiser_or_a_central_person_can_fix(kring, as_, who):
    m = _meeting(kring.circle, kring.oma)
    resp = _post(as_(getattr(kring, who)), f"{_url(m)}/fix", {"option": _option_ids(m)[1]})
    assert resp.status_code == 403
    _db.session.refresh(m)
    assert m.status == "poll" and m.starts_at is None and m.sequence == 0


def test_fixing_closes_the_poll_and_shows_the_meeting_to_every_invitee(
    kring, make_circle, add_member, as_
):
    # Sanne is also in a second circle's follow-up group.
    other, _ = make_circle("Circle around Lotte")
    sanne2 = add_member(other, name="Sanne", user=kring.sanne.user)
    sanne2.in_followup_group = True
    boss = add_member(other, role="central", name="Boss")
    _db.session.commit()
    m1 = _meeting(kring.circle, kring.oma, title="Sam's follow-up")
    m2 = _meeting(other, boss, title="Lotte's follow-up")
    a, b, _c = _option_ids(m1)
    # A fix naming another meeting's time is refused.
    resp = _post(
        as_(kring.oma), f"{_url(m1)}/fix", {"option": _option_ids(m2)[0]}, follow_redirects=True
    )
    assert "Please choose one of the times." in _flash(_html(resp))
    # The organiser fixes her meeting; a central person (not the organiser) fixes the other.
    resp = _post(as_(kring.oma), f"{_url(m1)}/fix", {"option": b}, follow_redirects=True)
    assert "The date is set. Everyone invited can see it." in _flash(_html(resp))
    assert _post(as_(boss), f"{_url(m2)}/fix", {"option": _option_ids(m2)[0]}).status_code == 302
    _db.session.refresh(m1)
    chosen = _db.session.get(MeetingOption, b).starts_at
    assert m1.status == "fixed" and m1.starts_at == chosen
    # The poll is closed: no more answers.
    resp = _post(
        as_(kring.piet), f"{_url(m1)}/answers", {f"answer-{a}": "yes"}, follow_redirects=True
    )
    html = _html(resp)
    assert "The date is already chosen." in _flash(html)
    assert 'name="answer-' not in html and "Choose this time" not in html
    assert _count(MeetingAnswer) == 0
    # The circle's meetings page shows the date to anyone in the circle.
    # <time datetime> is UTC to the second with a "Z" (valid HTML, see test_html_valid).
    iso = chosen.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    for person in (kring.jan, kring.vos):
        page = _html(as_(person).get(_meetings(kring.circle)))
        assert "Sam&#39;s follow-up" in page and f'datetime="{iso}"' in page
    # /me/meetings: every invitee; a person in two circles sees both; others nothing.
    for person in (kring.oma, kring.piet, kring.kees):
        mine = _html(as_(person).get("/me/meetings"))
        assert "Sam&#39;s follow-up" in mine and f'datetime="{iso}"' in mine
        assert "Lotte&#39;s follow-up" not in mine
    mine = _html(as_(kring.sanne).get("/me/meetings"))
    assert "Sam&#39;s follow-up" in mine and "Lotte&#39;s follow-up" in mine
    for person in (kring.jan, kring.vos):
        mine = _html(as_(person).get("/me/meetings"))
        assert "follow-up" not in mine and "No meetings coming up." in mine


# --- 4. Calendar files and time zones -----------------------------------------------------


def test_ics_keeps_its_uid_and_counts_every_change(kring, as_):
    m = _meeting(kring.circle, kring.oma, duration=75)
    url = _url(m)
    o = as_(kring.oma)
    assert o.get(f"{url}/meeting.ics").status_code == 404  # no date yet
    _post(o, f"{url}/fix", {"option": _option_ids(m)[0]})
    resp = o.get(f"{url}/meeting.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    ev = _event(resp.data)
    uid = str(ev["uid"])
    assert int(ev["sequence"]) == 1 and str(ev["status"]) == "CONFIRMED"
    assert ev.decoded("dtend") - ev.decoded("dtstart") == timedelta(minutes=75)
    # Reschedule: same UID, SEQUENCE 2, the new time.
    resp = _post(o, f"{url}/reschedule", {"starts_at": _slot(20, "14:30")}, follow_redirects=True)
    assert "The meeting has a new time." in _flash(_html(resp))
    ev = _event(o.get(f"{url}/meeting.ics").data)
    assert str(ev["uid"]) == uid and int(ev["sequence"]) == 2
    expected = meet_svc.local_to_utc(datetime.combine(_day(20), time(14, 30)), "Europe/Amsterdam")
    assert _start(ev) == expected
    assert ev.decoded("dtend") - ev.decoded("dtstart") == timedelta(minutes=75)
    # Moving into the past is refused and changes nothing.
    resp = _post(o, f"{url}/reschedule", {"starts_at": _slot(-2, "10:00")}, follow_redirects=True)
    assert "Please choose times in the future." in _flash(_html(resp))
    assert int(_event(o.get(f"{url}/meeting.ics").data)["sequence"]) == 2
    # Cancel: same UID, SEQUENCE 3, STATUS:CANCELLED.
    resp = _post(o, f"{url}/cancel", follow_redirects=True)
    assert "The meeting is cancelled." in _flash(_html(resp))
    ev = _event(o.get(f"{url}/meeting.ics").data)
    assert str(ev["uid"]) == uid and int(ev["sequence"]) == 3
    assert str(ev["status"]) == "CANCELLED"
    assert ev.decoded("dtend") - ev.decoded("dtstart") == timedelta(minutes=75)


def test_local_times_follow_the_persons_zone_across_the_start_of_summer_time(kring, as_):
    # The circle says New York; Oma's own zone is Amsterdam, and hers is what counts.
    kring.circle.timezone = "America/New_York"
    kring.oma.user.timezone = "Europe/Amsterdam"
    _db.session.commit()
    o = as_(kring.oma)
    assert "Times are in your time zone: Europe/Amsterdam." in _html(
        o.get(f"{_meetings(kring.circle)}/new")
    )
    resp = _post(
        o,
        f"{_meetings(kring.circle)}/new",
        _proposal(times=["2027-03-27T10:00", "2027-03-28T10:00"]),
    )
    assert resp.status_code == 302
    m = _db.session.scalar(select(Meeting))
    saturday, sunday = m.options
    assert saturday.starts_at == datetime(2027, 3, 27, 9, 0, tzinfo=UTC)  # CET, UTC+1
    assert sunday.starts_at == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)  # CEST, UTC+2
    _post(o, f"{_url(m)}/fix", {"option": sunday.id})
    ev = _event(o.get(f"{_url(m)}/meeting.ics").data)
    assert _start(ev) == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    assert ev.decoded("dtend").astimezone(UTC) == datetime(2027, 3, 28, 9, 30, tzinfo=UTC)
    # Moving it to 10:00 the day before is 09:00 UTC.
    _post(o, f"{_url(m)}/reschedule", {"starts_at": "2027-03-27T10:00"})
    ev = _event(o.get(f"{_url(m)}/meeting.ics").data)
    assert _start(ev) == datetime(2027, 3, 27, 9, 0, tzinfo=UTC)
    # Back to Sunday for the readers below.
    _post(o, f"{_url(m)}/reschedule", {"starts_at": "2027-03-28T10:00"})
    assert "28 March 2027, 10:00" in _html(o.get(_url(m)))
    # Sanne lives in New York (summer time there began on 14 March): 04:00 for her.
    kring.sanne.user.timezone = "America/New_York"
    _db.session.commit()
    html = _html(as_(kring.sanne).get(_url(m)))
    assert "28 March 2027, 04:00" in html and "28 March 2027, 10:00" not in html


def test_calendar_entries_show_the_circle_only_when_the_person_chose_so(kring, as_):
    m = _fixed(kring.circle, kring.oma, title="Private family matter")
    o = as_(kring.oma)
    raw = o.get(f"{_url(m)}/meeting.ics").data
    ev = _event(raw)
    assert str(ev["summary"]) == "Kring meeting"
    assert b"Circle around Sam" not in raw and b"Private family matter" not in raw
    assert str(ev["description"]).startswith("http://localhost/c/")
    # Oma makes a feed link without titles: still nothing.
    page = o.get("/account/calendar")
    made = o.post("/account/calendar", data={"action": "renew", "csrf_token": csrf_from(page)})
    feed = re.search(r"http://localhost(/calendar/[^<\s]+\.ics)", _html(made)).group(1)
    assert str(_event(o.get(feed).data)["summary"]) == "Kring meeting"
    # She turns "show titles" on: the circle's title appears in her feed. A download
    # "without details" stays neutral whatever the feed says: she chose it as she
    # downloaded (the "with the details" file is tests/test_calendar_details.py).
    page = o.get("/account/calendar")
    resp = o.post(
        "/account/calendar",
        data={"action": "save", "show_titles": "y", "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 200 and "Saved." in _html(resp)
    assert str(_event(o.get(feed).data)["summary"]) == "Kring meeting: Circle around Sam"
    raw = o.get(f"{_url(m)}/meeting.ics").data
    assert str(_event(raw)["summary"]) == "Kring meeting"
    assert b"Circle around Sam" not in raw and b"Private family matter" not in raw
    # Her choice is hers: Piet has no feed, and his file says only "Kring meeting".
    assert str(_event(as_(kring.piet).get(f"{_url(m)}/meeting.ics").data)["summary"]) == (
        "Kring meeting"
    )


# --- 5. The secret feed --------------------------------------------------------------------


def _make_feed(browser, action="renew", **extra) -> str:
    page = browser.get("/account/calendar")
    resp = browser.post(
        "/account/calendar", data={"action": action, "csrf_token": csrf_from(page), **extra}
    )
    assert resp.status_code == 200
    found = re.search(r"http://localhost/calendar/([^<\s]+)\.ics", _html(resp))
    return found.group(1) if found else None


def test_feed_tokens_are_long_hashed_renewable_and_revocable(kring, as_, new_client, db):
    m = _fixed(kring.circle, kring.oma)
    o = as_(kring.oma)
    token = _make_feed(o)
    # At least 128 bits of randomness in the URL.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    # Shown once: the settings page does not show it again.
    assert token not in _html(o.get("/account/calendar"))
    # Stored only as a hash: the raw token is nowhere in the calendar_feeds table.
    rows = db.session.execute(text("SELECT * FROM calendar_feeds")).all()
    assert rows and all(token not in str(value) for row in rows for value in row)
    anon = new_client()
    first = anon.get(f"/calendar/{token}.ics")
    assert first.status_code == 200 and first.mimetype == "text/calendar"
    assert len(_events(first.data)) == 1 and str(_events(first.data)[0]["uid"]).startswith(
        f"meeting-{m.uid}@"
    )
    # Renewing: the new link works, the old one is a 404 at once.
    renewed = _make_feed(o)
    assert renewed and renewed != token
    assert anon.get(f"/calendar/{token}.ics").status_code == 404
    assert anon.get(f"/calendar/{renewed}.ics").status_code == 200
    # Revoking: a 404, exactly like a token nobody ever had.
    assert _make_feed(o, action="revoke") is None
    revoked = anon.get(f"/calendar/{renewed}.ics")
    invented = anon.get("/calendar/" + "A" * len(token) + ".ics")
    assert revoked.status_code == invented.status_code == 404
    assert revoked.data == invented.data and revoked.mimetype == invented.mimetype
    assert _count(CalendarFeed, CalendarFeed.revoked_at.is_(None)) == 0


def test_feed_shows_all_my_circles_and_nothing_from_a_circle_i_left(
    kring, make_circle, add_member, as_, new_client
):
    # Oma is in the follow-up group of two circles, and a plain member of a third.
    lotte, _ = make_circle("Circle around Lotte")
    oma2 = add_member(lotte, name="Oma", user=kring.oma.user)
    oma2.in_followup_group = True
    boss = add_member(lotte, role="central", name="Boss")
    tim, _ = make_circle("Circle around Tim")
    add_member(tim, name="Oma", user=kring.oma.user)
    tom = add_member(tim, role="central", name="Tom")
    _db.session.commit()
    m1 = _fixed(kring.circle, kring.oma, days=(10, 11))
    m1b = _fixed(kring.circle, kring.sanne, days=(14, 15))  # she is invited as follow-up
    m2 = _fixed(lotte, boss, days=(12, 13))
    m3 = _fixed(tim, tom, days=(16, 17))  # not invited there
    o = as_(kring.oma)
    token = _make_feed(o)
    anon = new_client()

    def uids(tok):
        return {
            str(ev["uid"]).split("@")[0] for ev in _events(anon.get(f"/calendar/{tok}.ics").data)
        }

    assert uids(token) == {f"meeting-{x.uid}" for x in (m1, m1b, m2)}
    assert f"meeting-{m3.uid}" not in uids(token)
    # Jan's feed is empty: he is invited to nothing.
    assert uids(_make_feed(as_(kring.jan))) == set()
    # Oma leaves Lotte's circle: that meeting disappears from her feed and her list.
    page = o.get(f"/c/{lotte.id}/leave")
    resp = o.post(f"/c/{lotte.id}/leave", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert uids(token) == {f"meeting-{x.uid}" for x in (m1, m1b)}
    assert "Circle around Lotte" not in _html(o.get("/me/meetings"))


def test_a_burst_on_the_feed_url_gets_429(app, kring, as_, new_client):
    _fixed(kring.circle, kring.oma)
    token = _make_feed(as_(kring.oma))
    limit = int(app.config["TOKEN_RATE_LIMIT"].split()[0])
    anon = new_client()
    for i in range(limit):
        assert anon.get(f"/calendar/guess{i:040d}.ics").status_code == 404
    assert anon.get("/calendar/guess-one-more.ics").status_code == 429
    # The 429 gives nothing away, even for the real token.
    resp = anon.get(f"/calendar/{token}.ics")
    assert resp.status_code == 429 and b"VEVENT" not in resp.data


# --- 6. Changes in the feed, and pushed live -----------------------------------------------


def _meeting_events(sock) -> list[dict]:
    return [
        e["args"][0]
        for e in sock.get_received()
        if e["name"] == "plan:event" and e["args"][0].get("type") == "meeting"
    ]


def test_reschedule_and_cancel_reach_the_feed_and_are_pushed_live(
    kring, make_circle, add_member, as_, new_client, socket_client
):
    other, _ = make_circle("Circle around Lotte")
    zoe = add_member(other, name="Zoe")
    m = _meeting(kring.circle, kring.oma)
    jan_sock = socket_client(kring.jan.user)  # not invited, but in the circle
    zoe_sock = socket_client(zoe.user)
    assert jan_sock.emit("plan:join", {"circle_id": kring.circle.id})["ok"]
    assert zoe_sock.emit("plan:join", {"circle_id": other.id})["ok"]
    assert not (zoe_sock.emit("plan:join", {"circle_id": kring.circle.id}) or {}).get("ok")
    jan_sock.get_received(), zoe_sock.get_received()
    o = as_(kring.oma)
    token = _make_feed(o)
    anon = new_client()

    _post(o, f"{_url(m)}/fix", {"option": _option_ids(m)[0]})
    got = _meeting_events(jan_sock)
    assert [(e["op"], e["id"]) for e in got] == [("fixed", m.id)]
    assert "title" not in got[0]  # a notice without content
    ev = _event(anon.get(f"/calendar/{token}.ics").data)
    assert int(ev["sequence"]) == 1 and str(ev["status"]) == "CONFIRMED"

    _post(o, f"{_url(m)}/reschedule", {"starts_at": _slot(30, "11:15")})
    assert [e["op"] for e in _meeting_events(jan_sock)] == ["rescheduled"]
    ev = _event(anon.get(f"/calendar/{token}.ics").data)
    assert int(ev["sequence"]) == 2
    assert _start(ev) == meet_svc.local_to_utc(
        datetime.combine(_day(30), time(11, 15)), "Europe/Amsterdam"
    )

    _post(o, f"{_url(m)}/cancel")
    assert [e["op"] for e in _meeting_events(jan_sock)] == ["cancelled"]
    ev = _event(anon.get(f"/calendar/{token}.ics").data)
    assert int(ev["sequence"]) == 3 and str(ev["status"]) == "CANCELLED"
    assert "Cancelled" in _html(o.get("/me/meetings"))
    # The other circle heard nothing at all.
    assert zoe_sock.get_received() == []


# --- 7. The agenda -------------------------------------------------------------------------


def _commitment(circle, what, who, *, kind="once", start=None, end=None, weekdays=()):
    return plan_data.add_commitment(
        circle,
        None,
        plan_svc.CommitmentData(
            what=what,
            assignee_ids=[who.id],
            schedule=Schedule(
                kind=kind, start=start or _day(30), end=end, weekdays=frozenset(weekdays)
            ),
        ),
    )


def _agreed_plan(k):
    """A plan with four commitments, agreed (version 1)."""
    c = SimpleNamespace()
    c.daily = _commitment(
        k.circle, "Walk the dog", k.oma, kind="weekly", start=_day(-60), weekdays=range(7)
    )
    c.late = _commitment(k.circle, "Fix the bike", k.piet, start=_day(-5))
    c.done = _commitment(k.circle, "Buy school books", k.sanne, start=_day(30))
    c.help = _commitment(k.circle, "Talk to the teacher", k.oma, start=_day(30))
    plan_svc.record_agreement(k.circle, k.coord, [k.sanne.id, k.oma.id])
    _db.session.commit()
    return c


def _propose(k, who, kind, payload, target_id=None):
    p = plan_svc.propose(k.circle, who, kind, payload=payload, target_id=target_id)
    _db.session.commit()
    assert p.status == ProposalStatus.OPEN
    return p


def _new_commitment_payload(what, who):
    return plan_svc.CommitmentData(
        what=what, assignee_ids=[who.id], schedule=Schedule(kind="once", start=_day(40))
    ).to_payload()


def test_agenda_lists_health_ticks_since_last_meeting_help_and_open_proposals(kring, as_):
    c = _agreed_plan(kring)
    # An earlier meeting, held and reviewed ten days ago.
    earlier = _held(_fixed(kring.circle, kring.sanne, title="Last time"))
    meet_svc.record_review(
        kring.circle,
        earlier,
        kring.sanne,
        present_ids=[kring.sanne.id],
        verdicts={},
        decisions={},
        next_evaluation=None,
    )
    _db.session.commit()
    reviewed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    _db.session.execute(update(MeetingReview).values(recorded_at=reviewed_at))
    _db.session.execute(
        update(Meeting)
        .where(Meeting.id == earlier.id)
        .values(starts_at=reviewed_at - timedelta(hours=2))
    )
    # Ticks on the daily walk: two before that review, three after, one after but undone.
    for n, offset in enumerate([-5, -1, 1, 2, 3, 4]):
        _db.session.add(
            Completion(
                commitment_id=c.daily.id,
                occurrence=_day(-30 + n).isoformat(),
                by_id=kring.oma.id,
                at=reviewed_at + timedelta(days=offset),
                undone_at=reviewed_at + timedelta(days=offset, minutes=1) if offset == 4 else None,
            )
        )
    _db.session.add(
        Completion(
            commitment_id=c.done.id,
            occurrence="once",
            by_id=kring.sanne.id,
            at=reviewed_at + timedelta(days=2),
        )
    )
    _db.session.commit()
    plan_svc.request_help(kring.circle, kring.oma, c.help)
    _db.session.commit()
    waiting = _propose(
        kring, kring.oma, "add_commitment", _new_commitment_payload("Call the school", kring.oma)
    )
    _propose(kring, kring.piet, "add_agreement", {"text": "If it rains, we stay in."})

    m = _fixed(kring.circle, kring.sanne, title="This time")
    for person in (kring.sanne, kring.jan, kring.vos):  # everyone reads the agenda
        html = _html(as_(person).get(_url(m)))
        agenda = html.split('id="agenda"', 1)[1]
        items = {}
        for art in agenda.split('<article class="agenda-item">')[1:]:
            flat = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", art)).strip()
            what = re.search(r"<strong>(.*?)</strong>", art).group(1)
            items[what] = flat
        assert "Done 3 times since the last meeting" in items["Walk the dog"]
        assert "Overdue" in items["Fix the bike"]
        assert "Done 0 times since the last meeting" in items["Fix the bike"]
        assert "Done" in items["Buy school books"]
        assert "Done 1 time since the last meeting" in items["Buy school books"]
        assert "Needs help" in items["Talk to the teacher"]
        assert "Someone asked for help" in items["Talk to the teacher"]
        assert "Someone asked for help" not in items["Walk the dog"]
        assert "Proposals waiting for this meeting" in agenda
        assert any("Call the school" in v for v in items.values())
        assert any("If it rains, we stay in." in v for v in items.values())
        # Before the meeting has begun nobody sees the review form yet.
        assert "decide-" not in agenda and "Save how the meeting went" not in agenda
    # Once it has begun, only those who may record see it.
    _db.session.execute(
        update(Meeting).where(Meeting.id == m.id).values(starts_at=utcnow() - timedelta(hours=1))
    )
    _db.session.commit()
    for person in (kring.sanne, kring.jan, kring.vos):
        agenda = _html(as_(person).get(_url(m))).split('id="agenda"', 1)[1]
        if person is kring.sanne:
            assert f'name="decide-{waiting.id}"' in agenda and "Save how the meeting went" in agenda
        else:
            assert "decide-" not in agenda and "Save how the meeting went" not in agenda


# --- 8. The review -------------------------------------------------------------------------


def _review_data(k, c, accept=None, reject=None, **extra):
    data = {
        "present": [str(x.id) for x in (k.sanne, k.oma, k.vos, k.coord)],
        f"verdict-{c.daily.id}": "working",
        f"note-{c.daily.id}": "Goes well every day",
        f"verdict-{c.late.id}": "not_working",
        f"note-{c.late.id}": "The shop is too far",
        f"verdict-{c.done.id}": "partly",
        "next_evaluation": "2027-06-01",
        "notes": "Good meeting",
    }
    if accept:
        data[f"decide-{accept.id}"] = "accept"
    if reject:
        data[f"decide-{reject.id}"] = "reject"
    data.update(extra)
    return data


@pytest.mark.parametrize("who", ["oma", "jan", "vos", "coord"])
def test_only_organiser_central_person_or_plan_keeper_may_record_the_review(kring, as_, who):
    c = _agreed_plan(kring)
    p = _propose(
        kring, kring.oma, "add_commitment", _new_commitment_payload("Call the school", kring.oma)
    )
    m = _held(_fixed(kring.circle, kring.piet))  # Piet organises; Oma is only in the group
    resp = _post(as_(getattr(kring, who)), f"{_url(m)}/review", _review_data(kring, c, accept=p))
    assert resp.status_code == 403
    assert _count(MeetingReview) == 0 and _count(CommitmentReview) == 0
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert _count(PlanVersion) == 1 and plan_svc.get_plan(kring.circle).evaluation_date is None


@pytest.mark.parametrize("who", ["piet", "sanne", "kees"])
def test_organiser_central_person_and_plan_keeper_may_record_the_review(kring, as_, who):
    c = _agreed_plan(kring)
    m = _held(_fixed(kring.circle, kring.piet))
    resp = _post(
        as_(getattr(kring, who)), f"{_url(m)}/review", _review_data(kring, c), follow_redirects=True
    )
    assert "Saved how the meeting went. Thank you." in _flash(_html(resp))
    review = _db.session.scalar(select(MeetingReview))
    assert review.recorded_by_id == getattr(kring, who).id


def test_review_records_verdicts_decides_proposals_and_sets_the_next_evaluation(kring, as_):
    c = _agreed_plan(kring)
    accept = _propose(
        kring, kring.oma, "add_commitment", _new_commitment_payload("Call the school", kring.oma)
    )
    reject = _propose(kring, kring.piet, "add_agreement", {"text": "If it rains, we stay in."})
    undecided = _propose(kring, kring.jan, "add_agreement", {"text": "Pizza on Fridays."})
    m = _held(_fixed(kring.circle, kring.piet))
    # A meeting still choosing its date cannot be reviewed.
    poll = _meeting(kring.circle, kring.piet, title="Not yet")
    resp = _post(
        as_(kring.piet), f"{_url(poll)}/review", _review_data(kring, c), follow_redirects=True
    )
    needs_date = "The meeting needs a date first. Then you can write down how it went."
    assert needs_date in _flash(_html(resp))
    # Nobody ticked as present: refused.
    resp = _post(
        as_(kring.piet),
        f"{_url(m)}/review",
        {k: v for k, v in _review_data(kring, c, accept=accept).items() if k != "present"},
        follow_redirects=True,
    )
    assert "Please tick who was there." in _flash(_html(resp))
    assert _count(MeetingReview) == 0 and _count(PlanVersion) == 1

    resp = _post(
        as_(kring.piet),
        f"{_url(m)}/review",
        _review_data(kring, c, accept=accept, reject=reject),
        follow_redirects=True,
    )
    assert "Saved how the meeting went. Thank you." in _flash(_html(resp))
    review = _db.session.scalar(select(MeetingReview))
    assert review.present == ["Coordinator", "Dr Vos", "Oma", "Sanne"]
    assert review.next_evaluation == date(2027, 6, 1)
    verdicts = {i.what: (i.verdict, i.note) for i in review.items}
    assert verdicts == {
        "Walk the dog": ("working", "Goes well every day"),
        "Fix the bike": ("not_working", "The shop is too far"),
        "Buy school books": ("partly", ""),
    }
    # Accepted: a new plan version, decided at the meeting by the voters present.
    versions = _db.session.scalars(select(PlanVersion).order_by(PlanVersion.number)).all()
    assert [v.number for v in versions] == [1, 2]
    assert versions[1].reason == "meeting" and versions[1].agreed_by == ["Oma", "Sanne"]
    assert versions[1].proposal_id == accept.id
    assert "Call the school" in [x["what"] for x in versions[1].snapshot["commitments"]]
    assert _db.session.get(Proposal, accept.id).status == ProposalStatus.APPLIED
    # Rejected: withdrawn, and not in the plan. Not decided: still open.
    assert _db.session.get(Proposal, reject.id).status == ProposalStatus.WITHDRAWN
    assert "If it rains" not in str(versions[1].snapshot["agreements"])
    assert _db.session.get(Proposal, undecided.id).status == ProposalStatus.OPEN
    # The next evaluation date is on the plan, and suggested for the next meeting.
    assert _db.session.scalar(select(Plan.evaluation_date)) == date(2027, 6, 1)
    new_form = _html(as_(kring.piet).get(f"{_meetings(kring.circle)}/new"))
    assert 'value="2027-06-01T19:00"' in new_form
    # The versions page says who decided it, for everyone (professionals included).
    for person in (kring.jan, kring.vos):
        html = _html(as_(person).get(f"/c/{kring.circle.id}/plan/versions"))
        assert re.search(r"Decided at the meeting of \d+ \w+ \d{4} by: Oma, Sanne", html), html
    # Past reviews are readable by every member on the meetings page.
    for person in (kring.jan, kring.vos, kring.kees):
        html = re.sub(r"\s+", " ", _html(as_(person).get(_meetings(kring.circle))))
        assert "What earlier meetings said about the plan" in html
        assert "Present: Coordinator, Dr Vos, Oma, Sanne" in html
        # A note is quoted by the catalogue's quotes (French: « … »).
        assert "<strong>Working</strong>: Walk the dog — “Goes well every day”" in html
        assert "<strong>Not working</strong>: Fix the bike — “The shop is too far”" in html
        assert "<strong>Partly working</strong>: Buy school books" in html
        assert "Good meeting" in html
    # Recording it again changes nothing.
    resp = _post(
        as_(kring.sanne),
        f"{_url(m)}/review",
        _review_data(kring, c, accept=undecided),
        follow_redirects=True,
    )
    assert "How this meeting went is already saved." in _flash(_html(resp))
    assert _count(MeetingReview) == 1 and _count(PlanVersion) == 2
    assert _db.session.get(Proposal, undecided.id).status == ProposalStatus.OPEN


def test_a_review_cannot_decide_another_circles_proposal(kring, make_circle, add_member, as_):
    c = _agreed_plan(kring)
    other, ocoord = make_circle("Circle around Lotte")
    boss = add_member(other, role="central", name="Boss")
    mia = add_member(other, name="Mia")
    _commitment(other, "Lotte's thing", mia)
    plan_svc.record_agreement(other, ocoord, [boss.id, mia.id])
    foreign = plan_svc.propose(other, mia, "add_agreement", payload={"text": "Foreign rule"})
    _db.session.commit()
    m = _held(_fixed(kring.circle, kring.piet))
    data = _review_data(kring, c)
    data["present"] = [*data["present"], str(boss.id)]
    resp = _post(as_(kring.piet), f"{_url(m)}/review", {**data, f"decide-{foreign.id}": "accept"})
    assert resp.status_code == 302
    assert _db.session.get(Proposal, foreign.id).status == ProposalStatus.OPEN
    assert _count(PlanVersion, PlanVersion.circle_id == other.id) == 1
    # Someone of the other circle ticked as present is not recorded either.
    assert _db.session.scalar(select(MeetingReview)).present == [
        "Coordinator",
        "Dr Vos",
        "Oma",
        "Sanne",
    ]


# --- 9. Consent at a meeting (issue 10, holes 13 and 14) ---------------------------------


def _plan_answer(k, who, proposal, consent=True, reason=""):
    plan_svc.answer(k.circle, who, _db.session.get(Proposal, proposal.id), consent, reason)
    _db.session.commit()


def _versions_of(circle) -> list[PlanVersion]:
    return _db.session.scalars(
        select(PlanVersion).where(PlanVersion.circle_id == circle.id).order_by(PlanVersion.number)
    ).all()


def test_a_one_person_review_cannot_override_the_family(kring, as_):
    """Hole 13, as reported: the plan keeper (Kees) makes a meeting six months ahead,
    fixes it and records its review at once with only himself present; his proposal,
    which the central person objected to, used to enter the plan "decided at the
    meeting"."""
    c = _agreed_plan(kring)
    kees = as_(kring.kees)
    p = _propose(
        kring, kring.kees, "add_commitment", _new_commitment_payload("Kees decides", kring.kees)
    )
    _plan_answer(kring, kring.sanne, p, consent=False, reason="Not without talking first")

    resp = _post(kees, f"{_meetings(kring.circle)}/new", _proposal(times=[_slot(180), _slot(181)]))
    assert resp.status_code == 302
    m = _db.session.scalar(select(Meeting).order_by(Meeting.id.desc()))
    assert _post(kees, f"{_url(m)}/fix", {"option": _option_ids(m)[0]}).status_code == 302
    alone = _review_data(kring, c, accept=p, present=[str(kring.kees.id)])

    # The meeting has not taken place: no review at all.
    resp = _post(kees, f"{_url(m)}/review", alone, follow_redirects=True)
    assert "The meeting has not started yet. Afterwards you can write down how it went." in _flash(
        _html(resp)
    )
    assert _count(MeetingReview) == 0
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert [v.number for v in _versions_of(kring.circle)] == [1]

    # Once it has started: still not over Sanne's objection while she is not there.
    _held(m)
    resp = _post(kees, f"{_url(m)}/review", alone, follow_redirects=True)
    assert (
        "Sanne objected and was not there. This change can only be decided with them, "
        "or withdrawn." in _flash(_html(resp))
    )
    assert _count(MeetingReview) == 0
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert [v.number for v in _versions_of(kring.circle)] == [1]
    assert "Kees decides" not in [x.what for x in plan_svc.commitments(kring.circle)]

    # With Sanne there but her "no" standing, whoever writes the meeting down cannot
    # turn it into a "yes" (review A, hole 6): she takes it back herself.
    together = _review_data(
        kring, c, accept=p, present=[str(x.id) for x in (kring.kees, kring.sanne, kring.vos)]
    )
    resp = _post(kees, f"{_url(m)}/review", together, follow_redirects=True)
    assert (
        "Sanne objected. The change can be decided once they take their objection back "
        "themselves." in _flash(_html(resp))
    )
    assert _count(MeetingReview) == 0
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN

    # After talking it through she agrees; the meeting decides, and the version names
    # everyone there who has a say (by membership id; names are shown as they are now).
    _plan_answer(kring, kring.sanne, p, consent=True)
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN  # Oma, Jan: no answer
    resp = _post(kees, f"{_url(m)}/review", together, follow_redirects=True)
    assert "Saved how the meeting went. Thank you." in _flash(_html(resp))
    v2 = _versions_of(kring.circle)[1]
    assert v2.reason == "meeting" and v2.proposal_id == p.id
    assert v2.agreed_by_ids == [kring.kees.id, kring.sanne.id]  # Dr Vos does not vote
    assert v2.gone_objector_ids == []
    kring.sanne.display_name = "Sanne de Vries"
    _db.session.commit()
    html = _html(as_(kring.jan).get(f"/c/{kring.circle.id}/plan/versions"))
    assert re.search(r"Decided at the meeting of \d+ \w+ \d{4} by: Kees, Sanne de Vries", html)


def test_a_review_decides_only_with_someone_there_who_has_a_say(kring, as_):
    c = _agreed_plan(kring)
    p = _propose(kring, kring.oma, "add_agreement", {"text": "Pizza on Fridays."})
    m = _held(_fixed(kring.circle, kring.sanne))
    data = _review_data(kring, c, accept=p, present=[str(kring.vos.id), str(kring.coord.id)])
    resp = _post(as_(kring.sanne), f"{_url(m)}/review", data, follow_redirects=True)
    assert "A change can only be decided with someone there who has a say in the plan." in _flash(
        _html(resp)
    )
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert _count(MeetingReview) == 0


@pytest.mark.parametrize("how", ["removed", "left"])
def test_an_objection_stays_when_the_objector_goes(kring, as_, how):
    """Hole 14, as reported: a central person removes the member who objected, and the
    change used to be applied as "consent". The objection stays; the change waits for
    the next meeting (or is withdrawn), and the history says why."""
    c = _agreed_plan(kring)
    p = _propose(
        kring, kring.oma, "add_commitment", _new_commitment_payload("Call the school", kring.oma)
    )
    for who in (kring.sanne, kring.kees, kring.jan):
        _plan_answer(kring, who, p)
    _plan_answer(kring, kring.piet, p, consent=False, reason="The school is closed")

    if how == "removed":
        url = f"/c/{kring.circle.id}/members/{kring.piet.id}/remove"
        assert _post(as_(kring.sanne), url).status_code == 302
    else:
        assert _post(as_(kring.piet), f"/c/{kring.circle.id}/leave").status_code == 302
    assert not _db.session.get(type(kring.piet), kring.piet.id).is_active
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert [v.number for v in _versions_of(kring.circle)] == [1]
    # Answering again changes nothing either: everyone left has agreed, Piet's "no" stands.
    _plan_answer(kring, kring.jan, p)
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN

    plan_html = re.sub(r"\s+", " ", _html(as_(kring.oma).get(f"/c/{kring.circle.id}/plan")))
    assert "Waiting: Piet objected before leaving the circle." in plan_html
    assert "The school is closed" in plan_html

    # The next meeting: the review form says it plainly, and the people there decide.
    m = _held(_fixed(kring.circle, kring.sanne))
    form = re.sub(r"\s+", " ", _html(as_(kring.sanne).get(_url(m))))
    assert (
        "Waiting: Piet objected before leaving the circle: “The school is closed”. "
        "The people here can decide it." in form
    )
    data = _review_data(kring, c, accept=p)  # Sanne, Oma, Dr Vos and the coordinator
    resp = _post(as_(kring.sanne), f"{_url(m)}/review", data, follow_redirects=True)
    assert "Saved how the meeting went. Thank you." in _flash(_html(resp))
    v2 = _versions_of(kring.circle)[1]
    assert v2.reason == "meeting" and v2.proposal_id == p.id
    assert v2.agreed_by_ids == [kring.oma.id, kring.sanne.id]
    assert v2.gone_objector_ids == [kring.piet.id]
    html = re.sub(r"\s+", " ", _html(as_(kring.jan).get(f"/c/{kring.circle.id}/plan/versions")))
    assert re.search(
        r"Decided at the meeting of \d+ \w+ \d{4} by: Oma, Sanne Piet had objected before "
        r"leaving the circle\.",
        html,
    ), html
