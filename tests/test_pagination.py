"""The circle's history comes in pages (Flask-SQLAlchemy's ``db.paginate``), and a page
number that makes no sense shows the first page, never an error."""

from __future__ import annotations

import re

import pytest

from portal.ids import MAX_ID
from portal.services.circles import record


@pytest.fixture
def long_history(db, make_circle, login, client):
    circle, coord = make_circle()
    for _ in range(30):  # with "created": 31 lines, two pages of 25
        record(circle, "settings_changed", actor=coord)
    db.session.commit()
    login(client, coord.user)
    return f"/c/{circle.id}/history"


def _lines(html: str) -> int:
    return len(re.findall(r"<li><time ", html))


def test_pages_link_to_each_other(long_history, client):
    page1 = client.get(long_history).get_data(as_text=True)
    assert _lines(page1) == 25 and "Page 1 of 2" in page1
    assert f'href="{long_history}?page=2"' in page1 and "?page=0" not in page1
    page2 = client.get(f"{long_history}?page=2").get_data(as_text=True)
    assert _lines(page2) == 6 and "Page 2 of 2" in page2
    assert f'href="{long_history}?page=1"' in page2 and "?page=3" not in page2


def test_a_page_past_the_end_is_empty_with_a_way_back(long_history, client):
    resp = client.get(f"{long_history}?page=5")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and _lines(html) == 0
    assert f'href="{long_history}?page=4"' in html


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5", str(MAX_ID), str(MAX_ID + 1)])
def test_a_page_number_that_makes_no_sense_shows_the_first_page(long_history, client, bad):
    resp = client.get(f"{long_history}?page={bad}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert _lines(html) == 25 and "Page 1 of 2" in html
