"""The plan, end to end in real browsers.

Sanne (the central person) writes the plan and records that Sanne, Anna and Ben agreed
(version 1). Anna and Ben have the plan open in two browsers: Anna ticks a checklist step
and Ben sees it done without reloading. Anna proposes a new commitment, Ben and Sanne
consent, and version 2 reaches everyone; the versions page compares 1 with 2. Finally
the print page becomes a one-to-three page A4 PDF with the whole plan and no buttons.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import WebSocket, expect

from . import test_foundation as foundation
from .conftest import DESKTOP, PHONE, SCREENSHOTS, Person

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"
TITLE = "Circle around Mila"
QUESTION = "What is needed so that Mila can keep living safely with her mother?"
SHOES = "Take Mila to the doctor and buy school shoes"
STEP_1 = "Make the doctor's appointment"
STEP_2 = "Buy the school shoes"
SWIMMING = "Take Mila to swimming lessons"
IF_ILL = "If Sanne is ill, Anna takes Mila to school."
CONDITION = "Mila sees the school nurse every month."
HOMEWORK = "Help Mila with her homework"
OUTBOX_SHOTS = Path("/work/wt/shots/outbox")
LIVE_WAIT = 10_000  # ms for a change to reach another open page
JOIN_ACK = re.compile(r'^43\d+\[\{"ok":\s*true\}\]$')  # socket.io ack of plan:join


def long_day(d: date) -> str:
    """The plan's way of writing a day in English: "7 December 2026"."""
    return f"{d.day} {d:%B} {d.year}"


def join(p: Person, url: str, *, username: str) -> int:
    """Make an account through the invitation link; returns the circle id."""
    p.page.goto(url)
    expect(p.page).to_have_url(re.compile(r"/join$"))
    p.page.get_by_label("A username to sign in with").fill(username)
    p.page.get_by_label("Choose a password").fill(PASSWORD)
    p.page.get_by_label("The same password again").fill(PASSWORD)
    p.page.get_by_role("button", name="Join the circle").click()
    expect(p.page).to_have_url(re.compile(r"/c/\d+$"))
    expect(p.page.get_by_role("status").filter(has_text="Welcome to the circle.")).to_be_visible()
    return int(p.page.url.rsplit("/", 1)[1])


class Live:
    """Counts the server's answers to ``plan:join``: once one arrives for the page now
    open, the page is in the circle's room and gets every plan event from then on."""

    def __init__(self, p: Person) -> None:
        self.p = p
        self.joined = 0
        p.page.on("websocket", self._socket)

    def _socket(self, ws: WebSocket) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        if isinstance(payload, str) and JOIN_ACK.match(payload):
            self.joined += 1

    def open(self, action) -> None:
        """Run ``action`` (which loads the plan page) and wait until it follows the plan."""
        before = self.joined
        action()
        for _ in range(400):  # up to 20 s: the machine may be busy
            if self.joined > before:
                return
            self.p.page.wait_for_timeout(50)
        raise AssertionError(f"{self.p.name}: the plan page did not join its live updates")


class Line:
    """A person's WebSocket, routed through Playwright so the test can cut it: ``cut()``
    closes it and keeps every new connection from getting through until ``restore()``."""

    def __init__(self, p: Person) -> None:
        self.up = True
        self.refused = 0
        self.live: list = []
        p.page.route_web_socket(re.compile(r"/socket\.io/"), self._route)

    def _route(self, ws) -> None:
        server = ws.connect_to_server()
        if self.up:
            self.live.append((ws, server))
            return
        done = []

        def refuse(message) -> None:  # the first handshake packet, then the line dies
            if not done:
                done.append(True)
                self.refused += 1
                ws.send(message)
                ws.close()
                server.close()

        ws.on_message(lambda _message: None)
        server.on_message(refuse)

    def cut(self, page) -> None:
        self.up = False
        for ws, server in self.live:
            ws.close()
            server.close()
        self.live.clear()
        for _ in range(400):  # the page noticed and is trying to come back
            if self.refused:
                return
            page.wait_for_timeout(50)
        raise AssertionError("the page did not try to reconnect")

    def restore(self) -> None:
        self.refused = 0
        self.up = True


def open_plan(p: Person, circle_id: int) -> None:
    p.page.get_by_role("navigation", name="This circle").get_by_role("link", name="Plan").click()
    expect(p.page).to_have_url(re.compile(rf"/c/{circle_id}/plan$"))
    expect(p.page.get_by_role("heading", name="Commitments", level=2)).to_be_visible()


def commitment(p: Person, what: str):
    return p.page.locator("article.commitment").filter(
        has=p.page.get_by_role("heading", name=what, level=3)
    )


def step(p: Person, what: str, text: str):
    return commitment(p, what).locator(".checklist li").filter(has_text=text)


def check_layout(p: Person, name: str, failures: list[str]) -> None:
    """At phone width: nothing wider than the screen, every target at least 44px high."""
    p.page.set_viewport_size(PHONE)
    result = p.page.evaluate(foundation.LAYOUT_CHECK)
    if result["scrollWidth"] > PHONE["width"]:
        failures.append(f"{name}: scrollWidth {result['scrollWidth']}: {result['wide'][:5]}")
    if result["tooLow"]:
        failures.append(f"{name}: targets below 44px: {result['tooLow']}")


def shot_outbox(p: Person, name: str, where) -> None:
    """A phone-size picture of a confirmation step, for the people who check the design."""
    p.page.set_viewport_size(PHONE)
    where.scroll_into_view_if_needed()
    OUTBOX_SHOTS.mkdir(parents=True, exist_ok=True)
    p.page.screenshot(path=str(OUTBOX_SHOTS / f"{name}.png"))


def pdf_pages(data: bytes) -> int:
    try:
        import pypdf  # noqa: PLC0415
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    import io  # noqa: PLC0415

    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


def test_plan_agree_tick_live_propose_consent_and_print(live_server, person):
    today = date.today()
    by_day = today + timedelta(days=14)
    evaluation_day = today + timedelta(days=90)
    circle_id, _coordinator_url = live_server.create_circle(TITLE, "Noor", question=QUESTION)
    layout: list[str] = []

    # --- Setup: Sanne, Anna, Ben and a professional join through their links ----------
    sanne = person("Sanne", viewport=DESKTOP)
    anna = person("Anna", viewport=DESKTOP)
    ben = person("Ben")  # on a phone
    els = person("Els")
    assert (
        join(sanne, live_server.invite(circle_id, "Sanne", "central"), username="plan_sanne")
        == circle_id
    )
    assert (
        join(anna, live_server.invite(circle_id, "Anna", "member"), username="plan_anna")
        == circle_id
    )
    assert (
        join(ben, live_server.invite(circle_id, "Ben", "member"), username="plan_ben") == circle_id
    )
    assert (
        join(
            els,
            live_server.invite(circle_id, "Els (youth care)", "professional"),
            username="plan_els",
        )
        == circle_id
    )

    # --- Sanne writes the plan on the Plan tab ----------------------------------------
    page = sanne.page
    open_plan(sanne, circle_id)
    expect(page.get_by_text("The plan is being written. It is not agreed yet.")).to_be_visible()
    expect(page.get_by_text("No commitments yet.")).to_be_visible()

    # A one-off commitment with a checklist of two steps, for Anna and Ben.
    page.get_by_role("link", name="Add a commitment").click()
    expect(page.get_by_role("heading", name="Add a commitment", level=1)).to_be_visible()
    page.get_by_label("What will be done?").fill(SHOES)
    who = page.get_by_role("group", name="Who does it?")
    who.get_by_label("Anna").check()
    who.get_by_label("Ben").check()
    page.get_by_role("group", name="When?").get_by_label("Once, by a date").check()
    # Only the fields of the chosen kind of "when" show.
    days = page.get_by_role("group", name="On which days? (for every week)")
    last_day = page.get_by_label("Last day (for a period, or when it stops)")
    every = page.get_by_label("Every how many weeks?")
    for other in (days, last_day, every):
        expect(other).to_be_hidden()
    page.get_by_role("group", name="When?").get_by_label("Every few weeks").check()
    expect(every).to_be_visible()
    expect(last_day).to_be_visible()
    expect(days).to_be_hidden()
    page.get_by_role("group", name="When?").get_by_label("Once, by a date").check()
    expect(every).to_be_hidden()
    page.get_by_label("Date (or first day)").fill(by_day.isoformat())
    page.get_by_label("Who checks it?").select_option(label="Sanne")
    page.get_by_label("Checklist (optional)").fill(f"{STEP_1}\n{STEP_2}")
    sanne.screenshot("plan-commitment-form")
    check_layout(sanne, "commitment form (draft)", layout)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/c/{circle_id}/plan$"))
    expect(page.get_by_role("status").filter(has_text="Added.")).to_be_visible()
    shoes = commitment(sanne, SHOES)
    expect(shoes).to_contain_text("Anna, Ben")
    expect(shoes).to_contain_text(f"By {long_day(by_day)}")
    expect(shoes.locator(".checklist li")).to_have_count(2)

    # A weekly commitment.
    page.get_by_role("link", name="Add a commitment").click()
    page.get_by_label("What will be done?").fill(SWIMMING)
    page.get_by_role("group", name="Who does it?").get_by_label("Ben").check()
    page.get_by_role("group", name="When?").get_by_label("Every week, on certain days").check()
    expect(page.get_by_label("Every how many weeks?")).to_be_hidden()
    page.get_by_label("Date (or first day)").fill(today.isoformat())
    page.get_by_role("group", name="On which days? (for every week)").get_by_label(
        "Wednesday"
    ).check()
    page.get_by_role("button", name="Save").click()
    expect(commitment(sanne, SWIMMING)).to_contain_text("Every week on Wednesday")

    # "If things go differently" and the evaluation date.
    page.get_by_label("If things go differently, then…").fill(IF_ILL)
    page.get_by_role("button", name="Add this backup plan").click()
    expect(page.locator("#agreements")).to_contain_text(IF_ILL)
    # Removing asks first (before version 1 a commitment is simply removed).
    swimming = commitment(sanne, SWIMMING)
    swimming.get_by_text("Remove…").click()
    expect(swimming.get_by_text("Remove this commitment from the plan?")).to_be_visible()
    expect(swimming.get_by_role("button", name="Yes, remove it")).to_be_visible()
    shot_outbox(sanne, "plan-remove-commitment-confirm-phone", swimming)
    check_layout(sanne, "plan: remove a commitment, asking first", layout)
    swimming.get_by_text("No, keep it").click()
    expect(swimming.get_by_role("button", name="Yes, remove it")).to_be_hidden()
    page.get_by_label("If things go differently, then…").fill("If it rains, we stay in.")
    page.get_by_role("button", name="Add this backup plan").click()
    rain = page.locator("#agreements li").filter(has_text="If it rains, we stay in.")
    rain.get_by_text("Remove…").click()
    rain.get_by_role("button", name="Yes, remove it").click()
    expect(page.locator("#agreements")).not_to_contain_text("If it rains")
    expect(commitment(sanne, SWIMMING)).to_have_count(1)
    page.set_viewport_size(DESKTOP)

    page.get_by_label("When do we look at the plan together again?").fill(
        evaluation_day.isoformat()
    )
    page.get_by_role("button", name="Save the date").click()
    evaluation_text = f"We look at the plan together on {long_day(evaluation_day)}."
    expect(page.get_by_text(evaluation_text)).to_be_visible()

    # The professional sets a condition while the plan is still a draft.
    els.goto(f"/c/{circle_id}/plan")
    els.page.get_by_label("Condition").fill(CONDITION)
    els.page.get_by_role("button", name="Add the condition").click()
    expect(els.page.locator("#conditions")).to_contain_text(CONDITION)
    expect(els.page.locator("#conditions")).to_contain_text("Els (youth care)")

    # Sanne records who agreed: all three. That is version 1.
    sanne.goto(f"/c/{circle_id}/plan")
    page.get_by_role("link", name="Record who agreed").click()
    present = page.get_by_role("group", name="Who was there and agreed?")
    # Only the people who vote are listed: not the professional.
    expect(present.get_by_role("checkbox")).to_have_count(3)
    for name in ("Sanne", "Anna", "Ben"):
        present.get_by_label(name).check()
    sanne.screenshot("plan-agree")
    check_layout(sanne, "record who agreed", layout)
    page.get_by_role("button", name="The plan is agreed").click()
    expect(
        page.get_by_role("status").filter(has_text="The plan is agreed. This is version 1.")
    ).to_be_visible()
    expect(page.get_by_text("Version 1 of the plan.")).to_be_visible()
    # From now on the plan is changed by proposals only.
    expect(page.get_by_role("link", name="Propose a new commitment")).to_be_visible()
    expect(page.get_by_role("link", name="Add a commitment")).to_have_count(0)

    # Removing a person asks first too (the people page of a central person).
    sanne.page.get_by_role("navigation", name="This circle").get_by_role(
        "link", name="People"
    ).click()
    els_row = sanne.page.locator("li.row").filter(has_text="Els (youth care)")
    els_row.get_by_text("Remove…").click()
    expect(els_row.get_by_text("Remove Els (youth care) from this circle?")).to_be_visible()
    els_row.scroll_into_view_if_needed()
    shot_outbox(sanne, "people-remove-confirm-phone", els_row)
    check_layout(sanne, "people: remove, asking first", layout)
    els_row.get_by_text("No, keep Els (youth care)").click()
    expect(els_row.get_by_role("button", name=re.compile("Yes, remove"))).to_be_hidden()
    sanne.page.set_viewport_size(DESKTOP)

    # --- Anna and Ben have the plan open; Anna ticks a step; Ben sees it live ---------
    anna_live, ben_live = Live(anna), Live(ben)
    ben_line = Line(ben)
    anna_live.open(lambda: open_plan(anna, circle_id))
    ben_live.open(lambda: open_plan(ben, circle_id))
    for p in (anna, ben):
        expect(p.page.get_by_text("Version 1 of the plan.")).to_be_visible()
        expect(commitment(p, SHOES)).to_be_visible()
    ben_step = step(ben, SHOES, STEP_1)
    expect(ben_step).not_to_have_class(re.compile(r"\bdone\b"))
    expect(ben_step.get_by_role("button", name=re.compile(STEP_1))).to_be_visible()

    ben.page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    anna.page.get_by_role("button", name=STEP_1, exact=True).click()
    expect(step(anna, SHOES, STEP_1)).to_have_class(re.compile(r"\bdone\b"))
    expect(step(anna, SHOES, STEP_1)).to_contain_text("done by Anna")

    # Ben did not reload: the step flips to done on his screen.
    ben_step = step(ben, SHOES, STEP_1)
    expect(ben_step).to_have_class(re.compile(r"\bdone\b"), timeout=LIVE_WAIT)
    expect(ben_step.locator(".tick")).to_have_text("✓")
    expect(ben_step).to_contain_text("done by Anna")
    expect(ben_step.get_by_role("button")).to_have_count(0)  # only Anna may undo her tick
    expect(step(ben, SHOES, STEP_2)).not_to_have_class(re.compile(r"\bdone\b"))
    assert ben.page.evaluate("window.stillTheSamePage") is True

    # Ben's connection drops. While it is down Anna undoes her tick, and then ticks it
    # again during a second drop: Ben sees each change once he is back, without a reload.
    ben_line.cut(ben.page)
    step(anna, SHOES, STEP_1).get_by_role("button", name="Undo").click()
    expect(step(anna, SHOES, STEP_1)).not_to_have_class(re.compile(r"\bdone\b"))
    expect(step(ben, SHOES, STEP_1)).to_have_class(re.compile(r"\bdone\b"))  # he is away
    ben_line.restore()
    expect(step(ben, SHOES, STEP_1)).not_to_have_class(re.compile(r"\bdone\b"), timeout=20_000)
    ben_line.cut(ben.page)
    anna.page.get_by_role("button", name=STEP_1, exact=True).click()
    expect(step(anna, SHOES, STEP_1)).to_have_class(re.compile(r"\bdone\b"))
    ben_line.restore()
    expect(step(ben, SHOES, STEP_1)).to_have_class(re.compile(r"\bdone\b"), timeout=20_000)
    expect(step(ben, SHOES, STEP_1)).to_contain_text("done by Anna")
    assert ben.page.evaluate("window.stillTheSamePage") is True
    ben.screenshot("plan-member")
    check_layout(ben, "plan (member)", layout)

    # --- Anna proposes a new commitment -----------------------------------------------
    anna.page.get_by_role("link", name="Propose a new commitment").click()
    form = anna.page
    expect(form.get_by_role("heading", name="Propose a new commitment", level=1)).to_be_visible()
    expect(form.get_by_text("it enters the plan when everyone agrees")).to_be_visible()
    form.get_by_label("What will be done?").fill(HOMEWORK)
    form.get_by_role("group", name="Who does it?").get_by_label("Anna").check()
    form.get_by_role("group", name="When?").get_by_label("Every week, on certain days").check()
    form.get_by_label("Date (or first day)").fill(today.isoformat())
    days = form.get_by_role("group", name="On which days? (for every week)")
    days.get_by_label("Tuesday").check()
    days.get_by_label("Thursday").check()
    form.get_by_label("Why do you propose this? (optional)").fill("Her maths is hard.")
    anna.screenshot("plan-proposal-form")
    check_layout(anna, "commitment form (proposal)", layout)
    anna_live.open(lambda: form.get_by_role("button", name="Send the proposal").click())
    expect(
        form.get_by_role("status").filter(has_text="Your proposal is sent to the circle.")
    ).to_be_visible()
    # Proposed, not yet in the plan.
    expect(commitment(anna, HOMEWORK)).to_have_count(0)
    proposal = anna.page.locator("#proposals article.proposal")
    expect(proposal).to_have_count(1)
    expect(proposal).to_contain_text(HOMEWORK)
    expect(proposal).to_contain_text("Proposed by Anna: Her maths is hard.")

    # Ben, who still has the plan open, hears that something changed.
    notice = ben.page.locator("#plan-notice")
    expect(notice).to_be_visible(timeout=LIVE_WAIT)
    expect(notice).to_contain_text("Something changed.")
    ben_live.open(lambda: notice.get_by_role("link", name="Reload").click())
    ben_proposal = ben.page.locator("#proposals article.proposal")
    expect(ben_proposal).to_contain_text(HOMEWORK)
    votes = ben_proposal.locator(".votes")
    expect(votes.get_by_role("listitem").filter(has_text="Anna")).to_contain_text("agrees")
    expect(votes.get_by_role("listitem").filter(has_text="Ben")).to_contain_text(
        "has not answered yet"
    )
    expect(votes.get_by_role("listitem").filter(has_text="Sanne")).to_contain_text(
        "has not answered yet"
    )
    expect(ben_proposal.get_by_role("button", name="I agree")).to_be_visible()
    expect(ben_proposal.get_by_text("I object")).to_be_visible()
    ben.page.locator("#proposals").scroll_into_view_if_needed()
    ben.screenshot("plan-proposal")
    ben_live.open(lambda: ben_proposal.get_by_role("button", name="I agree").click())
    expect(ben.page.locator("#proposals .votes li").filter(has_text="Ben")).to_contain_text(
        "agrees"
    )
    expect(commitment(ben, HOMEWORK)).to_have_count(0)  # Sanne has not answered yet

    # Sanne agrees last: the change enters the plan as version 2.
    for p in (anna, ben):
        p.page.evaluate("window.stillTheSamePage = true")
    sanne.goto(f"/c/{circle_id}/plan")
    sanne.page.locator("#proposals article.proposal").get_by_role("button", name="I agree").click()
    expect(
        sanne.page.get_by_role("status").filter(
            has_text="Everyone agreed. The plan has a new version."
        )
    ).to_be_visible()
    expect(sanne.page.get_by_text("Version 2 of the plan.")).to_be_visible()
    expect(commitment(sanne, HOMEWORK)).to_contain_text("Every week on Tuesday, Thursday")
    expect(sanne.page.locator("#proposals")).to_have_count(0)

    # Anna and Ben did not reload: the new version reaches their open pages.
    for p in (anna, ben):
        expect(commitment(p, HOMEWORK)).to_be_visible(timeout=LIVE_WAIT)
        expect(p.page.get_by_text("Version 2 of the plan.")).to_be_visible()
        expect(p.page.locator("#proposals")).to_have_count(0)
        expect(p.page.get_by_role("button", name="I agree")).to_have_count(0)
        assert p.page.evaluate("window.stillTheSamePage") is True
    # ... and a reload shows the same.
    ben.goto(f"/c/{circle_id}/plan")
    expect(ben.page.get_by_text("Version 2 of the plan.")).to_be_visible()
    expect(commitment(ben, HOMEWORK)).to_contain_text("Anna")
    expect(step(ben, SHOES, STEP_1)).to_have_class(re.compile(r"\bdone\b"))  # tick kept

    # --- Versions: compare 1 with 2 ------------------------------------------------------
    ben.page.get_by_role("link", name="All versions").click()
    expect(ben.page).to_have_url(re.compile(rf"/c/{circle_id}/plan/versions$"))
    rows = ben.page.locator("ol.rows > li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Version 2")
    expect(rows.nth(0)).to_contain_text("Change agreed by: Anna, Ben, Sanne")
    expect(rows.nth(1)).to_contain_text("Version 1")
    expect(rows.nth(1)).to_contain_text("Agreed by: Anna, Ben, Sanne")
    ben.screenshot("plan-versions")
    check_layout(ben, "versions", layout)
    expect(ben.page.get_by_label("Compare version")).to_have_value("1")
    expect(ben.page.get_by_label("with version")).to_have_value("2")
    ben.page.get_by_role("button", name="Show the differences").click()
    expect(
        ben.page.get_by_role("heading", name="What changed between version 1 and version 2")
    ).to_be_visible()
    head = ben.page.locator(".diff-head")
    expect(head).to_contain_text("Agreed by: Anna, Ben, Sanne")
    expect(head).to_contain_text("Change agreed by: Anna, Ben, Sanne")
    added = ben.page.locator(".diff-row.diff-added")
    expect(added).to_have_count(1)
    expect(added).to_contain_text(HOMEWORK)
    expect(added.locator(".diff-label")).to_have_text("Added")
    expect(added.locator(".left")).to_have_text("")
    # What did not change is shown as the same.
    for same in (SHOES, SWIMMING, IF_ILL, CONDITION):
        expect(ben.page.locator(".diff-row.diff-same").filter(has_text=same)).to_have_count(1)
    ben.screenshot("plan-diff")
    check_layout(ben, "diff", layout)

    # --- My commitments ---------------------------------------------------------------
    anna.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My commitments"
    ).click()
    expect(anna.page.get_by_role("heading", name="My commitments", level=1)).to_be_visible()
    expect(anna.page.get_by_role("link", name=TITLE)).to_be_visible()
    mine = anna.page.locator("main article.commitment")
    expect(mine).to_have_count(2)
    expect(mine.filter(has_text=SHOES)).to_contain_text(f"By {long_day(by_day)}")
    expect(mine.filter(has_text=HOMEWORK)).to_contain_text("Every week on Tuesday, Thursday")
    expect(anna.page.get_by_text(SWIMMING)).to_have_count(0)  # that one is Ben's
    # Anna ticks the second step right here and stays on her page.
    mine.filter(has_text=SHOES).get_by_role("button", name=re.compile(STEP_2)).click()
    expect(anna.page).to_have_url(re.compile(r"/me/commitments#c\d+$"))
    done_step = mine.filter(has_text=SHOES).locator(".checklist li").filter(has_text=STEP_2)
    expect(done_step).to_have_class(re.compile(r"\bdone\b"))
    expect(done_step).to_contain_text("done by Anna")
    anna.screenshot("plan-mine")
    check_layout(anna, "my commitments", layout)

    # --- Print -------------------------------------------------------------------------
    ben.goto(f"/c/{circle_id}/plan")
    ben.page.get_by_role("link", name="Print", exact=True).click()
    expect(ben.page).to_have_url(re.compile(rf"/c/{circle_id}/plan/print$"))
    doc = ben.page.locator("article.print-plan")
    ben.page.emulate_media(media="print")
    ben.page.set_viewport_size(PHONE)
    for hidden in (
        ben.page.get_by_role("banner"),
        ben.page.get_by_role("contentinfo"),
        ben.page.get_by_role("button", name="Print"),
        ben.page.get_by_role("link", name="Back to the plan"),
    ):
        expect(hidden).to_be_hidden()
    for text in (
        TITLE,
        QUESTION,
        "Version 2 of the plan.",
        SHOES,
        STEP_1,
        STEP_2,
        SWIMMING,
        HOMEWORK,
        CONDITION,
        IF_ILL,
        evaluation_text,
    ):
        expect(doc.get_by_text(text, exact=False).first).to_be_visible()
    ben.page.screenshot(path=str(SCREENSHOTS / "plan-print.png"), full_page=True)
    SCREENSHOTS.mkdir(exist_ok=True)
    pdf = SCREENSHOTS / "plan.pdf"
    ben.page.pdf(path=str(pdf), format="A4")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert 1 <= pdf_pages(data) <= 3, pdf_pages(data)
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        flat = " ".join(text.split())
        for needle in (TITLE, "Version 2 of the plan.", STEP_2, CONDITION, IF_ILL, evaluation_text):
            assert needle in flat, (needle, text)
        for absent in ("Back to the plan", "My commitments", "Sign out", "I agree"):
            assert absent not in flat, (absent, text)
    ben.page.emulate_media(media="screen")

    assert not layout, "\n".join(layout)
