"""Names with direction overrides and invisible characters, end to end (issue 10, hole 10).

A name typed with U+202E (right-to-left override) would read backwards for everyone:
"Piet<RLO>tnavres" shows as "Piet servant". The command line, the invitation form and
the join form all store the name without such characters, so the people list in a real
browser shows what the person meant, in the order they typed it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import Person
from .test_foundation import join, people_names

pytestmark = pytest.mark.e2e

RLO, LRI, PDI, ZWSP, BOM = "\u202e", "\u2066", "\u2069", "\u200b", "\ufeff"
HIDDEN = (RLO, LRI, PDI, ZWSP, BOM, "\u202a", "\u200e", "\u200f", "\x00")


def _row_texts(p: Person) -> list[str]:
    return p.page.locator(".rows strong").all_inner_texts()


def test_the_people_list_shows_names_as_typed_without_overrides(live_server, person):
    # Through the command line (kring create-circle, kring invite).
    circle_id, coordinator_url = live_server.create_circle(
        f"Circle around {RLO}maS", f"{LRI}Noor{PDI}{ZWSP}"
    )
    oma_url = live_server.invite(circle_id, f"Oma{RLO} teiR{BOM}", "member")

    coord = person("Coordinator")
    assert join(coord, coordinator_url, username="noor.names") == circle_id
    expect(coord.page.get_by_role("heading", name="Circle around maS", level=1)).to_be_visible()

    # Through the invitation form in the browser.
    page = coord.page
    page.goto(f"/c/{circle_id}/people")
    page.get_by_label("Name the circle will see").fill(f"Piet{RLO}tnavres {ZWSP}Bakker")
    page.get_by_role("button", name="Make the invitation").click()
    expect(page.get_by_text("Piettnavres Bakker").first).to_be_visible()
    piet_url = re.search(r"https?://[^\s\"<]+/i/[A-Za-z0-9_\-]{20,}", page.content()).group(0)

    # Through the join form: each person types their name with a hidden override.
    oma = person("Oma")
    join(oma, oma_url, username="oma.names", name=f"Oma {RLO}Riet{PDI}")
    piet = person("Piet")
    join(piet, piet_url, username="piet.names", name=f"{RLO}Piet{ZWSP} Bakker")

    coord.goto(f"/c/{circle_id}/people")
    names = people_names(coord)
    assert {"Noor", "Oma Riet", "Piet Bakker"} <= set(names), names
    for text in _row_texts(coord) + [coord.page.locator("main").inner_text()]:
        assert not any(ch in text for ch in HIDDEN), repr(text)
    # What the browser lays out reads left to right, as typed: "Oma" comes before "Riet".
    row = coord.page.locator(".rows strong", has_text="Oma Riet").first
    boxes = row.evaluate(
        """el => {
            const text = el.firstChild, range = document.createRange(), at = {};
            for (const word of ["Oma", "Riet"]) {
                const i = text.data.indexOf(word);
                range.setStart(text, i); range.setEnd(text, i + word.length);
                at[word] = range.getBoundingClientRect().left;
            }
            return at;
        }"""
    )
    assert boxes["Oma"] < boxes["Riet"], boxes
    coord.screenshot("people-names")
