"""The private line between a child and their supporter (issue 14), in real browsers.

Noor (the central person) invites Sanne as the supporter of Mila, choosing Mila from
the circle's people. Mila, on a phone, finds "Private line with Sanne" in the circle's
menu and writes to her; Sanne has the line open and sees it arrive without reloading.
Noor has no link to it, and the line's address gives her the same 404 as a line that
does not exist.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, SCREENSHOTS, Person

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"
TITLE = "Circle around Mila"
WORDS = "Can we talk before the meeting? I do not want to go to Dad's at weekends."


def join(p: Person, url: str, *, username: str) -> None:
    p.page.goto(url)
    expect(p.page).to_have_url(re.compile(r"/join$"))
    p.page.get_by_label("A username to sign in with").fill(username)
    p.page.get_by_label("Choose a password").fill(PASSWORD)
    p.page.get_by_label("The same password again").fill(PASSWORD)
    p.page.get_by_role("button", name="Join the circle").click()
    expect(p.page).to_have_url(re.compile(r"/c/\d+$"))


def test_a_child_writes_to_their_supporter_and_a_central_person_cannot_see_it(live_server, person):
    circle_id, _ = live_server.create_circle(TITLE, "Coordinator")
    noor, mila = person("Noor", DESKTOP), person("Mila")
    sanne = person("Sanne", DESKTOP)
    join(noor, live_server.invite(circle_id, "Noor", "central"), username="noor.line")
    join(mila, live_server.invite(circle_id, "Mila", "member"), username="mila.line")

    # Noor invites Sanne as Mila's supporter, choosing Mila from the list.
    # (The people page also has the form for someone without internet, with its own
    # roles: the invitation's form is the one with "Make the invitation".)
    noor.goto(f"/c/{circle_id}/people")
    make = noor.page.get_by_role("button", name="Make the invitation")
    invite = noor.page.locator("form", has=make)
    invite.get_by_label("Name the circle will see").fill("Sanne")
    invite.get_by_label("Supporter: helps someone speak").check()
    invite.get_by_label("Supporter of (only for a supporter)").select_option(label="Mila")
    make.click()
    link = noor.page.locator("#link").input_value()
    join(sanne, link, username="sanne.line")

    # Sanne opens the line from the circle's menu and keeps it open.
    nav = sanne.page.get_by_role("navigation", name="This circle")
    nav.get_by_role("link", name="Private line with Mila").click()
    expect(sanne.page).to_have_url(re.compile(rf"/c/{circle_id}/line/\d+$"))
    line_path = re.sub(r"^https?://[^/]+", "", sanne.page.url)
    expect(sanne.page.get_by_role("heading", level=1)).to_have_text("Your private line with Mila")
    sanne.page.wait_for_load_state("load")

    # Mila, on her phone, writes to her supporter. Her phone is slow: line.js arrives
    # after the page's socket (news.js) has connected, and its "connect" has passed;
    # the line must still join and send (the same catch as in the chat).
    held = []

    def late(route):
        held.append(route.request.url)
        time.sleep(1.5)  # the browser goes on: its socket connects meanwhile
        route.continue_()

    mila.page.route(re.compile(r".*/static/js/line\.js.*"), late)
    mila.goto(f"/c/{circle_id}")
    mila.page.get_by_role("navigation", name="This circle").get_by_role(
        "link", name="Private line with Sanne"
    ).click()
    expect(mila.page).to_have_url(re.compile(re.escape(line_path) + "$"))
    expect(mila.page.get_by_text("Only you and Sanne can read this.")).to_be_visible()
    mila.page.wait_for_load_state("load")
    assert held and mila.page.evaluate("window.Kring.socket.connected")
    box = mila.page.get_by_label("Your message")
    box.fill(WORDS)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(mila.page.locator("#outbox li")).to_have_count(0)
    expect(mila.page.locator("#messages li.msg p.body")).to_have_text([WORDS])

    # Sanne sees it arrive, without reloading, once.
    expect(sanne.page.locator("#messages li.msg p.body")).to_have_text([WORDS])
    expect(sanne.page.locator("#messages li.msg .author")).to_have_text(["Mila"])
    SCREENSHOTS.mkdir(exist_ok=True)
    mila.page.screenshot(path=str(SCREENSHOTS / "line-child-phone.png"))
    sanne.page.screenshot(path=str(SCREENSHOTS / "line-supporter-desktop.png"))
    # A phone shows it without sideways scrolling.
    assert mila.page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # Noor, a central person, has no link to it, and its address is a plain 404.
    noor.goto(f"/c/{circle_id}")
    expect(noor.page.get_by_role("link", name=re.compile("Private line"))).to_have_count(0)
    noor.goto(line_path, expect_status=404)
    expect(noor.page.get_by_text(WORDS)).to_have_count(0)
    missing = re.sub(r"/\d+$", "/999999", line_path)
    noor.goto(missing, expect_status=404)
    # The people page says whom Sanne supports, as a choice Noor can change (at 390 px).
    noor.page.set_viewport_size(PHONE)
    noor.goto(f"/c/{circle_id}/people")
    choice = noor.page.get_by_label("Supporter of (Sanne)")
    expect(choice.locator("option:checked")).to_have_text("Mila")
    assert noor.page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    choice.scroll_into_view_if_needed()
    noor.page.screenshot(path=str(SCREENSHOTS / "line-people-phone.png"))
