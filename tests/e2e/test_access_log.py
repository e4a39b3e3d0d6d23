"""Who from outside the family looked (issue 13), end to end in real browsers.

Ellen, a professional, opens the plan twice and its print view. Sanne, the central
person, follows the link on the circle's home page to the access log and reads, in
plain words, that Ellen looked at the plan twice today. Ellen sees only her own lines;
"Who can see what" shows what a professional may do.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from . import test_foundation as foundation

pytestmark = pytest.mark.e2e


def test_a_professional_opens_the_plan_and_the_family_sees_it_in_the_access_log(
    live_server, person
):
    circle_id, coord_url = live_server.create_circle("Circle around Mila", "Coordinator")
    sanne, ellen = person("Sanne"), person("Ellen")
    assert (
        foundation.join(
            sanne, live_server.invite(circle_id, "Sanne", "central"), username="sanne.log"
        )
        == circle_id
    )
    assert (
        foundation.join(
            ellen, live_server.invite(circle_id, "Ellen", "professional"), username="ellen.log"
        )
        == circle_id
    )

    # Ellen opens the plan (twice) and its page to print.
    for path in ("plan", "plan", "plan/print"):
        ellen.goto(f"/c/{circle_id}/{path}")
    expect(ellen.page.get_by_role("heading", level=1)).to_be_visible()

    # Sanne finds the log from the circle's home page.
    sanne.goto(f"/c/{circle_id}")
    sanne.page.get_by_role("link", name="Who from outside the family looked").click()
    expect(sanne.page).to_have_url(re.compile(rf"/c/{circle_id}/access-log$"))
    now = datetime.now(ZoneInfo("Europe/Amsterdam"))
    today = f"{now.day} {now:%B} {now.year}"
    log = sanne.page.locator("ul.access-log")
    expect(log).to_contain_text(f"Ellen (professional) looked at the plan 2 times on {today}.")
    expect(log).to_contain_text(
        f"Ellen (professional) looked at the plan's page to print once on {today}."
    )
    expect(sanne.page.locator("main form")).to_have_count(0)  # read-only
    sanne.screenshot("access-log")

    # Ellen sees her own looks, and what a professional may do.
    ellen.goto(f"/c/{circle_id}/access-log")
    expect(ellen.page.locator("ul.access-log li")).to_have_count(2)
    ellen.page.get_by_role("link", name="Who can see what in this circle").click()
    professional = ellen.page.locator("#role-professional")
    expect(professional.locator("ul.cannot")).to_contain_text("read and write in the chat")
    expect(professional.locator("ul.can")).to_contain_text(
        "have what they open written in the access log"
    )
    expect(ellen.page.locator("#fact-chat")).to_contain_text("Professionals cannot read the chat")
    ellen.screenshot("who-can-see")

    for p in (sanne, ellen):
        assert not p.problems, p.problems
