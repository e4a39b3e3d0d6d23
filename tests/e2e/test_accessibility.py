"""Accessibility gate (issue 14): axe-core, touch targets, 200% text and the keyboard.

A populated circle (``kring demo``: two weeks of chat, a plan at version 2 with
checklists and ticks, an open proposal, a date poll, a reviewed meeting) gets one account
per role, and a plan keeper. For every role, in normal and simple mode, at 390 px and
1280 px, one browser context visits every page in PAGES and checks:

* axe-core (npm ``axe-core``, the version in package-lock.json) finds 0 violations for
  the WCAG 2.0/2.1/2.2 A and AA tags;
* every visible interactive element is at least 44x44 px (a checkbox or radio button
  counts with its label: the label is what a finger hits); offenders are reported by
  selector;
* at 390 px, with the text at 200%, nothing scrolls sideways.

**How axe is injected.** ``page.add_script_tag(path=...)`` adds an inline ``<script>``,
which Kring's Content-Security-Policy (``script-src 'self'``) refuses, and turning the
policy off (``bypass_csp``) would hide the page's own violations. So the file's text is
run with ``page.evaluate`` (DevTools evaluation, which the page's CSP does not govern).

**How "200% text" is made.** A phone's "larger text" setting raises the browser's default
font size; Kring sizes everything in rem/em from the root (``:root { font-size: 112.5% }``),
so the test doubles the root element's computed font size (set through the CSS object
model, which the CSP allows; a ``<style>`` tag would be refused). Browser zoom would not
do: at 200% zoom a 390 px phone is a 195 px viewport, which is a different check.

To add a page or a role after a merge: add a row to PAGES (``who`` says which roles see
it; the others are not asked) or to ROLE_SETUP in ``_SETUP`` below.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from .conftest import DESKTOP, PHONE, ROOT, SCREENSHOTS

pytestmark = pytest.mark.e2e

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PASSWORD = "a long enough password"
FAMILY = ("central", "plan keeper", "member", "supporter")
EVERYONE = ("coordinator", *FAMILY, "professional")
LEADERS = ("coordinator", "central")


@dataclass(frozen=True)
class PageRow:
    name: str
    path: str  # formatted with circle, meeting (the open poll), fixed (a held meeting)
    who: tuple[str, ...] = EVERYONE


#: Every main page, and who sees it. Add rows here for new pages.
PAGES = [
    PageRow("home", "/"),
    PageRow("circle home", "/c/{circle}"),
    PageRow("chat", "/c/{circle}/chat", ("coordinator", *FAMILY)),
    PageRow("plan", "/c/{circle}/plan"),
    PageRow("my commitments", "/me/commitments"),
    PageRow("meetings", "/c/{circle}/meetings"),
    PageRow("a meeting poll", "/c/{circle}/meetings/{meeting}"),
    PageRow("a held meeting", "/c/{circle}/meetings/{fixed}"),
    PageRow("people", "/c/{circle}/people", LEADERS),
    PageRow("history", "/c/{circle}/history"),
    PageRow("account", "/account"),
    PageRow("news", "/notifications"),
    PageRow("access log", "/c/{circle}/access-log", ("central",)),
    PageRow("who can see", "/c/{circle}/who-can-see"),
    PageRow("new commitment", "/c/{circle}/plan/commitments/new", ("central", "member")),
    PageRow("new meeting", "/c/{circle}/meetings/new", ("central",)),
    PageRow("private line", "/c/{circle}/line/{line}", ("supporter",)),
    PageRow("who may answer for me", "/c/{circle}/answer-for-me", ("member", "supporter")),
    PageRow("calendar feed", "/account/calendar", ("member",)),
]
ROLES = ("coordinator", "central", "plan keeper", "member", "supporter", "professional")
MODES = ("normal", "simple")
WIDTHS = {"390": PHONE, "1280": DESKTOP}
# A quicker look while fixing a page: A11Y_ROLES=central A11Y_MODES=normal A11Y_WIDTHS=390
# (comma-separated). The suite runs everything.
if os.environ.get("A11Y_ROLES"):
    ROLES = tuple(r for r in ROLES if r in os.environ["A11Y_ROLES"].split(","))
if os.environ.get("A11Y_MODES"):
    MODES = tuple(m for m in MODES if m in os.environ["A11Y_MODES"].split(","))
if os.environ.get("A11Y_WIDTHS"):
    WIDTHS = {w: v for w, v in WIDTHS.items() if w in os.environ["A11Y_WIDTHS"].split(",")}

# Run inside the live server's environment (its database): the demo circle, one account
# per role (through the real services), and a plan keeper. Prints what the test needs.
_SETUP = """
import json
from datetime import date, datetime, time, timedelta
from sqlalchemy import select
from app import app
from portal.demo import ROLES, build_demo
from portal.extensions import db
from portal.models import Meeting, SupportLine
from portal.models.circles import Role
from portal.services import accounts, circles as circle_svc, meetings as meeting_svc

with app.app_context():
    built = build_demo("en")
    circle = built.circle
    users, central, supporter = {}, None, None
    for label in ROLES:
        user = accounts.create_user(
            name=label.title(), username="a11y-" + label, password=PASSWORD, locale="en")
        member = circle_svc.redeem_invitation(built.tokens[label], user)
        users[label] = user.username
        central = member if label == "central" else central
        supporter = member if label == "supporter" else supporter
    _inv, token = circle_svc.invite(
        circle, central, name="Kees", role=Role.MEMBER, supporter_of=None)
    user = accounts.create_user(name="Kees", username="a11y-keeper", password=PASSWORD, locale="en")
    keeper = circle_svc.redeem_invitation(token, user)
    circle_svc.set_flags(circle, central, keeper, plan_keeper=True, followup=True)
    users["plan keeper"] = user.username
    # A poll that asks everyone who joined here (the demo's asks the demo's people).
    soon = datetime.combine(date.today() + timedelta(days=9), time(19, 30))
    everyone = [m.id for m in circle.memberships]
    poll = meeting_svc.propose_meeting(circle, central, meeting_svc.MeetingData(
        title="Our next meeting", purpose="How is the plan going?", place="At Mark's",
        video_link="", duration_minutes=90, invitee_ids=everyone,
        options=[meeting_svc.local_to_utc(soon + timedelta(days=d), circle.timezone)
                 for d in (0, 1, 2)]))
    meetings = db.session.scalars(select(Meeting).where(Meeting.circle_id == circle.id)).all()
    db.session.commit()
    print(json.dumps({
        "circle": circle.id, "users": users, "meeting": poll.id,
        "fixed": next(m.id for m in meetings if m.status == "fixed"),
        "line": db.session.scalar(
            select(SupportLine.id).where(SupportLine.supporter_id == supporter.id)),
    }))
"""

_SIMPLE = """
from sqlalchemy import update
from app import app
from portal.extensions import db
from portal.models import User
with app.app_context():
    db.session.execute(update(User).where(User.username.startswith("a11y-")).values(simple_mode=ON))
    db.session.commit()
"""

# The visible interactive elements smaller than 44x44 px, by a readable selector. A
# checkbox or radio button is measured with its label; links inside running text
# (WCAG 2.5.8's "inline" exception) are measured by the line box they sit in.
_TARGETS = r"""
() => {
  const MIN = 44 - 0.5;
  const sel = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) return s + "#" + el.id;
    if (el.name) s += `[name="${el.name}"]`;
    if (el.classList.length) s += "." + [...el.classList].join(".");
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || "")
      .trim().slice(0, 30);
    const parent = el.closest("[id]");
    return (parent ? "#" + parent.id + " " : "") + s + (text ? ` "${text}"` : "");
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== "hidden"
      && !el.closest("[hidden], [inert]")
      && !el.closest(".visually-hidden");
  };
  const out = [];
  const items = document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], " +
    "[tabindex]:not([tabindex='-1'])");
  for (const el of items) {
    if (!visible(el)) continue;
    if (el.classList.contains("skip")) continue; // shown only on focus, then large
    let box = el;
    if (el.matches("input[type=checkbox], input[type=radio]")) {
      box = el.closest("label") || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    let r = box.getBoundingClientRect();
    if (el.matches("a") && getComputedStyle(el).display === "inline") {
      // An inline link: the boxes of its line fragments, padding included.
      const rects = [...el.getClientRects()];
      r = { width: Math.max(...rects.map((x) => x.width)),
            height: Math.max(...rects.map((x) => x.height)) };
    }
    if (r.width < MIN || r.height < MIN)
      out.push(`${sel(el)} (${Math.round(r.width)}x${Math.round(r.height)})`);
  }
  return out;
}
"""

# At 200% text: is anything wider than the window? Names the widest offenders.
_SIDEWAYS = r"""
() => {
  const classes = (el) => typeof el.className === "string" && el.className
    ? "." + el.className.split(" ").join(".") : "";
  const root = document.documentElement;
  const base = parseFloat(getComputedStyle(root).fontSize);
  root.style.fontSize = (base * 2) + "px";
  const W = root.clientWidth;
  const wide = root.scrollWidth > W + 1;
  const out = [];
  if (wide) {
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > W + 1 && !el.closest(".skip, .visually-hidden")) {
        const kids = [...el.children].some((c) => c.getBoundingClientRect().right > W + 1);
        if (!kids) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
          classes(el) +
          ` (right edge ${Math.round(r.right)} > ${W})`);
      }
    }
  }
  if (wide && !out.length) {
    // Text wider than its box (a long word, a line that cannot wrap).
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (!n.textContent.trim() || n.parentElement.closest(".visually-hidden")) continue;
      range.selectNodeContents(n);
      const r = range.getBoundingClientRect();
      if (r.width > 0 && r.right > W + 1) {
        const el = n.parentElement;
        out.push(`text "${n.textContent.trim().slice(0, 40)}" in ` + el.tagName.toLowerCase() +
          classes(el) +
          ` (right edge ${Math.round(r.right)} > ${W})`);
      }
    }
  }
  root.style.fontSize = "";
  if (!wide) return [];
  return out.length ? out.slice(0, 8) : [`the page (scrollWidth ${root.scrollWidth} > ${W})`];
}
"""

_AXE_RUN = """
async (tags) => {
  const r = await axe.run(document, {
    runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
    v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(" | "));
}
"""


def _python(live_server, script: str, **names) -> str:
    prelude = "".join(f"{k} = {v!r}\n" for k, v in names.items())
    done = subprocess.run(
        [sys.executable, "-c", prelude + script],
        cwd=ROOT,
        env=live_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def circle(live_server, browser):
    """The populated circle and a signed-in browser state per role."""
    assert AXE.exists(), f"{AXE} is missing: run `make setup` (npm ci) first"
    data = json.loads(_python(live_server, _SETUP, PASSWORD=PASSWORD).strip().splitlines()[-1])
    states = {}
    for role, username in data["users"].items():
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Your username or email").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/(c/\d+|circles)?$"))
        states[role] = context.storage_state()
        context.close()
    data["states"] = states
    return data


def _open(browser, live_server, state, viewport):
    context = browser.new_context(
        base_url=live_server.url,
        viewport=viewport,
        locale="en-US",
        timezone_id="Europe/Amsterdam",
        storage_state=state,
    )
    context.set_default_timeout(15_000)
    problems: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}") if "Content Security Policy" in m.text else None
        ),
    )
    return context, page, problems


def test_every_page_for_every_role_mode_and_width(live_server, browser, circle):
    started = time.monotonic()
    axe_source = AXE.read_text()
    found: list[str] = []
    visits = 0
    for mode in MODES:
        _python(live_server, _SIMPLE, ON=(mode == "simple"))
        for role in ROLES:
            for width, viewport in WIDTHS.items():
                context, page, problems = _open(
                    browser, live_server, circle["states"][role], viewport
                )
                for row in PAGES:
                    if role not in row.who:
                        continue
                    path = row.path.format(**circle)
                    where = f"[{role}, {mode}, {width}px] {row.name} {path}"
                    response = page.goto(path, wait_until="load")
                    assert response and response.status == 200, (
                        f"{where}: {response and response.status}"
                    )
                    visits += 1
                    if not page.evaluate("() => typeof axe !== 'undefined'"):
                        page.evaluate(axe_source)
                    found += [f"{where}: axe {v}" for v in page.evaluate(_AXE_RUN, AXE_TAGS)]
                    found += [f"{where}: small target {t}" for t in page.evaluate(_TARGETS)]
                    if width == "390":
                        found += [
                            f"{where}: sideways at 200% text: {s}" for s in page.evaluate(_SIDEWAYS)
                        ]
                    h1 = page.locator("h1").count()
                    if h1 != 1:
                        found.append(f"{where}: {h1} h1 elements")
                found += [f"[{role}, {mode}, {width}px] {p}" for p in problems]
                context.close()
    print(f"\naccessibility: {visits} page visits in {time.monotonic() - started:.0f} s")
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)


def _tab_to(page: Page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector`` (fails after ``limit``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(s) => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_message_tick_and_poll(live_server, browser, circle):
    """The plan keeper sends a message, ticks a checklist step and answers the poll using
    only Tab, Enter and Space (no mouse, no click()); a form sent back with an error puts
    the focus on the field to fix."""
    _python(live_server, _SIMPLE, ON=False)
    context, page, problems = _open(browser, live_server, circle["states"]["plan keeper"], PHONE)
    c = circle["circle"]

    # Chat: the skip link (the second Tab stop) leads straight to the message box.
    page.goto(f"/c/{c}/chat", wait_until="load")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to the message box"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "body"
    page.keyboard.type("Typed with the keyboard only")
    page.keyboard.press("Enter")
    messages = page.get_by_role("list", name="Messages")
    mine = messages.locator("li.msg").filter(has_text="Typed with the keyboard only")
    expect(mine).to_be_visible()
    # Its actions: one small button, opened with Enter and closed with Escape.
    menu = mine.get_by_role("button", name="What you can do with this message")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(mine.get_by_role("link", name="Change")).to_be_hidden()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "a11y-chat-phone.png"))
    _tab_to(page, f"#{mine.get_attribute('id')} .msg-menu")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.screenshot(path=str(SCREENSHOTS / "a11y-chat-menu-open-phone.png"))
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Change"
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(mine.get_by_role("link", name="Change")).to_be_hidden()
    assert page.evaluate("() => document.activeElement.classList.contains('msg-menu')")

    # Plan: a checklist step is a toggle button; Space ticks it without leaving the page,
    # the focus comes back to the step, which now says it is done, and "Done" is said.
    page.goto(f"/c/{c}/plan", wait_until="load")
    page.evaluate("window.stillTheSamePage = true")
    _tab_to(page, "#commitments button[aria-pressed='false']")
    key = page.evaluate("() => document.activeElement.closest('li').dataset.occurrence")
    page.screenshot(path=str(SCREENSHOTS / "a11y-plan-step-phone.png"))
    page.keyboard.press("Space")
    item = page.locator(f"#commitments li[data-occurrence='{key}']")
    expect(item).to_have_class(re.compile(r"\bdone\b"))
    expect(item.get_by_role("img", name="Done:")).to_be_visible()
    expect(page.locator("#announce")).to_have_text("Done")
    assert page.evaluate(
        "(k) => document.activeElement.matches('li[data-occurrence]') && "
        "document.activeElement.dataset.occurrence === k",
        key,
    )
    assert page.evaluate("window.stillTheSamePage") is True
    page.evaluate("() => document.activeElement.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SCREENSHOTS / "a11y-plan-ticked-phone.png"))

    # The meeting poll: Tab to the first "Yes", Space, Tab on to "Save", Enter.
    page.goto(f"/c/{c}/meetings/{circle['meeting']}", wait_until="load")
    _tab_to(page, "#poll input[type=radio][value=yes]")
    page.keyboard.press("Space")
    _tab_to(page, "#poll button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="your answers are saved")).to_be_visible()
    expect(page.locator("#poll input[type=radio][value=yes]").first).to_be_checked()
    context.close()

    # Signing in with nothing typed: the focus lands on the first field to fix.
    context, page, more = _open(browser, live_server, None, PHONE)
    page.goto("/login", wait_until="load")
    _tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    expect(page.locator("[aria-invalid=true]").first).to_be_focused()
    context.close()
    assert not problems + more, problems + more


def test_new_messages_from_others_are_announced_politely_and_not_too_often(
    live_server, browser, circle
):
    """Mark (central) writes three messages in a row; the member's screen
    reader hears the first at once and the other two together, a few seconds later, not
    three interruptions. Her own messages are not read back to her."""
    c = circle["circle"]
    ctx_member, member, problems = _open(browser, live_server, circle["states"]["member"], PHONE)
    ctx_central, central, more = _open(browser, live_server, circle["states"]["central"], PHONE)
    for page in (member, central):
        page.goto(f"/c/{c}/chat", wait_until="load")
    expect(member.locator("#chat-announce")).to_have_attribute("aria-live", "polite")
    # Every text the live region is given, with the time it was given.
    member.evaluate(
        """() => { window.said = []; new MutationObserver(() => {
             const t = document.getElementById('chat-announce').textContent;
             if (t) window.said.push([Date.now(), t]); })
           .observe(document.getElementById('chat-announce'),
                    {childList: true, characterData: true, subtree: true}); }"""
    )
    box = central.get_by_label("Your message")
    for text in ("First of three", "Second of three", "Third of three"):
        box.fill(text)
        box.press("Enter")
        expect(central.locator("#messages").get_by_text(text)).to_be_visible()
    expect(member.locator("#messages").get_by_text("Third of three")).to_be_visible()
    member.wait_for_function("() => window.said.length >= 2", timeout=15_000)
    said = member.evaluate("window.said")
    assert said[0][1] == "New message from Mark: First of three", said
    assert said[1][1] == "2 new messages", said
    assert said[1][0] - said[0][0] >= 3500, said  # at most one every few seconds
    # What the member writes herself is not announced to her.
    own = member.get_by_label("Your message")
    own.fill("My own words")
    own.press("Enter")
    expect(member.locator("#messages").get_by_text("My own words")).to_be_visible()
    member.wait_for_timeout(4500)
    assert all("My own words" not in t for _, t in member.evaluate("window.said"))
    ctx_member.close()
    ctx_central.close()
    assert not problems + more, problems + more


def test_the_checks_catch_what_they_look_for(live_server, browser, circle):
    """The gate itself: on a clean page, a field without a label, a 20 px button and a
    line that cannot wrap at 200% text are each reported (else a 0 would prove nothing)."""
    context, page, problems = _open(browser, live_server, circle["states"]["member"], PHONE)
    page.goto("/account", wait_until="load")
    page.evaluate(AXE.read_text())
    assert page.evaluate(_AXE_RUN, AXE_TAGS) == []
    assert page.evaluate(_TARGETS) == []
    assert page.evaluate(_SIDEWAYS) == []
    page.evaluate(
        """() => {
          const main = document.getElementById('main');
          const input = document.createElement('input');
          input.id = 'nameless';
          const tiny = document.createElement('button');
          tiny.id = 'tiny'; tiny.textContent = 'x';
          tiny.style.width = '20px'; tiny.style.height = '20px'; tiny.style.padding = '0';
          const long = document.createElement('p');
          long.id = 'long'; long.textContent = 'Grootmoederszondagmiddagwandeling';
          main.append(input, tiny);
              document.body.append(long);  // outside <main>, whose words may break
        }"""
    )
    assert any(v.startswith("label ") for v in page.evaluate(_AXE_RUN, AXE_TAGS))
    assert any(t.startswith("#main button#tiny") or "#tiny" in t for t in page.evaluate(_TARGETS))
    sideways = page.evaluate(_SIDEWAYS)
    assert any("Grootmoeders" in s or "#long" in s for s in sideways), sideways
    context.close()
