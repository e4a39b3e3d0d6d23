"""News in a real browser (issue 12): Sanne mentions Ben in the chat, choosing him from
the list the chat box offers; Ben, on the plan page, sees his badge go up without
reloading; he opens his news, follows the line to the message, and the badge clears.

Screenshots of the news page and of the news settings, at 390 px and 1280 px, go to
/tmp/shots-news/ (and the chat box's list of people, to look at too).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from . import test_foundation as foundation
from .conftest import DESKTOP, PHONE, Person

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots-news")
TITLE = "Circle around Sam"


def shoot(p: Person, name: str, part: str | None = None) -> None:
    """The whole page at both widths (and ``part`` of it alone, to look at closely)."""
    SHOTS.mkdir(exist_ok=True)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        p.page.set_viewport_size(size)
        p.page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        if part:
            p.page.locator(part).screenshot(path=str(SHOTS / f"{name}-{label}-part.png"))


def badge(p: Person):
    return p.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^News")
    )


def test_mention_badge_live_follow_and_clear(live_server, person):
    circle_id, _coordinator_url = live_server.create_circle(TITLE, "Noor")
    sanne, ben = person("Sanne"), person("Ben")
    assert (
        foundation.join(
            sanne, live_server.invite(circle_id, "Sanne", "central"), username="sanne.news"
        )
        == circle_id
    )
    assert (
        foundation.join(ben, live_server.invite(circle_id, "Ben", "member"), username="ben.news")
        == circle_id
    )

    # Ben is on the plan page, nothing new: the link just says "News".
    ben.goto(f"/c/{circle_id}/plan")
    expect(badge(ben)).to_have_accessible_name("News")
    expect(ben.page.locator("#news-count")).to_be_hidden()

    # Sanne types "@be" in the chat: the box offers Ben (by name); Enter chooses him.
    sanne.goto(f"/c/{circle_id}/chat")
    box = sanne.page.get_by_label("Your message")
    box.click()
    box.press_sequentially("Lunch on Sunday, @be")
    options = sanne.page.get_by_role("listbox", name="People you can mention")
    expect(options.get_by_role("option")).to_have_count(1)
    expect(options.get_by_role("option", name=re.compile("^Ben"))).to_have_attribute(
        "aria-selected", "true"
    )
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(sanne.page.get_by_role("status").filter(has_text="1 person.")).to_be_attached()
    shoot(sanne, "chat-mention-list", "#send-form")
    box.press("Enter")  # chooses; does not send
    expect(box).to_have_value("Lunch on Sunday, @ben.news ")
    expect(options).to_be_hidden()
    box.press_sequentially("?")
    box.press("Enter")  # sends
    mine = sanne.page.locator("#messages li.msg").last
    expect(mine.locator("strong.mention")).to_have_text("@ben.news")

    # Ben did not reload: his badge went up (a new message, and a mention).
    expect(badge(ben)).to_have_accessible_name("News, 2 new")
    expect(ben.page.locator("#news-count")).to_have_text("2")
    assert ben.page.url.endswith(f"/c/{circle_id}/plan")

    # His news: both lines, marked new in words, in his time zone.
    badge(ben).click()
    expect(ben.page).to_have_url(re.compile(r"/notifications$"))
    lines = ben.page.get_by_role("list", name="Your news, newest first").get_by_role("listitem")
    expect(lines).to_have_count(2)
    expect(lines.first).to_contain_text("New")
    mention = ben.page.get_by_role("link", name=re.compile("Sanne mentioned you in Circle"))
    expect(mention).to_be_visible()
    shoot(ben, "news")

    # He follows the mention to the message; this chat's news is read, the badge clears.
    ben.page.set_viewport_size(PHONE)
    mention.click()
    expect(ben.page).to_have_url(re.compile(rf"/c/{circle_id}/chat\?after=\d+#m\d+$"))
    seq = ben.page.url.rsplit("#m", 1)[1]
    message = ben.page.locator(f"#m{seq}")
    expect(message).to_contain_text("Lunch on Sunday")
    expect(message.locator("strong.mention")).to_have_text("@ben.news")
    expect(message).to_be_in_viewport()
    expect(badge(ben)).to_have_accessible_name("News")

    # Read lines stay in the list, no longer marked new.
    ben.goto("/notifications")
    expect(ben.page.locator(".news-new")).to_have_count(0)
    expect(ben.page.get_by_role("button", name="Mark all as read")).to_have_count(0)
    shoot(ben, "news-read")

    # The settings on /account.
    ben.goto("/account#news")
    expect(ben.page.get_by_role("heading", name="Your news", exact=True)).to_be_visible()
    shoot(ben, "account-settings", "#news")
    ben.page.get_by_label("Someone joins or leaves the circle").uncheck()
    ben.page.get_by_label("Once a week").check()
    ben.page.get_by_role("button", name="Save news settings").click()
    expect(ben.page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    expect(ben.page.get_by_label("Someone joins or leaves the circle")).not_to_be_checked()
    expect(ben.page.get_by_label("Once a week")).to_be_checked()
