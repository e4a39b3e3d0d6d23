"""After the handover, in a real browser: the link the coordinator kept no longer
works, and the central person sees who is still to join and makes them a new link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import Person
from .test_foundation import join

pytestmark = pytest.mark.e2e

TITLE = "Circle around Lotte"


def invite_on_people_page(p: Person, circle_id: int, name: str) -> str:
    """Make a member's invitation on the People page; returns the link on the card."""
    p.goto(f"/c/{circle_id}/people")
    p.page.get_by_label("Name the circle will see").fill(name)
    p.page.get_by_role("group", name="Role").get_by_label(
        "Member: family, friend or neighbour"
    ).check()
    p.page.get_by_role("button", name="Make the invitation").click()
    expect(p.page.get_by_role("heading", name=f"Invitation for {name}", level=1)).to_be_visible()
    return (
        p.page.get_by_role("article", name="Invitation to print")
        .get_by_label("Copy the link")
        .input_value()
    )


def test_central_person_makes_new_links_for_those_still_to_join(live_server, person):
    circle_id, coordinator_url = live_server.create_circle(TITLE, "Noor")
    coord = person("Coordinator")
    assert join(coord, coordinator_url, username="noorstill") == circle_id
    central = person("Sanne")
    assert (
        join(central, live_server.invite(circle_id, "Sanne", "central"), username="sannestill")
        == circle_id
    )
    kept = invite_on_people_page(coord, circle_id, "Oma Riet")

    # The coordinator hands over, and is told that the links they had stop working.
    coord.goto(f"/c/{circle_id}/handover")
    expect(
        coord.page.get_by_text(
            "Invitation links that nobody has used yet stop working when you hand over"
        )
    ).to_be_visible()
    coord.page.get_by_role("button", name="Hand over and leave").click()
    expect(
        coord.page.get_by_role("status").filter(
            has_text="The invitation links you still had no longer work"
        )
    ).to_be_visible()

    # The link they kept gets nobody in, not even with a brand-new account.
    other = person("Someone with the kept link")
    other.expected_404.add("/join")
    other.page.goto(kept)
    expect(other.page.get_by_role("heading", name="This invitation does not work")).to_be_visible()

    # Sanne sees Oma under "Still to join" and makes her a new link.
    central.goto(f"/c/{circle_id}/people")
    still = central.page.get_by_role("region", name="Still to join")
    expect(still).to_be_visible()
    expect(still.get_by_text("Oma Riet", exact=True)).to_be_visible()
    central.screenshot("people-still-to-join")
    still.get_by_role("button", name="Make a new link for Oma Riet").click()
    expect(
        central.page.get_by_role("heading", name="New invitation for Oma Riet", level=1)
    ).to_be_visible()
    card = central.page.get_by_role("article", name="Invitation to print")
    expect(card.locator(".qr svg")).to_be_visible()
    fresh = card.get_by_label("Copy the link").input_value()
    assert fresh.startswith(f"{live_server.url}/i/") and fresh != kept

    # Oma joins with the new link, and nobody is left to join.
    oma = person("Oma Riet")
    assert join(oma, fresh, username="omastill") == circle_id
    central.goto(f"/c/{circle_id}/people")
    expect(central.page.get_by_role("region", name="Still to join")).to_have_count(0)
    # She is among the people now: her "Remove…" (asks first) is on the page.
    expect(
        central.page.locator("details.confirm summary").filter(has_text="Oma Riet")
    ).to_be_visible()
    assert re.search(r"/people$", central.page.url)
