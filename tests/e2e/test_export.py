"""Take everything with you, in a real browser (issue 13): a member downloads their own
data from their account page, unzips it and opens index.html from disk, with no
server, and reads their message; a central person does the same with the whole
circle from its settings page."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import Person
from .test_foundation import join

pytestmark = pytest.mark.e2e

TITLE = "Circle around Sam (export)"


def _send(p: Person, circle_id: int, text: str) -> None:
    p.goto(f"/c/{circle_id}/chat")
    p.page.wait_for_load_state("load")
    box = p.page.get_by_label("Your message")
    box.fill(text)
    p.page.get_by_role("button", name="Send", exact=True).click()
    expect(box).to_have_value("")
    expect(p.page.locator("#messages li.msg p.body").filter(has_text=text)).to_have_count(1)


def _download(p: Person, link_name: str, into: Path) -> Path:
    with p.page.expect_download() as info:
        p.page.get_by_role("link", name=link_name).click()
    download = info.value
    assert re.fullmatch(r"kring-export-\d{4}-\d{2}-\d{2}\.zip", download.suggested_filename)
    path = into / download.suggested_filename
    download.save_as(path)
    folder = into / "unzipped"
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["data.json", "index.html"]
        z.extractall(folder)
    return folder


def _open_offline(p: Person, folder: Path) -> None:
    """index.html from disk: no server, no script."""
    p.page.goto((folder / "index.html").as_uri())
    assert p.page.locator("script").count() == 0


def test_a_member_takes_their_data_and_reads_it_offline(live_server, person, tmp_path):
    circle_id, coord_url = live_server.create_circle(TITLE, "Noor")
    coord = person("Noor")
    assert join(coord, coord_url, username="noor.export") == circle_id
    oma = person("Oma")
    oma_url = live_server.invite(circle_id, "Oma Riet", "member")
    assert join(oma, oma_url, username="oma.export") == circle_id
    sanne = person("Sanne")
    sanne_url = live_server.invite(circle_id, "Sanne", "central")
    assert join(sanne, sanne_url, username="sanne.export") == circle_id

    text = "Saturday I take Sam to football <3 & bring the boots"
    _send(oma, circle_id, text)
    _send(sanne, circle_id, "Thank you Oma")

    # Oma: her own data, from her account page.
    oma.goto("/account")
    expect(oma.page.get_by_role("heading", name="Take your data with you")).to_be_visible()
    folder = _download(oma, "Download my data", tmp_path / "oma")
    data = json.loads((folder / "data.json").read_text())
    assert data["account"]["username"] == "oma.export"
    assert [m["text"] for m in data["messages"]] == [text]
    _open_offline(oma, folder)
    expect(oma.page.get_by_role("heading", name="Everything Kring keeps about you")).to_be_visible()
    expect(oma.page.get_by_text(text, exact=True)).to_be_visible()
    expect(oma.page.get_by_text("Thank you Oma")).to_have_count(0)
    oma.screenshot("export-account-offline")

    # Sanne, a central person: the whole circle, from its settings page.
    sanne.goto(f"/c/{circle_id}/settings")
    folder = _download(sanne, "Download the circle", tmp_path / "sanne")
    _open_offline(sanne, folder)
    expect(sanne.page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(sanne.page.get_by_text(text, exact=True)).to_be_visible()
    expect(sanne.page.get_by_text("Thank you Oma", exact=True)).to_be_visible()
    expect(sanne.page.get_by_role("cell", name="Oma Riet")).to_be_visible()
