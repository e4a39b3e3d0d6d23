"""Follow-up meetings, end to end in real browsers.

Sanne (the central person) puts Oma in the follow-up group and proposes a meeting with
three possible times. Sanne and Oma answer in two browsers and each sees the other's
answers arrive without reloading. Sanne chooses the best time; both see the date on
the meeting page and on "My meetings", and download an .ics file that a calendar can
read. Finally Oma makes her personal calendar link and a calendar app (no cookies)
fetches it.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from babel.dates import format_datetime
from playwright.sync_api import WebSocket, expect

from . import test_foundation as foundation
from .conftest import PHONE, Person

pytestmark = pytest.mark.e2e

TITLE = "Circle around Daan"
QUESTION = "What is needed so that Daan can keep living at home with his father?"
ZONE = ZoneInfo("Europe/Amsterdam")  # the circle's zone: the CLI default
PLACE = "At Sanne's kitchen table, Dorpsstraat 4"
FOOTBALL = "Take Daan to football on Saturday"
JOIN_ACK = re.compile(r'^43\d+\[\{"ok":\s*true\}\]$')  # socket.io ack of plan:join


def shown(at: datetime) -> str:
    """How meeting pages write a time: "Tuesday 1 December 2026, 19:00", circle's zone."""
    return format_datetime(at, "EEEE d MMMM y, HH:mm", tzinfo=ZONE, locale="en")


class Live:
    """Counts the server's answers to ``plan:join`` (the meeting page's live updates):
    once one arrives for the page now open, it gets every event of the circle."""

    def __init__(self, p: Person) -> None:
        self.p = p
        self.joined = 0
        p.page.on("websocket", self._socket)

    def _socket(self, ws: WebSocket) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        if isinstance(payload, str) and JOIN_ACK.match(payload):
            self.joined += 1

    def open(self, action) -> None:
        """Run ``action`` (which loads the meeting page) and wait until it is live; mark
        the document so that a later reload would show."""
        before = self.joined
        action()
        for _ in range(200):
            if self.joined > before:
                self.p.page.evaluate("window.__sameDocument = true")
                return
            self.p.page.wait_for_timeout(50)
        raise AssertionError(f"{self.p.name}: the meeting page did not join its live updates")

    def not_reloaded(self) -> None:
        assert self.p.page.evaluate("window.__sameDocument === true"), (
            f"{self.p.name}: the page was reloaded"
        )


def option(p: Person, when: datetime):
    """The poll's entry for one possible time."""
    return p.page.locator("#poll li.option").filter(
        has=p.page.locator(f"time:text-is('{shown(when)}')")
    )


def answer(p: Person, when: datetime, label: str) -> None:
    option(p, when).get_by_role("group", name=f"Your answer for {shown(when)}").get_by_label(
        label, exact=True
    ).check()


def check_layout(p: Person, name: str, failures: list[str]) -> None:
    """At phone width: nothing wider than the screen, every target at least 44px high."""
    p.page.set_viewport_size(PHONE)
    result = p.page.evaluate(foundation.LAYOUT_CHECK)
    if result["scrollWidth"] > PHONE["width"]:
        failures.append(f"{name}: scrollWidth {result['scrollWidth']}: {result['wide'][:5]}")
    if result["tooLow"]:
        failures.append(f"{name}: targets below 44px: {result['tooLow']}")


def one_event(data: bytes) -> icalendar.Event:
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["VERSION"]) == "2.0"
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1, data
    return events[0]


def check_event(ev: icalendar.Event, starts: datetime, *, sequence: int, minutes: int = 90):
    assert str(ev["SUMMARY"]) == "Kring meeting"
    start = ev.decoded("DTSTART")
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0), start
    assert start == starts.astimezone(UTC)
    assert ev.to_ical().decode().count("DTSTART:") == 1
    assert "DTSTART:" + starts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") in ev.to_ical().decode()
    assert ev.decoded("DTEND") - start == timedelta(minutes=minutes)
    assert int(ev["SEQUENCE"]) == sequence
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["UID"]).startswith("meeting-")
    # Nothing about the family in the entry by default: no circle name, no place.
    text = ev.to_ical().decode()
    assert TITLE not in text and "Daan" not in text and "Dorpsstraat" not in text


def download_ics(p: Person, target: Path) -> bytes:
    with p.page.expect_download() as info:
        p.page.get_by_role("link", name="Add to my calendar without details", exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith(".ics"), download.suggested_filename
    download.save_as(target)
    return target.read_bytes()


def fetch(url: str) -> tuple[int, str, bytes]:
    """A calendar app: a plain GET, no cookies."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def test_meeting_poll_live_fix_ics_and_calendar_feed(live_server, person, tmp_path):
    today = date.today()
    times = [
        datetime.combine(today + timedelta(days=8), time(19, 0), ZONE),
        datetime.combine(today + timedelta(days=12), time(19, 30), ZONE),
        datetime.combine(today + timedelta(days=19), time(10, 0), ZONE),
    ]
    first, second, third = times
    circle_id, _coordinator_url = live_server.create_circle(TITLE, "Noor", question=QUESTION)
    layout: list[str] = []

    # --- 0. Setup: Sanne and Oma join; Oma joins the follow-up group -------------------
    sanne = person("Sanne")
    oma = person("Oma")
    assert (
        foundation.join(
            sanne, live_server.invite(circle_id, "Sanne", "central"), username="sanne.meetings"
        )
        == circle_id
    )
    assert (
        foundation.join(
            oma, live_server.invite(circle_id, "Oma", "member"), username="oma.meetings"
        )
        == circle_id
    )
    page = sanne.page
    nav = page.get_by_role("navigation", name="This circle")

    # A commitment in the plan, so the meeting's agenda has something to go through.
    nav.get_by_role("link", name="Plan").click()
    page.get_by_role("link", name="Add a commitment").click()
    page.get_by_label("What will be done?").fill(FOOTBALL)
    page.get_by_role("group", name="Who does it?").get_by_label("Oma").check()
    page.get_by_role("group", name="When?").get_by_label("Once, by a date").check()
    page.get_by_label("Date (or first day)").fill((today + timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Added.")).to_be_visible()

    nav.get_by_role("link", name="People").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/people$"))
    oma_row = page.locator("li.row").filter(has=page.get_by_text("Oma", exact=True))
    oma_row.get_by_label("Follow-up group (Oma)").check()
    oma_row.get_by_role("button", name="Save for Oma").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(
        page.locator("li.row")
        .filter(has=page.get_by_text("Oma", exact=True))
        .get_by_label("Follow-up group (Oma)")
    ).to_be_checked()

    # --- Sanne proposes a meeting with three possible times ------------------------------
    nav.get_by_role("link", name="Meetings").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/meetings$"))
    expect(nav.get_by_role("link", name="Meetings")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("No meetings yet.")).to_be_visible()
    page.get_by_role("link", name="Propose a meeting").click()
    expect(page.get_by_role("heading", name="Propose a meeting", level=1)).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Follow-up meeting")
    expect(page.get_by_text("Times are in your time zone: Europe/Amsterdam.")).to_be_visible()
    page.get_by_label("Where? (an address, or “video call”)").fill(PLACE)
    for i, when in enumerate(times, start=1):
        page.get_by_label(f"Possible time {i}", exact=True).fill(when.strftime("%Y-%m-%dT%H:%M"))
    invited = page.get_by_role("group", name="Who is invited?")
    # The follow-up group is invited by default, and the organiser herself.
    expect(invited.get_by_label("Oma")).to_be_checked()
    expect(invited.get_by_label("Sanne")).to_be_checked()
    expect(invited.get_by_label("Noor")).to_have_count(0)  # the coordinator never joined
    sanne.screenshot("meeting-new")
    check_layout(sanne, "new meeting form", layout)
    page.get_by_role("button", name="Send the proposal").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/meetings/\d+$"))
    meeting_path = page.url.removeprefix(live_server.url)
    expect(
        page.get_by_role("status").filter(
            has_text="The meeting is proposed. Everyone invited can now answer."
        )
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Follow-up meeting", level=1)).to_be_visible()
    head = page.locator("#meeting-head")
    expect(head).to_contain_text("Choosing a date")
    expect(head).to_contain_text(PLACE)
    expect(page.locator("#poll li.option")).to_have_count(3)
    for when in times:
        expect(option(sanne, when).locator(".tally")).to_contain_text(
            "Yes: 0 · If need be: 0 · No: 0"
        )
    expect(page.get_by_text("Not answered yet: Oma, Sanne")).to_be_visible()

    # --- 1. Both have the poll open; each sees the other's answers arrive ---------------
    sanne_live, oma_live = Live(sanne), Live(oma)
    oma_live.open(lambda: oma.goto(meeting_path))
    expect(oma.page.get_by_role("heading", name="When can you come?")).to_be_visible()
    expect(oma.page.get_by_role("button", name="Choose this time")).to_have_count(0)
    sanne_live.open(lambda: sanne.goto(meeting_path))

    answer(sanne, first, "If need be")
    answer(sanne, second, "Yes")
    answer(sanne, third, "No")
    sanne_live.open(lambda: page.get_by_role("button", name="Save my answers").click())
    expect(
        page.get_by_role("status").filter(has_text="Thank you, your answers are saved.")
    ).to_be_visible()
    expect(option(sanne, second).locator(".tally")).to_contain_text("Yes: 1")

    # Oma did not reload: Sanne's answers appear on her screen.
    expect(option(oma, second).locator(".tally")).to_contain_text("Yes: 1 · If need be: 0 · No: 0")
    expect(option(oma, second).locator(".tally")).to_contain_text("Yes: Sanne")
    expect(option(oma, first).locator(".tally")).to_contain_text("If need be: Sanne")
    expect(option(oma, third).locator(".tally")).to_contain_text("No: 1")
    expect(option(oma, second)).to_have_class(re.compile(r"\bbest\b"))
    oma_live.not_reloaded()

    answer(oma, first, "No")
    answer(oma, second, "Yes")
    answer(oma, third, "If need be")
    oma_live.open(lambda: oma.page.get_by_role("button", name="Save my answers").click())
    expect(
        oma.page.get_by_role("status").filter(has_text="Thank you, your answers are saved.")
    ).to_be_visible()
    # Her own answers are kept as she gave them.
    expect(option(oma, second).get_by_label("Yes", exact=True)).to_be_checked()
    expect(option(oma, third).get_by_label("If need be", exact=True)).to_be_checked()

    # Sanne did not reload: Oma's answers appear on her screen.
    sanne_second = option(sanne, second)
    expect(sanne_second.locator(".tally")).to_contain_text("Yes: 2 · If need be: 0 · No: 0")
    expect(sanne_second.locator(".tally")).to_contain_text("Yes: Oma, Sanne")
    expect(option(sanne, first).locator(".tally")).to_contain_text("Yes: 0 · If need be: 1 · No: 1")
    expect(option(sanne, third).locator(".tally")).to_contain_text("Yes: 0 · If need be: 1 · No: 1")
    # The best time is marked, and only that one.
    expect(sanne_second).to_have_class(re.compile(r"\bbest\b"))
    expect(sanne_second.get_by_text("Best so far")).to_be_visible()
    expect(page.locator("#poll li.option.best")).to_have_count(1)
    expect(page.get_by_text("Not answered yet")).to_have_count(0)
    sanne_live.not_reloaded()
    # Sanne's own choices were not wiped by the live refresh.
    expect(option(sanne, second).get_by_label("Yes", exact=True)).to_be_checked()
    expect(option(sanne, third).get_by_label("No", exact=True)).to_be_checked()
    sanne.screenshot("meeting-poll")
    check_layout(sanne, "poll (organiser)", layout)
    oma.screenshot("meeting-poll-member")
    check_layout(oma, "poll (member)", layout)

    # --- 2. Sanne chooses the best time -------------------------------------------------
    sanne_live.open(
        lambda: (
            page.locator("#choose li")
            .filter(has_text=shown(second))
            .get_by_role("button", name=re.compile("Choose this time"))
            .click()
        )
    )
    expect(
        page.get_by_role("status").filter(has_text="The date is set. Everyone invited can see it.")
    ).to_be_visible()
    expect(head.locator("time")).to_have_text(shown(second))
    expect(page.locator("#poll")).to_have_count(0)
    expect(page.get_by_role("heading", name="Change or cancel")).to_be_visible()
    agenda = page.locator("#agenda")
    expect(
        agenda.get_by_role("heading", name="What we talk about: the plan, one part at a time")
    ).to_be_visible()
    expect(agenda).to_contain_text(FOOTBALL)

    # --- 3. Both see the fixed date -------------------------------------------------------
    # Oma's open page shows the date without a reload ...
    oma_head = oma.page.locator("#meeting-head")
    expect(oma_head.locator("time")).to_have_text(shown(second))
    expect(
        oma_head.get_by_role("link", name="Add to my calendar without details", exact=True)
    ).to_be_visible()
    # The poll is gone from her screen (no answering a closed poll); the agenda is new,
    # so she is told to reload.
    expect(oma.page.locator("#poll")).to_have_count(0)
    notice = oma.page.locator("#plan-notice")
    expect(notice).to_contain_text("Something changed. Reload the page to see it.")
    oma_live.not_reloaded()
    # ... and, reloaded, the meeting with its agenda (read only for her).
    oma_live.open(lambda: notice.get_by_role("link", name="Reload").click())
    expect(oma_head.locator("time")).to_have_text(shown(second))
    expect(oma.page.locator("#poll")).to_have_count(0)
    expect(oma.page.get_by_role("heading", name="Change or cancel")).to_have_count(0)
    expect(oma.page.locator("#agenda")).to_contain_text(FOOTBALL)
    expect(oma.page.get_by_role("button", name="Save how the meeting went")).to_have_count(0)
    oma.screenshot("meeting-fixed-member")
    check_layout(oma, "fixed meeting (member)", layout)
    sanne.page.locator("#meeting-head").scroll_into_view_if_needed()
    sanne.screenshot("meeting-fixed")
    check_layout(sanne, "fixed meeting (organiser)", layout)

    # The .ics file, for both.
    for p in (sanne, oma):
        data = download_ics(p, tmp_path / f"{p.name}.ics")
        check_event(one_event(data), second, sequence=1)

    # "My meetings" lists it with its date, for both.
    for p in (sanne, oma):
        p.page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="My meetings"
        ).click()
        expect(p.page).to_have_url(re.compile(r"/me/meetings$"))
        expect(p.page.get_by_role("heading", name="My meetings", level=1)).to_be_visible()
        row = p.page.locator("main li.row").filter(has_text="Follow-up meeting")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(TITLE)
        expect(row.locator("time")).to_have_text(shown(second) + " (Europe/Amsterdam)")
    oma.screenshot("meetings-mine")
    check_layout(oma, "my meetings", layout)
    oma.page.locator("main li.row").get_by_role("link", name="Follow-up meeting").click()
    expect(oma.page).to_have_url(re.compile(re.escape(meeting_path) + "$"))
    oma.page.go_back()

    # --- 4. Oma's calendar link: a calendar app fetches it without cookies ---------------
    oma.page.get_by_role("link", name="Get my meetings in my phone's calendar").click()
    expect(oma.page).to_have_url(re.compile(r"/account/calendar$"))
    expect(oma.page.get_by_role("heading", name="My calendar link", level=1)).to_be_visible()
    expect(oma.page.get_by_label("Show the circle's name in my calendar")).not_to_be_checked()
    oma.page.get_by_role("button", name="Make my calendar link").click()
    expect(
        oma.page.get_by_role("status").filter(has_text="This link is shown only now.")
    ).to_be_visible()
    feed_url = oma.page.get_by_label("Your calendar link", exact=True).input_value().strip()
    assert re.fullmatch(
        re.escape(live_server.url) + r"/calendar/[A-Za-z0-9_\-]{20,}\.ics", feed_url
    ), feed_url
    oma.screenshot("meetings-calendar-link")
    check_layout(oma, "calendar link", layout)
    status, kind, body = fetch(feed_url)
    assert status == 200 and kind.startswith("text/calendar"), (status, kind)
    check_event(one_event(body), second, sequence=1)
    assert "Kring meetings" in icalendar.Calendar.from_ical(body)["X-WR-CALNAME"]

    # Shown once: back on the page, the link is not shown again.
    oma.goto("/account/calendar")
    expect(oma.page.get_by_label("Your calendar link", exact=True)).to_have_count(0)
    expect(oma.page.get_by_text("You have a calendar link.")).to_be_visible()
    oma.screenshot("meetings-calendar-has-link")

    # A new link ends the old one: someone who copied the old URL gets nothing.
    oma.page.get_by_role("button", name="Make a new link").click()
    new_url = oma.page.get_by_label("Your calendar link", exact=True).input_value().strip()
    assert new_url != feed_url
    assert fetch(feed_url)[0] == 404
    assert fetch(new_url)[0] == 200

    # Sanne moves the meeting an hour later: the feed follows (same UID, SEQUENCE 2).
    moved = second + timedelta(hours=1)
    sanne.goto(meeting_path)
    sanne.page.get_by_label("New time").fill(moved.strftime("%Y-%m-%dT%H:%M"))
    sanne.page.get_by_role("button", name="Move the meeting").click()
    expect(
        sanne.page.get_by_role("status").filter(has_text="The meeting has a new time.")
    ).to_be_visible()
    expect(sanne.page.locator("#meeting-head time")).to_have_text(shown(moved))
    before = one_event(body)
    status, _kind, body = fetch(new_url)
    assert status == 200
    after = one_event(body)
    check_event(after, moved, sequence=2)
    assert str(after["UID"]) == str(before["UID"])
    oma.page.get_by_role("button", name="Stop my calendar link").click()
    expect(
        oma.page.get_by_role("status").filter(has_text="The calendar link no longer works.")
    ).to_be_visible()
    assert fetch(new_url)[0] == 404

    assert not layout, "\n".join(layout)
