"""Someone without internet, end to end in a real browser (issue 14): Sanne, a central
person, adds Oma (no internet) on the people page and says she may answer for her,
names Oma in a commitment, ticks it "for Oma", and the commitment's history says so."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from .test_plan import join

pytestmark = pytest.mark.e2e


def test_a_central_person_ticks_for_someone_without_internet(live_server, person):
    circle_id, _coordinator_link = live_server.create_circle("Circle around Noor", "Coordinator")
    sanne = person("Sanne")
    link = live_server.invite(circle_id, "Sanne", "central")
    assert join(sanne, link, username="offline_sanne") == circle_id
    page = sanne.page

    # Oma has no phone: Sanne adds her by name and role on the people page.
    sanne.goto(f"/c/{circle_id}/people")
    offline = page.locator("#offline")
    offline.get_by_label("Their name, as the circle will see it").fill("Oma")
    offline.get_by_role("group", name="Role").get_by_label("Member: family, friend").check()
    offline.get_by_role("button", name="Add to the circle").click()
    expect(page.get_by_role("status").filter(has_text="Oma is in the circle now.")).to_be_visible()
    oma_row = page.locator("li.row").filter(has_text="Oma (no internet)")
    expect(oma_row).to_be_visible()
    # Oma asked Sanne to answer for her.
    oma_row.get_by_role("group", name="Who may answer for Oma:").get_by_label("Sanne").check()
    oma_row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    sanne.screenshot("offline-people")

    # A commitment that names Oma (the plan is still being written: Sanne enters it).
    sanne.goto(f"/c/{circle_id}/plan")
    page.get_by_role("link", name="Add a commitment").click()
    page.get_by_label("What will be done?").fill("Make soup for Noor on Sundays")
    page.get_by_role("group", name="Who does it?").get_by_label("Oma").check()
    page.get_by_role("group", name="When?").get_by_label("Once, by a date").check()
    page.get_by_label("Date (or first day)").fill((date.today() + timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/plan$"))

    # Oma rang: the soup is made. Sanne ticks it for her.
    soup = page.locator("article.commitment").filter(has_text="Make soup for Noor")
    sanne.screenshot("offline-plan-for-whom")
    soup.get_by_label("Who did it?").select_option(label="Oma")
    soup.get_by_role("button", name="Mark as done").click()
    soup = page.locator("article.commitment").filter(has_text="Make soup for Noor")
    expect(soup).to_contain_text("Done by Sanne for Oma.")
    sanne.screenshot("offline-plan")

    soup.get_by_role("link", name="What was done").click()
    expect(page.get_by_role("heading", name="What was done", level=1)).to_be_visible()
    expect(page.locator("ol.history")).to_contain_text("Sanne for Oma ticked")
    sanne.screenshot("offline-commitment-history")
