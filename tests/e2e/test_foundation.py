"""The foundation, end to end in a real browser: a coordinator opens a circle and
invites people, they join, a stranger sees nothing, and the coordinator hands over."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import PHONE, SCREENSHOTS, Person

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"
NOT_FOUND = "We cannot find this page"
TITLE = "Circle around Sam"
QUESTION = "What is needed so that Sam can grow up safely at home?"


def join(
    p: Person, url: str, *, username: str, name: str | None = None, screenshot: str | None = None
) -> int:
    """Open an invitation link, make an account; returns the circle id landed in."""
    p.page.goto(url)
    expect(p.page).to_have_url(re.compile(r"/join$"))
    expect(p.page.get_by_text("You are invited", exact=True)).to_be_visible()
    if screenshot:
        p.screenshot(screenshot)
    if name is not None:
        p.page.get_by_label("Your name, as the circle will see it").fill(name)
    p.page.get_by_label("A username to sign in with").fill(username)
    p.page.get_by_label("Choose a password").fill(PASSWORD)
    p.page.get_by_label("The same password again").fill(PASSWORD)
    p.page.get_by_role("button", name="Join the circle").click()
    expect(p.page).to_have_url(re.compile(r"/c/\d+$"))
    expect(p.page.get_by_role("status").filter(has_text="Welcome to the circle.")).to_be_visible()
    return int(p.page.url.rsplit("/", 1)[1])


def people_names(p: Person) -> list[str]:
    section = (
        p.page.get_by_role("region", name="People in this circle")
        .or_(
            p.page.locator(
                "section", has=p.page.get_by_role("heading", name="People in this circle")
            )
        )
        .first
    )
    return [n.strip() for n in section.locator(".people .name, .rows strong").all_inner_texts()]


def not_found_body(p: Person, path: str) -> str:
    """The raw 404 response for ``path``, with this person's cookies."""
    r = p.context.request.get(path)
    assert r.status == 404, (path, r.status)
    return r.text()


def test_invite_join_stranger_and_handover(live_server, person):
    circle_id, coordinator_url = live_server.create_circle(TITLE, "Noor", question=QUESTION)

    # Someone who is not signed in sees the sign-in page.
    visitor = person("Visitor")
    visitor.goto("/login")
    expect(visitor.page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(visitor.page.get_by_label("Your username or email")).to_be_visible()
    expect(visitor.page.get_by_label("Password", exact=True)).to_be_visible()
    visitor.screenshot("login")

    # a) The coordinator redeems the link the CLI printed and sees the circle.
    coord = person("Coordinator")
    assert join(coord, coordinator_url, username="noor") == circle_id
    page = coord.page
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text(QUESTION)).to_be_visible()
    expect(page.get_by_role("heading", name="For you, the coordinator")).to_be_visible()
    assert "Noor" in people_names(coord)

    # ... and invites someone through the People page form.
    page.get_by_role("navigation", name="This circle").get_by_role("link", name="People").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/people$"))
    expect(page.get_by_role("link", name="People")).to_have_attribute("aria-current", "page")
    coord.screenshot("people")
    page.get_by_label("Name the circle will see").fill("Oma Riet")
    role = page.get_by_role("group", name="Role")
    role.get_by_label("Member: family, friend or neighbour").check()
    page.get_by_role("button", name="Make the invitation").click()
    expect(page.get_by_role("heading", name="Invitation for Oma Riet", level=1)).to_be_visible()
    card = page.get_by_role("article", name="Invitation to print")
    expect(card.get_by_role("heading", name="Dear Oma Riet,")).to_be_visible()
    qr = card.locator(".qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and 120 <= box["width"] <= 300 and abs(box["width"] - box["height"]) < 2, box
    invitation_url = card.get_by_label("Copy the link").input_value()
    assert invitation_url.startswith(f"{live_server.url}/i/")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    coord.screenshot("invitation-card")

    # The print view: only the card, no navigation, no buttons; and a real PDF.
    page.emulate_media(media="print")
    page.set_viewport_size(PHONE)
    for hidden in (
        page.get_by_role("banner"),
        page.get_by_role("button", name="Print"),
        page.get_by_role("heading", name="Invitation for Oma Riet", level=1),
        page.get_by_role("contentinfo"),
    ):
        expect(hidden).to_be_hidden()
    expect(card).to_be_visible()
    coord.screenshot("invitation-print")
    pdf = SCREENSHOTS / "invitation-card.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes().startswith(b"%PDF")
    page.emulate_media(media="screen")

    # The invitation is listed as not opened yet.
    page.get_by_role("link", name="Back to the people").click()
    expect(page.get_by_text("Not opened yet")).to_be_visible()

    # b) The invitee opens the link in their own browser and joins.
    oma = person("Oma Riet")
    assert join(oma, invitation_url, username="omariet", screenshot="join") == circle_id
    expect(oma.page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    assert {"Oma Riet", "Noor"} <= set(people_names(oma))
    oma.screenshot("circle-home-member")
    # A member does not manage the circle: no People or Settings in its navigation.
    nav = oma.page.get_by_role("navigation", name="This circle")
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    expect(nav.get_by_role("link", name="People")).to_have_count(0)
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    # The invitation is used: a second person holding the same link gets nowhere.
    late = person("Someone with the same link")
    late.expected_404.add("/join")
    late.page.goto(invitation_url)
    expect(late.page.get_by_role("heading", name="This invitation does not work")).to_be_visible()

    # c) A stranger with an account from another circle cannot tell the circle exists.
    other_id, other_coordinator_url = live_server.create_circle("Another circle", "Els")
    stranger = person("Stranger")
    assert (
        join(stranger, live_server.invite(other_id, "Stranger", "member"), username="stranger")
        == other_id
    )
    for path in (f"/c/{circle_id}", f"/c/{circle_id}/people", f"/c/{circle_id}/history"):
        stranger.goto(path, expect_status=404)
        expect(stranger.page.get_by_role("heading", name=NOT_FOUND, level=1)).to_be_visible()
        expect(stranger.page.get_by_text(TITLE)).to_have_count(0)
    stranger.goto("/c/999999", expect_status=404)
    stranger.screenshot("not-found")
    missing = not_found_body(stranger, "/c/999999")
    assert not_found_body(stranger, f"/c/{circle_id}") == missing
    assert not_found_body(stranger, f"/c/{circle_id}/people") == missing

    # d) The central person joins (invited from the command line) ...
    central = person("Sanne")
    assert (
        join(central, live_server.invite(circle_id, "Sanne", "central"), username="sanne")
        == circle_id
    )
    # ... and the coordinator hands over through the web page.
    coord.goto(f"/c/{circle_id}")
    coord.screenshot("circle-home-coordinator")
    page.get_by_role("link", name="Hand over the circle").click()
    expect(page.get_by_role("heading", name=f"Hand over {TITLE}")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Sanne")).to_be_visible()
    coord.screenshot("handover")
    page.get_by_role("button", name="Hand over and leave").click()
    thanks = page.get_by_role("status").filter(has_text="You have handed over the circle")
    expect(thanks).to_be_visible()
    expect(page.get_by_role("link", name=TITLE)).to_have_count(0)
    coord.goto(f"/c/{circle_id}", expect_status=404)
    expect(page.get_by_role("heading", name=NOT_FOUND, level=1)).to_be_visible()
    assert not_found_body(coord, f"/c/{circle_id}") == not_found_body(coord, "/c/999999")

    central.goto(f"/c/{circle_id}")
    history = central.page.get_by_role("list").filter(has_text="opened this circle")
    expect(history).to_contain_text(
        "Handed over by the coordinator, Noor. The circle now belongs to the family."
    )
    assert "Noor" not in people_names(central)
    # The central person now looks after the circle: the People page is theirs.
    central.page.get_by_role("link", name="People").click()
    expect(central.page.get_by_role("button", name="Make the invitation")).to_be_visible()
    central.goto(f"/c/{circle_id}")
    central.screenshot("circle-home-central")


LAYOUT_CHECK = """
() => {
  const tooLow = [];
  for (const el of document.querySelectorAll(
      'main a[href], main button, main input[type=submit], main select, main summary')) {
    const rects = el.getClientRects();
    if (!rects.length) continue;                       // not rendered
    const box = el.getBoundingClientRect();
    // Links in running text are exempt (as in WCAG 2.5.8): a link inside a paragraph
    // or list item whose text is more than the link itself.
    const block = el.closest('p, li');
    if (el.tagName === 'A' && !el.classList.contains('button') && block &&
        block.textContent.trim() !== el.textContent.trim()) continue;
    if (box.height < 44) {
      const label = el.textContent.trim().replace(/\\s+/g, ' ');
      tooLow.push(`${el.tagName.toLowerCase()} "${label}" ${box.height.toFixed(1)}px`);
    }
  }
  const wide = [];
  const limit = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > limit + 0.5) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className} right=${r.right.toFixed(0)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, tooLow, wide};
}
"""


def test_phone_layout_fits_and_targets_are_large(live_server, person):
    circle_id, coordinator_url = live_server.create_circle(
        "A circle with a rather long title around Sam and his little sister Mila",
        "Noor Abdelkader-Vermeulen",
        question=QUESTION,
    )
    coord = person("Coordinator", viewport={"width": 390, "height": 844})
    join(coord, coordinator_url, username="noor2")
    # People in every state the pages show: a member with actions, an open invitation.
    member = person("Member")
    join(
        member,
        live_server.invite(circle_id, "Bartholomeus van Oldenbarnevelt", "member"),
        username="bart",
    )
    live_server.invite(circle_id, "Karim", "supporter", supporter_of="Sam")

    pages = {
        "home": f"/c/{circle_id}",
        "people": f"/c/{circle_id}/people",
        "history": f"/c/{circle_id}/history",
        "handover": f"/c/{circle_id}/handover",
    }
    failures = []
    for name, path in pages.items():
        coord.goto(path)
        result = coord.page.evaluate(LAYOUT_CHECK)
        if result["scrollWidth"] > 390:
            failures.append(
                f"{name}: scrollWidth {result['scrollWidth']} > 390: {result['wide'][:5]}"
            )
        if result["tooLow"]:
            failures.append(f"{name}: targets below 44px: {result['tooLow']}")
        coord.screenshot(f"layout-{name}")
    member.goto(f"/c/{circle_id}")
    result = member.page.evaluate(LAYOUT_CHECK)
    if result["scrollWidth"] > 390 or result["tooLow"]:
        failures.append(f"member home: {result}")
    assert not failures, "\n".join(failures)
