"""``kring demo`` end to end: a newcomer opens the member link the command printed,
joins in a real browser, and finds a circle in use: the chat's history and a plan
with its version, ticks, an overdue task and a request for help."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import Person

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"


def _demo_links(live_server) -> tuple[int, dict[str, str]]:
    out = live_server.cli("kring", "demo").strip().splitlines()
    circle_id = int(re.match(r"^Demo circle (\d+): ", out[0]).group(1))
    links = dict(line.split(": ", 1) for line in out[1:])
    assert list(links) == ["coordinator", "central", "member", "supporter", "professional"]
    for url in links.values():
        live_server._check_url(url)
    return circle_id, links


def test_member_joins_the_demo_and_sees_its_life(live_server, person):
    circle_id, links = _demo_links(live_server)
    lies: Person = person("Aunt Lies")
    page = lies.page
    page.goto(links["member"])
    expect(page).to_have_url(re.compile(r"/join$"))
    expect(page.get_by_label("Your name, as the circle will see it")).to_have_value("Aunt Lies")
    page.get_by_label("A username to sign in with").fill("lies")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Join the circle").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}$"))
    expect(page.get_by_role("heading", name="Demo: circle around Sam", level=1)).to_be_visible()
    expect(page.get_by_text("Overdue: 1")).to_be_visible()

    # The chat has two weeks of history, oldest reachable, newest at the bottom.
    page.get_by_role("navigation", name="This circle").get_by_role("link", name="Chat").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/chat$"))
    messages = page.get_by_role("list", name="Messages")
    expect(
        messages.get_by_text("Thank you all for tonight. I'm tired, but happy.")
    ).to_be_attached()
    expect(
        messages.get_by_text("Sam kept goal for the whole second half.", exact=False)
    ).to_be_attached()
    assert messages.locator("li[data-seq]").count() >= 25
    assert messages.locator(".author", has_text="Grandma Riet").count() >= 3
    # The live socket works on the demo too: Lies says hello and sees it stored.
    page.get_by_label("Your message").fill("Hello everyone, Lies here!")
    page.get_by_role("button", name="Send").click()
    expect(messages.get_by_text("Hello everyone, Lies here!")).to_be_visible()

    # The plan: agreed, changed once by consent, ticked, one overdue, one help request.
    page.get_by_role("navigation", name="This circle").get_by_role("link", name="Plan").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/plan$"))
    expect(page.get_by_text("Version 2 of the plan.")).to_be_visible()
    expect(page.get_by_text("Take Sam to school on Monday and Thursday")).to_be_visible()
    # The turn shown is the current one: on a school day (Monday, Thursday) today's is
    # still open, so the tick seen is another commitment's (each has its own weekday).
    expect(
        page.get_by_text(re.compile(r"done by (Grandma Riet|Karim|Uncle Joost)")).first
    ).to_be_visible()
    expect(page.get_by_text("Needs help: 1")).to_be_visible()
    expect(page.get_by_text("Overdue: 1")).to_be_visible()
    expect(
        page.get_by_text("If Grandma Riet is ill, Uncle Joost takes Sam to school.")
    ).to_be_visible()

    # Meetings: a reviewed one and a date poll.
    page.get_by_role("navigation", name="This circle").get_by_role("link", name="Meetings").click()
    expect(page.get_by_role("link", name="First follow-up meeting")).to_be_visible()
    expect(page.get_by_role("link", name="Second follow-up meeting")).to_be_visible()
    expect(
        page.get_by_text("A good start. Sam goes to school every day.", exact=False)
    ).to_be_visible()
    lies.screenshot("demo-member-meetings")
