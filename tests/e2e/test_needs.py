""" "What needs you" in a real browser (issue 14).

The coordinator puts a task for Oma in the plan, due today. Oma, a grandmother invited
in simple mode, opens ``/`` on her phone (her one circle's home), finds the task under
"What needs you", presses the one big Done: the page does not reload, the task is gone
from the list, a status says it is done, and the plan shows it ticked by her.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from . import test_foundation as foundation
from .conftest import PHONE

pytestmark = pytest.mark.e2e

TASK = "Water the plants on the balcony"


def test_a_member_ticks_her_task_from_what_needs_you(live_server, person):
    circle_id, coord_link = live_server.create_circle("Circle around Oma", "Noor")
    noor = person("Noor")
    assert foundation.join(noor, coord_link, username="needs_noor") == circle_id
    oma = person("Oma", viewport=PHONE)
    oma_link = live_server.invite(circle_id, "Oma", "member", simple_mode=True)
    assert foundation.join(oma, oma_link, username="needs_oma") == circle_id

    # Noor writes the task in the (draft) plan: Oma's, by today.
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    page = noor.page
    noor.goto(f"/c/{circle_id}/plan")
    page.get_by_role("link", name="Add a commitment").click()
    page.get_by_label("What will be done?").fill(TASK)
    page.get_by_role("group", name="Who does it?").get_by_label("Oma").check()
    page.get_by_role("group", name="When?").get_by_label("Once, by a date").check()
    page.get_by_label("Date (or first day)").fill(today.isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Added.")).to_be_visible()

    # Oma opens Kring: her one circle's home starts with what needs her.
    page = oma.page
    oma.goto("/")
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}$"))
    # Simple mode: bigger letters, the short menu, a neutral tab title.
    expect(page.locator("body")).to_have_class(re.compile(r"\bsimple\b"))
    expect(page.get_by_role("link", name="My tasks")).to_be_visible()
    expect(page).to_have_title("Notes")
    needs = page.get_by_role("region", name="What needs you")
    expect(needs).to_contain_text(TASK)
    page.evaluate("window.kringNotReloaded = true")
    done = needs.get_by_role("button", name=re.compile(r"^Done"))
    box = done.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box  # a big button a thumb finds
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    done.click()

    expect(needs).not_to_contain_text(TASK)
    expect(needs).to_contain_text("Nothing needs you today.")
    expect(needs.get_by_role("status")).to_have_text("Done. Well done!")
    assert page.evaluate("window.kringNotReloaded === true"), "the page reloaded"
    expect(page.get_by_role("heading", name="What needs you")).to_be_focused()

    # The plan shows it ticked, by her.
    oma.goto(f"/c/{circle_id}/plan")
    task = page.locator("article.commitment").filter(has_text=TASK)
    expect(task).to_contain_text("Done by Oma.")
