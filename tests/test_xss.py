"""Stored XSS: hostile chat messages, sent through the form and through the socket,
render as inert text in the page and reach other clients as plain text."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from bleach.linkifier import URL_RE
from markupsafe import escape

from portal.sanitize import clean_text, render_text
from tests.conftest import csrf_from
from tests.xss_corpus import CORPUS

ALLOWED = {"a": {"href", "rel", "target"}, "br": set()}


class BodyChecker(HTMLParser):
    """Walks the rendered page and checks everything inside message bodies."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.problems: list[str] = []
        self.bodies = 0

    def handle_starttag(self, tag, attrs):
        attrs_d = dict(attrs)
        if self.depth:
            if tag not in ALLOWED:
                self.problems.append(f"tag <{tag}> inside a message")
            for name, value in attrs:
                if name not in ALLOWED.get(tag, set()):
                    self.problems.append(f"attribute {name} on <{tag}>")
                if name == "href" and not re.match(r"^https?://", value or ""):
                    self.problems.append(f"href {value!r}")
            if tag != "br":
                self.depth += 1
        elif tag == "p" and "body" in (attrs_d.get("class") or "").split():
            self.depth = 1
            self.bodies += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and any(
            c in data for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        ):
            self.problems.append("bidi override character in text")


def check_page(html: str, expected_bodies: int) -> None:
    checker = BodyChecker()
    checker.feed(html)
    assert checker.bodies >= expected_bodies
    assert not checker.problems, checker.problems
    # Nothing executable anywhere outside our own two script files.
    scripts = re.findall(r"<script\b[^>]*>", html, re.I)
    assert all(re.search(r'src="/(static|vendor)/', s) for s in scripts), scripts


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_render_text_is_inert(text):
    checker = BodyChecker()
    checker.feed(f'<p class="body">{render_text(text)}</p>')
    assert checker.bodies == 1 and not checker.problems, checker.problems


def _through_bleach(text: str) -> str:
    """``render_text``'s full path (linkify, then clean), without its shortcut."""
    import bleach

    from portal.sanitize import _ALLOWED_PROTOCOLS, _linker, clean_text

    linked = _linker.linkify(str(escape(clean_text(text))))
    return bleach.clean(
        linked,
        tags=["a"],
        attributes={"a": ["href", "rel", "target"]},
        protocols=_ALLOWED_PROTOCOLS,
        strip=True,
    ).replace("\n", "<br>\n")


def test_text_without_a_link_skips_bleach_and_renders_the_same():
    """Text with nothing linkify would link is escaped without bleach (the chat page
    spent most of its time in bleach): the HTML must be what bleach gives, for the
    XSS corpus and for 4,000 random strings of markup, entities and odd characters."""
    import random

    rng = random.Random(15)
    pieces = list("ab .,:;!?'\"&<>@#/\\-_=()[]{}\n\t") + [
        "&amp;", "&lt;", "&#39;", "&#0;", "&#x110000;", "&nbsp;", "&copy", "<!--", "-->",
        "<![CDATA[", "<script>", "</p>", "\u00a0", "é", "😀", "\u200d", "\ufffe", "\ufdd0",
        "\x0c", "\x85", "\u2028", "\u202e", "\U0010ffff", "javascript:", "e.g.", "3.5",
    ]  # fmt: skip
    texts = list(CORPUS) + [
        "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(4_000)
    ]
    shortcut = 0
    for text in texts:
        assert str(render_text(text)) == _through_bleach(text), text
        shortcut += URL_RE.search(clean_text(text)) is None
    assert shortcut > 3_000  # most of them took the shortcut


def test_corpus_through_the_form_and_the_socket(
    app, client, make_circle, add_member, login, socket_client
):
    assert len(CORPUS) >= 30
    # Not under test here: the per-person allowances (test_chat_flood, the attack reviews).
    app.config["CHAT_SEND_RATE_LIMIT"] = app.config["WRITE_RATE_LIMIT"] = "1000 per minute"
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    login(client, anna.user)
    listener = socket_client(ben.user)
    listener.emit("chat:join", {"circle_id": circle.id})
    sender = socket_client(anna.user)
    for i, text in enumerate(CORPUS):
        page = client.get(f"/c/{circle.id}/chat")
        resp = client.post(
            f"/c/{circle.id}/chat",
            data={"body": text, "client_id": f"form-{i:08d}", "csrf_token": csrf_from(page)},
        )
        assert resp.status_code == 302, text
        payload = {"circle_id": circle.id, "client_id": f"sock-{i:08d}", "body": text}
        ack = sender.emit("chat:send", payload)
        while ack.get("error") == "rate_limited":  # the per-socket limit is part of the product
            time.sleep(0.25)
            ack = sender.emit("chat:send", payload)
        assert ack["ok"], (text, ack)
        # Over the socket the text stays plain text (the client inserts it as text),
        # minus only control and direction-override characters.
        assert "\u202e" not in ack["message"]["body"]
        if "\u202e" not in text and "\u2066" not in text:
            assert ack["message"]["body"] == text.strip()
    received = [
        e["args"][0]["message"]["body"]
        for e in listener.get_received()
        if e["name"] == "chat:message"
    ]
    assert len(received) == 2 * len(CORPUS)
    html = client.get(f"/c/{circle.id}/chat?after=0").get_data(as_text=True)
    check_page(html, 50)
    html = client.get(f"/c/{circle.id}/chat?after=50").get_data(as_text=True)
    check_page(html, 2 * len(CORPUS) - 50)
