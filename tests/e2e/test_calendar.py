"""The calendar entry helps, safely (issue 14), in a real browser.

Lies joins the demo circle, opens its first follow-up meeting and downloads it twice:
with the details (title, place, purpose) and without (only "Kring meeting"). Then she
makes her calendar link: the page shows the QR code, a webcal:// subscribe link, and a
copy button that puts the link on her clipboard.
"""

from __future__ import annotations

import re
from pathlib import Path

import icalendar
import pytest
from playwright.sync_api import expect

from .conftest import Person
from .test_demo import PASSWORD, _demo_links
from .test_meetings import check_layout

pytestmark = pytest.mark.e2e

MEETING = "First follow-up meeting"
PLACE = "At Grandma Riet's"
PURPOSE = "How is the plan going after the first weeks?"
CIRCLE = "Demo: circle around Sam"


def _download(p: Person, name: str, target: Path) -> icalendar.Event:
    with p.page.expect_download() as info:
        p.page.get_by_role("link", name=name, exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith(".ics"), download.suggested_filename
    download.save_as(target)
    events = list(icalendar.Calendar.from_ical(target.read_bytes()).walk("VEVENT"))
    assert len(events) == 1
    return events[0]


def test_two_calendar_files_and_the_feed_page_with_qr_and_copy(live_server, person, tmp_path):
    circle_id, links = _demo_links(live_server)
    lies = person("Lies")
    page = lies.page
    page.goto(links["member"])
    expect(page).to_have_url(re.compile(r"/join$"))
    page.get_by_label("A username to sign in with").fill("lies.calendar")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Join the circle").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}$"))
    layout: list[str] = []

    # --- The meeting: two downloads ------------------------------------------------------
    page.get_by_role("navigation", name="This circle").get_by_role("link", name="Meetings").click()
    page.get_by_role("link", name=MEETING).click()
    head = page.locator("#meeting-head")
    expect(page.get_by_role("heading", name=MEETING, level=1)).to_be_visible()
    expect(head.get_by_text("Without details, it only says “Kring meeting”.")).to_be_visible()
    head.get_by_role(
        "link", name="Add to my calendar with the details"
    ).scroll_into_view_if_needed()
    lies.screenshot("calendar-two-downloads")
    check_layout(lies, "meeting with two calendar links", layout)

    detailed = _download(lies, "Add to my calendar with the details", tmp_path / "details.ics")
    assert str(detailed["SUMMARY"]) == MEETING
    assert str(detailed["LOCATION"]) == PLACE
    assert PURPOSE in str(detailed["DESCRIPTION"])

    plain = _download(lies, "Add to my calendar without details", tmp_path / "plain.ics")
    assert str(plain["SUMMARY"]) == "Kring meeting"
    text = plain.to_ical().decode()
    for secret in (MEETING, PLACE, "Grandma", PURPOSE[:20], CIRCLE):
        assert secret not in text, secret
    assert str(plain["UID"]) == str(detailed["UID"])  # one meeting, one calendar entry

    # --- The calendar link page: subscribe, copy, QR --------------------------------------
    lies.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My meetings").click()
    page.get_by_role("link", name="Get my meetings in my phone's calendar").click()
    expect(page).to_have_url(re.compile(r"/account/calendar$"))
    page.get_by_role("button", name="Make my calendar link").click()
    field = page.get_by_label("Your calendar link", exact=True)
    url = field.input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/calendar/[A-Za-z0-9_\-]{43}\.ics", url), url
    subscribe = page.get_by_role("link", name="Subscribe in my calendar app")
    expect(subscribe).to_have_attribute("href", "webcal://" + url.split("://", 1)[1])
    qr = page.get_by_role(
        "img", name="A code to scan with a phone camera. It opens your calendar link."
    )
    expect(qr).to_be_visible()
    box = qr.locator("svg").bounding_box()
    assert box and box["width"] >= 150 and box["height"] >= 150, box  # big enough to scan

    copy = page.get_by_role("button", name="Copy the link")
    expect(copy).to_be_visible()  # the script shows it; without JavaScript it stays hidden
    copy.focus()
    page.keyboard.press("Enter")  # by keyboard, as anyone may
    expect(page.get_by_role("status").filter(has_text="Copied.")).to_have_text(
        "Copied. Now paste it into your calendar app."
    )
    assert page.evaluate("navigator.clipboard.readText()") == url
    lies.screenshot("calendar-link-qr-copy")
    check_layout(lies, "calendar link page", layout)
    assert not layout, "\n".join(layout)
