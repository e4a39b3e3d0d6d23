"""Email addresses, end to end: an address given at joining and a new address set on
"My account" count only once the link mailed to them is opened (issue 10, hole 6).
The mail is the real thing: queued in the request, sent by the server's background
sender, and read from the files it writes (no mail server in these tests)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import Person

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"


def _open_mail_link(p: Person, body: str) -> None:
    link = re.search(r"http\S+/e/\S+", body).group(0)
    p.page.goto(link)
    expect(p.page).to_have_url(re.compile(r"/account/email/confirm$"))


def test_email_change_needs_password_and_the_link(live_server, person):
    _circle_id, url = live_server.create_circle("Circle around Jip", "Noor")
    noor = person("Noor")
    page = noor.page
    page.goto(url)
    page.get_by_label("A username to sign in with").fill("noor-email")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_label("Email address (not needed)").fill("noor@example.org")
    page.get_by_role("button", name="Join the circle").click()
    expect(
        page.get_by_role("status").filter(has_text="We sent a link to noor@example.org")
    ).to_be_visible()

    # Not in force yet: the account page says it waits for the link.
    page.goto("/account")
    expect(page.get_by_text("You have no email address here.")).to_be_visible()
    expect(
        page.get_by_text("Waiting for you to open the link we sent to noor@example.org.")
    ).to_be_visible()
    _open_mail_link(noor, live_server.mail_to("noor@example.org", "/e/"))
    expect(page.get_by_text("noor@example.org")).to_be_visible()
    page.get_by_role("button", name="Yes, use this address").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    # (The account page has a second status line: whether this device tells of news.)
    flash = page.get_by_role("status").filter(has_text="Your email address")
    expect(flash).to_have_text("Your email address is now noor@example.org.")

    # Someone at Noor's unlocked browser cannot change it without the password.
    section = page.locator("section#email")
    section.get_by_label("New email address (leave empty to remove it)").fill("evil@example.org")
    section.get_by_label("Your current password").fill("a wrong guess!!")
    section.get_by_role("button", name="Change email address").click()
    expect(section.get_by_text("That is not your current password.")).to_be_visible()

    # Noor herself can; the new one counts once its link is opened, on her phone.
    section.get_by_label("New email address (leave empty to remove it)").fill("noor@new.example")
    section.get_by_label("Your current password").fill(PASSWORD)
    section.get_by_role("button", name="Change email address").click()
    expect(page.get_by_role("status").filter(has_text="We sent a link")).to_contain_text(
        "We sent a link to noor@new.example."
    )
    expect(page.locator("section#email strong")).to_have_text("noor@example.org")
    notice = live_server.mail_to("noor@example.org", "change your password")
    assert "noor@new.example" not in notice

    phone = person("Noor's phone")
    _open_mail_link(phone, live_server.mail_to("noor@new.example", "/e/"))
    phone.page.get_by_role("button", name="Yes, use this address").click()
    expect(phone.page.get_by_role("status").filter(has_text="Your email address")).to_have_text(
        "Your email address is now noor@new.example."
    )
    page.reload()
    expect(page.locator("section#email strong")).to_have_text("noor@new.example")
