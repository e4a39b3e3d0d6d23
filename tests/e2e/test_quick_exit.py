"""Issue 14 in a real browser: "Leave quickly" and simple mode's "Read aloud".

Nothing reaches the internet: the neutral page (QUICK_EXIT_URL) is answered by
Playwright (``context.route``), and speech synthesis is stubbed in the page, recording
what it was asked to say and in which language.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import Person
from .test_demo import PASSWORD, _demo_links

pytestmark = pytest.mark.e2e

NEUTRAL = "<!doctype html><html lang='en'><title>Weather</title><h1>Weather today</h1></html>"
# Records each utterance instead of speaking (a test machine has no voices anyway).
SPEECH_STUB = """
window.__spoken = [];
if (window.speechSynthesis) {
  window.speechSynthesis.speak = (u) => window.__spoken.push({ text: u.text, lang: u.lang });
}
"""


def _answer_the_neutral_page(p: Person) -> str:
    """The page's own QUICK_EXIT_URL, answered locally; returns it."""
    url = p.page.locator("a.quick-exit").get_attribute("href")
    assert url and url.startswith("http")
    p.context.route(
        re.compile("^" + re.escape(url)),
        lambda route: route.fulfill(status=200, content_type="text/html", body=NEUTRAL),
    )
    return url


def test_escape_twice_leaves_for_the_neutral_page_and_back_does_not_return(live_server, person):
    noor: Person = person("Noor")
    page = noor.page
    noor.goto("/login")
    noor.goto("/password/forgot")  # a second Kring page in this tab's history
    exit_url = _answer_the_neutral_page(noor)

    # Visible, a real target, in the header: it covers nothing on a 390 px phone.
    link = page.get_by_role("link", name="Leave quickly")
    expect(link).to_be_visible()
    box, header = link.bounding_box(), page.locator("header.topbar").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    assert box["y"] + box["height"] <= header["y"] + header["height"] + 0.5
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # One Escape is nothing; two more than a second apart are nothing either.
    page.keyboard.press("Escape")
    page.wait_for_timeout(1200)
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    assert page.url.startswith(live_server.url)

    # Another Kring tab of the same browser.
    other = noor.context.new_page()
    other.goto("/login")
    expect(other.get_by_role("link", name="Leave quickly")).to_be_visible()

    # Escape twice: the neutral page, in place of Kring's, in both tabs.
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page).to_have_url(exit_url)
    expect(page.get_by_role("heading", name="Weather today")).to_be_visible()
    expect(other).to_have_url(exit_url)
    other.close()

    # Back reaches the earlier Kring page of this tab, which leaves again at once.
    page.go_back(wait_until="commit")
    expect(page).to_have_url(exit_url)
    expect(page.get_by_role("heading", name="Weather today")).to_be_visible()

    # Opening Kring again on purpose works as ever (the tab forgets that it left).
    noor.goto("/login")
    page.wait_for_timeout(300)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_simple_mode_reads_messages_and_tasks_aloud(live_server, person):
    circle_id, links = _demo_links(live_server)
    lies: Person = person("Aunt Lies")
    lies.context.add_init_script(SPEECH_STUB)
    page = lies.page
    page.goto(links["member"])
    page.get_by_label("A username to sign in with").fill("lies.simple")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Join the circle").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}$"))
    lies.screenshot("normal-home-header", full_page=False)

    # Her own setting, on her account page.
    lies.goto("/account")
    page.get_by_label("Simple mode: bigger letters, fewer buttons").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("body.simple")).to_be_attached()
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link")).to_have_text(["Home", "Messages", "My tasks"])
    expect(page.get_by_label("Simple mode: bigger letters, fewer buttons")).to_be_checked()
    lies.screenshot("simple-account", full_page=False)

    # A message, read aloud in the page's language.
    menu.get_by_role("link", name="Messages").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/chat$"))
    messages = page.get_by_role("list", name="Messages")
    last = messages.locator("li.msg").last
    last.get_by_role("button", name="Read aloud").click()
    spoken = page.evaluate("window.__spoken")
    body = last.locator(".body").inner_text()
    author = last.locator(".author").inner_text()
    assert spoken == [{"text": f"{author}. {body}", "lang": "en"}]

    # A message that arrives live (built by chat.js) has the button too.
    page.get_by_label("Your message").fill("I can read this big!")
    page.get_by_role("button", name="Send").click()
    mine = messages.locator("li.msg", has_text="I can read this big!")
    expect(mine.get_by_role("button", name="Read aloud")).to_be_visible()
    mine.get_by_role("button", name="Read aloud").click()
    assert page.evaluate("window.__spoken.at(-1)") == {
        "text": "Aunt Lies. I can read this big!",
        "lang": "en",
    }
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    lies.screenshot("simple-chat", full_page=False)

    # A task on the plan: its title and its facts.
    lies.goto(f"/c/{circle_id}/plan")
    task = page.locator("article.commitment", has_text="Take Sam to school on Monday and Thursday")
    task.get_by_role("button", name="Read aloud").click()
    said = page.evaluate("window.__spoken.at(-1)")
    assert said["lang"] == "en" and said["text"].startswith(
        "Take Sam to school on Monday and Thursday. Who: Grandma Riet. When: Every week on"
    )
    assert "Read aloud" not in said["text"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    lies.screenshot("simple-plan")
    lies.goto(f"/c/{circle_id}")
    lies.screenshot("simple-home")

    # A browser without speech synthesis shows no such button.
    bare = lies.context.new_page()
    bare.add_init_script(
        "Object.defineProperty(window, 'speechSynthesis', {value: undefined, configurable: true});"
    )
    bare.goto(f"/c/{circle_id}/plan")
    expect(bare.locator("body.simple")).to_be_attached()
    expect(bare.get_by_role("button", name="Read aloud")).to_have_count(0)
    bare.close()
