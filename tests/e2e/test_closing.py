"""Closing a circle in a real browser: the central person closes it after the
explanation; a member's chat then says it is closed and has no message box, and the
central person opens it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import Person
from .test_foundation import join

pytestmark = pytest.mark.e2e

TITLE = "Circle around Bram"


def test_central_person_closes_and_a_member_sees_it_closed(live_server, person):
    circle_id, coordinator_url = live_server.create_circle(TITLE, "Noor")
    coord: Person = person("Coordinator")
    assert join(coord, coordinator_url, username="noorclose") == circle_id
    central = person("Sanne")
    assert (
        join(central, live_server.invite(circle_id, "Sanne", "central"), username="sanneclose")
        == circle_id
    )
    member = person("Joost")
    assert (
        join(member, live_server.invite(circle_id, "Joost", "member"), username="joostclose")
        == circle_id
    )

    # The member can write before.
    member.goto(f"/c/{circle_id}/chat")
    expect(member.page.get_by_role("button", name="Send")).to_be_visible()

    # Sanne closes the circle from the settings page, after reading what it means.
    central.goto(f"/c/{circle_id}/settings")
    central.page.get_by_role("link", name="Close this circle…").click()
    expect(central.page.get_by_text("everything in the circle is deleted for good")).to_be_visible()
    central.page.get_by_role("button", name="Yes, close the circle").click()
    expect(
        central.page.get_by_role("status").filter(
            has_text="The circle is closed. Everyone in it has been told."
        )
    ).to_be_visible()
    expect(central.page.get_by_role("heading", name="This circle is closed")).to_be_visible()
    expect(central.page.get_by_role("link", name="everything in this circle")).to_have_attribute(
        "href", f"/c/{circle_id}/export"
    )

    # Joost's chat says it is closed, and there is no box to write in.
    member.goto(f"/c/{circle_id}/chat")
    expect(member.page.get_by_role("heading", name="This circle is closed")).to_be_visible()
    expect(member.page.get_by_text("no new messages can be written")).to_be_visible()
    expect(member.page.get_by_role("button", name="Send")).to_have_count(0)
    member.goto("/notifications")
    expect(member.page.get_by_text(f"Sanne closed {TITLE}")).to_be_visible()

    # Sanne opens it again; Joost can write once more.
    central.goto(f"/c/{circle_id}/close")
    central.page.get_by_role("button", name="Open the circle again").click()
    expect(
        central.page.get_by_role("status").filter(has_text="The circle is open again.")
    ).to_be_visible()
    member.goto(f"/c/{circle_id}/chat")
    expect(member.page.get_by_role("button", name="Send")).to_be_visible()
