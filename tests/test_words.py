"""Words (issue 14): French typography comes from the catalogue, plain words instead of
jargon, and the poll says who answered No.

French puts a non-breaking space before a colon and quotes with « »; it can only do so
when the colon and the quotes are inside the translatable string. The checks here do not
depend on the translator's work: the English msgids must hold the colon, no template may
glue one on, and with a stand-in French catalogue (the real one plus the new msgids)
the pages and the calendar file come out with French typography.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, time, timedelta

import flask_babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations
from flask_babel import get_locale
from icalendar import Calendar
from sqlalchemy import update

from portal.extensions import db as _db
from portal.models import Meeting
from portal.models.types import utcnow
from portal.services import meetings as meet_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import ROOT
from tests.test_i18n import _extract

NBSP = "\u00a0"

# The msgids that carry their colon (or quotes) with them, as the code now asks for them.
WHOLE = {
    "Yes: %(names)s",
    "If need be: %(names)s",
    "No: %(names)s",
    "%(label)s: %(n)d",  # the health counts
    "%(label)s: %(text)s",  # verdict lines, export lines, email counts, the printout
    "Proposed by %(name)s: %(reason)s",
    "“%(text)s”",  # the quoted notes and objections
    "Kring meeting: %(title)s",  # the calendar summary
    "Video call: %(link)s",
    "See it in Kring: %(link)s",
}
# What a stand-in French catalogue says for the msgids the translator has not done yet.
FRENCH = {
    "Yes: %(names)s": f"Oui{NBSP}: %(names)s",
    "If need be: %(names)s": f"Si besoin{NBSP}: %(names)s",
    "No: %(names)s": f"Non{NBSP}: %(names)s",
    "Video call: %(link)s": f"Appel vidéo{NBSP}: %(link)s",
    "See it in Kring: %(link)s": f"Dans Kring{NBSP}: %(link)s",
    "The next follow-up meeting": "La prochaine rencontre de suivi",
}


@pytest.fixture(autouse=True)
def _many_logins(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


@pytest.fixture(scope="module")
def in_code(tmp_path_factory) -> set[str]:
    return _extract(tmp_path_factory.mktemp("pot"))


def test_english_msgids_hold_their_colons_and_quotes(in_code):
    missing = WHOLE - in_code
    assert not missing, f"these strings are no longer asked for whole: {sorted(missing)}"
    # The old halves, which left French with a bare colon outside the string, are gone.
    assert not {"Yes:", "If need be:"} & in_code


TEMPLATES = ROOT / "templates"
# A colon or a quote written in the template next to a value: "{{ x }}: ",
# "{% if x %}: {{ x }}", "“{{ x }}”", or a label "Yes:" with the names after it.
GLUED = re.compile(r"[}%]\}(?:</\w+>)?:\s|“\{\{|\}\}”|\{\{ _\(\"[^\"]*:\"\) \}\}\s*\{\{ (?!_)")


def test_no_template_glues_a_colon_or_quotes_onto_a_value():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if GLUED.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not found, "\n".join(found)


def test_review_is_not_a_word_people_see(in_code):
    """ "Review" is jargon: the pages say "how the meeting went", "look at the plan"."""
    jargon = sorted(s for s in in_code if re.search(r"\breview", s, re.I))
    assert not jargon, jargon


# --- The poll names who said No ----------------------------------------------------------


def _poll(circle, organiser, invite, days=(10, 11)):
    options = [
        meet_svc.local_to_utc(
            datetime.combine(date.today() + timedelta(days=d), time(19, 0)), circle.timezone
        )
        for d in days
    ]
    m = meet_svc.propose_meeting(
        circle,
        organiser,
        meet_svc.MeetingData(
            title="When shall we meet?",
            purpose="",
            place="",
            video_link="",
            duration_minutes=60,
            options=options,
            invitee_ids=[x.id for x in invite],
        ),
    )
    _db.session.commit()
    return m


def _option(html: str, option_id: int) -> str:
    return re.sub(r"\s+", " ", html.split(f'id="o{option_id}"', 1)[1].split("</li>", 1)[0])


def test_the_poll_names_who_answered_no(db, make_circle, add_member, new_client, login):
    circle, _ = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    jan = add_member(circle, name="Jan")
    piet = add_member(circle, name="Piet")
    m = _poll(circle, sanne, invite=[jan, piet])
    first, second = m.options
    meet_svc.set_answers(m, sanne, {first.id: "yes", second.id: "no"})
    meet_svc.set_answers(m, jan, {first.id: "no", second.id: "maybe"})
    meet_svc.set_answers(m, piet, {first.id: "no", second.id: "no"})
    _db.session.commit()
    for viewer in (sanne, jan):  # the organiser and an invited member alike
        html = login(new_client(), viewer.user).get(f"/c/{circle.id}/meetings/{m.id}")
        page = html.get_data(as_text=True)
        one, two = _option(page, first.id), _option(page, second.id)
        assert "Yes: 1 · If need be: 0 · No: 2" in re.sub(r"</?span>", "", one)
        assert "<br>Yes: Sanne" in one and "<br>No: Jan, Piet" in one
        assert "If need be: Jan" not in one
        assert "<br>If need be: Jan" in two and "<br>No: Piet, Sanne" in two
        assert "<br>Yes:" not in two


# --- French typography, from a catalogue -------------------------------------------------


@pytest.fixture
def french(monkeypatch):
    """The real French catalogue, plus the strings this change added (as the translator
    will write them), so the test does not wait for the .po files."""
    catalog = Catalog(locale="fr")
    for msgid, msgstr in FRENCH.items():
        catalog.add(msgid, msgstr, flags=("python-format",))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    extra = Translations(buf)
    real = flask_babel.Domain.get_translations

    def get_translations(self):
        found = real(self)
        if str(get_locale()) != "fr":
            return found
        merged = Translations()
        merged.merge(found)
        merged.merge(extra)
        return merged

    monkeypatch.setattr(flask_babel.Domain, "get_translations", get_translations)


def test_french_pages_put_their_spaces_and_quotes_where_french_wants_them(
    french, db, make_circle, add_member, new_client, login
):
    circle, coordinator = make_circle("Cercle autour de Sam")
    mamie = add_member(circle, role="central", name="Mamie")
    jan = add_member(circle, name="Jan")
    mamie.user.locale = "fr"
    c = plan_data.add_commitment(
        circle,
        coordinator,
        plan_svc.CommitmentData(
            what="Apporter la soupe",
            assignee_ids=[mamie.id],
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=3)),
        ),
    )
    _db.session.commit()
    browser = login(new_client(), mamie.user)

    # The poll: "Non : Jan", with a no-break space before the colon.
    poll = _poll(circle, mamie, invite=[jan])
    meet_svc.set_answers(poll, jan, {poll.options[0].id: "no"})
    meet_svc.set_answers(poll, mamie, {poll.options[0].id: "yes"})
    _db.session.commit()
    page = browser.get(f"/c/{circle.id}/meetings/{poll.id}").get_data(as_text=True)
    assert f"<br>Non{NBSP}: Jan" in page and f"<br>Oui{NBSP}: Mamie" in page

    # How a meeting went: the verdict line and the note in « ».
    held = _poll(circle, mamie, invite=[], days=(5, 6))
    meet_svc.fix_date(held, mamie, held.options[0].id)
    _db.session.execute(
        update(Meeting).where(Meeting.id == held.id).values(starts_at=utcnow() - timedelta(hours=1))
    )
    _db.session.commit()
    meet_svc.record_review(
        circle,
        db.session.get(Meeting, held.id),
        mamie,
        present_ids=[mamie.id],
        verdicts={c.id: ("working", "<b>chaude</b> & bonne")},
        decisions={},
        next_evaluation=None,
    )
    _db.session.commit()
    page = browser.get(f"/c/{circle.id}/meetings").get_data(as_text=True)
    assert f"<strong>Ça marche</strong>{NBSP}: Apporter la soupe" in page
    assert f"«{NBSP}&lt;b&gt;chaude&lt;/b&gt; &amp; bonne{NBSP}»" in page

    # The printout: "Rencontre : <date>" for the next meeting.
    nxt = _poll(circle, mamie, invite=[], days=(8, 9))
    meet_svc.fix_date(nxt, mamie, nxt.options[0].id)
    _db.session.commit()
    page = browser.get(f"/c/{circle.id}/plan/print").get_data(as_text=True)
    section = page.split("La prochaine rencontre de suivi", 1)[1]
    assert f"</strong>{NBSP}: <time" in section

    # The calendar file with the details: "Appel vidéo : ..." and "Dans Kring : ...".
    nxt.video_link = "https://video.example.org/sam"
    _db.session.commit()
    raw = browser.get(f"/c/{circle.id}/meetings/{nxt.id}/meeting-details.ics").data
    description = str(next(iter(Calendar.from_ical(raw).walk("VEVENT")))["description"])
    assert f"Appel vidéo{NBSP}: https://video.example.org/sam" in description
    assert f"Dans Kring{NBSP}: http://localhost/c/{circle.id}/meetings/{nxt.id}" in description


def test_the_meeting_page_says_what_it_is_about_in_plain_words(
    db, make_circle, add_member, new_client, login
):
    """No "agenda", no "review": what we talk about, then what the meeting said."""
    circle, _ = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    m = _poll(circle, sanne, invite=[], days=(4, 5))
    meet_svc.fix_date(m, sanne, m.options[0].id)
    _db.session.commit()
    browser = login(new_client(), sanne.user)
    url = f"/c/{circle.id}/meetings/{m.id}"
    before = browser.get(url).get_data(as_text=True)
    assert "<h2>What we talk about: the plan, one part at a time</h2>" in before
    _db.session.execute(
        update(Meeting).where(Meeting.id == m.id).values(starts_at=utcnow() - timedelta(hours=1))
    )
    _db.session.commit()
    meet_svc.record_review(
        circle,
        db.session.get(Meeting, m.id),
        sanne,
        present_ids=[sanne.id],
        verdicts={},
        decisions={},
        next_evaluation=None,
    )
    _db.session.commit()
    after = browser.get(url).get_data(as_text=True)
    assert "<h2>What this meeting said about the plan</h2>" in after
    for page in (before, after):
        assert not re.search(r"\b(agenda|review)\b", re.sub(r"<[^>]*>", " ", page), re.I)
