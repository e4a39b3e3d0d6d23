"""What screen readers and keyboards find in the markup (issue 14), page by page.

The demo circle's pages as a central person, a member and a professional: one h1 per
page, and on a circle page it names the page ("Plan", "Chat"...), not the circle; the
chat's "Skip to the message box" link, its polite live region and one small disclosure
button per message (no full-size "Change" and "Remove" under every message); checklist
steps with a state (a toggle button, or "Done:" / "Not done yet:"), never a "☐"
character; the script that moves the focus to a form's first error is on every page.
The browser side (axe, the keyboard, what is announced) is tests/e2e/test_accessibility.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from portal.demo import build_demo
from portal.models import Meeting
from tests.conftest import PASSWORD, csrf_from

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


@dataclass
class El:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    parent: El | None = None

    @property
    def text(self) -> str:
        return re.sub(
            r"\s+",
            " ",
            "".join(c if isinstance(c, str) else c.text for c in self.children),
        ).strip()

    def all(self, tag: str | None = None, **attrs) -> list[El]:
        out = []
        for c in self.children:
            if isinstance(c, El):
                if (tag is None or c.tag == tag) and all(
                    (v is True and k in c.attrs)
                    or (k == "class_" and v in c.attrs.get("class", "").split())
                    or c.attrs.get(k) == v
                    for k, v in attrs.items()
                ):
                    out.append(c)
                out += c.all(tag, **attrs)
        return out

    def one(self, tag: str | None = None, **attrs) -> El:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = El("#document", {})
        self.at = self.root

    def handle_starttag(self, tag, attrs):
        el = El(tag, {k: (v if v is not None else "") for k, v in attrs}, parent=self.at)
        self.at.children.append(el)
        if tag not in VOID:
            self.at = el

    def handle_endtag(self, tag):
        node = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data):
        self.at.children.append(data)


def parse(resp) -> El:
    assert resp.status_code == 200, resp.status_code
    tree = _Tree()
    tree.feed(resp.get_data(as_text=True))
    return tree.root


@pytest.fixture
def demo(db, new_client):
    built = build_demo("en")
    db.session.commit()
    people = {}
    for label in ("central", "member", "professional"):
        browser = new_client()
        browser.get(f"/i/{built.tokens[label]}")
        page = browser.get("/join")
        resp = browser.post(
            "/join",
            data={
                "csrf_token": csrf_from(page),
                "display_name": label.title(),
                "username": f"a11y.{label}",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert resp.status_code == 302
        people[label] = browser
    meetings = db.session.scalars(
        select(Meeting).where(Meeting.circle_id == built.circle.id).order_by(Meeting.id)
    ).all()
    return built.circle, people, meetings


def test_every_page_has_one_h1_and_a_circle_page_names_itself(demo):
    circle, people, meetings = demo
    c = f"/c/{circle.id}"
    named = {
        f"{c}/plan": "Plan",
        f"{c}/meetings": "Meetings",
        f"{c}/history": "What happened",
        f"{c}/who-can-see": "Who can see what in this circle",
        f"{c}/plan/versions": "Versions of the plan",
        f"{c}/plan/diff?a=1&b=2": "What changed between version 1 and version 2",
        "/me/commitments": "My commitments",
        "/notifications": "News",
        "/account": "My account",
        **{f"{c}/meetings/{m.id}": m.title for m in meetings},
    }
    by_role = {
        "central": {**named, f"{c}/chat": "Chat", f"{c}/people": "People",
                    f"{c}/settings": "Settings",
                    f"{c}/access-log": "Who from outside the family looked"},
        "member": {**named, f"{c}/chat": "Chat"},
        "professional": named,
    }  # fmt: skip
    for role, pages in by_role.items():
        for path, name in pages.items():
            doc = parse(people[role].get(path))
            h1 = doc.all("h1")
            assert [h.text for h in h1] == [name], (role, path, [h.text for h in h1])
            if path.startswith(c):  # the circle's name is still there, above it
                assert doc.one("p", class_="circle-name").text == circle.title
        home = parse(people[role].get(c))
        assert [h.text for h in home.all("h1")] == [circle.title]


def test_the_chat_has_a_skip_link_a_live_region_and_one_menu_per_message(demo):
    circle, people, _ = demo
    doc = parse(people["central"].get(f"/c/{circle.id}/chat"))
    # The skip link comes right after "Skip to content", before the header's links, and
    # lands in the message box.
    links = doc.all("a")
    assert [a.text for a in links[:2]] == ["Skip to content", "Skip to the message box"]
    assert links[1].attrs["href"] == "#body"
    assert doc.one("textarea", id="body").attrs.get("name") == "body"
    # New messages are told politely, by a region that is there from the start.
    announce = doc.one(id="chat-announce")
    assert announce.attrs["aria-live"] == "polite" and announce.text == ""
    chat = doc.one("section", id="chat")
    assert chat.attrs["data-t-announce-one"] == "New message from {name}:"
    assert chat.attrs["data-t-announce-many"] == "{n} new messages"
    # A central person may remove everyone's messages: every message has one small menu
    # button, closed, that names what it opens; the actions are in the panel it controls.
    messages = doc.all("li", class_="msg")
    live = [m for m in messages if "removed" not in m.attrs["class"].split()]
    assert len(live) >= 20
    for m in live:
        (toggle,) = m.all("button", class_="msg-menu")
        assert toggle.attrs["type"] == "button" and toggle.attrs["aria-expanded"] == "false"
        assert (
            toggle.one("span", class_="visually-hidden").text == "What you can do with this message"
        )
        panel = m.one("div", class_="msg-actions")
        assert toggle.attrs["aria-controls"] == panel.attrs["id"]
        # Without JavaScript the button stays hidden and the actions show as before.
        assert "hidden" in toggle.attrs and "hidden" not in panel.attrs
        assert "Remove…" in panel.text
    # A member has a menu on their own messages only (a fresh member has none).
    member = parse(people["member"].get(f"/c/{circle.id}/chat"))
    assert member.all("button", class_="msg-menu") == []
    assert member.all("div", class_="msg-actions") == []


def test_checklist_steps_say_their_state(demo):
    circle, people, _ = demo
    for role in ("central", "member"):
        resp = people[role].get(f"/c/{circle.id}/plan")
        assert "☐" not in resp.get_data(as_text=True)
        doc = parse(resp)
        steps = [li for ul in doc.all("ul", class_="checklist") for li in ul.all("li")]
        assert steps, "the demo plan has checklists"
        done = [li for li in steps if "done" in li.attrs.get("class", "").split()]
        assert done and len(done) < len(steps), "the demo has ticked and open steps"
        for li in done:
            assert li.one(class_="tick").attrs == {
                "class": "tick",
                "role": "img",
                "aria-label": "Done:",
            }
        for li in steps:
            if li in done:
                continue
            buttons = li.all("button")
            if role == "central":  # may tick everything: a toggle button, not pressed
                (b,) = buttons
                assert b.attrs["aria-pressed"] == "false" and b.attrs["type"] == "submit"
                assert b.text and not b.text.startswith("☐")
            else:  # not theirs: the state in words
                assert buttons == []
                assert li.one(class_="box").attrs["aria-label"] == "Not done yet:"
        # The plan page says "Done" aloud after a tick made without reloading.
        assert doc.one(id="announce").attrs["aria-live"] == "polite"
        assert doc.one("section", id="plan").attrs["data-t-done"] == "Done"


def test_every_page_brings_the_focus_to_a_forms_first_error(demo, client):
    circle, people, _ = demo
    for resp in (
        client.get("/login"),
        people["central"].get(f"/c/{circle.id}/plan"),
        people["member"].get("/account"),
    ):
        doc = parse(resp)
        assert [
            s.attrs["src"]
            for s in doc.all("script")
            if s.attrs.get("src", "").endswith("/forms.js")
        ]
    # A form sent back with an error marks its field, which is where forms.js goes.
    login = client.get("/login")
    resp = client.post("/login", data={"csrf_token": csrf_from(login), "login": "", "password": ""})
    doc = parse(resp) if resp.status_code == 200 else None
    assert doc is not None, resp.status_code
    assert doc.all("input", **{"aria-invalid": "true"})
