"""The 503 page's way back (issue 15): after a failed GET, "Try again" asks for the
same address again; after a failed form, it goes back to the form, where the browser
still has what was typed (Chromium keeps it on going back, though Kring's pages are
no-store), and only without script to the start page."""

from __future__ import annotations

import re
import sqlite3

from sqlalchemy.exc import OperationalError

from tests.conftest import csrf_from


def _storage_away(*_args, **_kwargs):
    raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))


def _links(html: str) -> dict[str, str]:
    """Link text -> the <a> tag, for the links in the page's main card."""
    return {m[2].strip(): m[1] for m in re.finditer(r"(<a [^>]*>)([^<]*)</a>", html)}


def test_try_again_after_a_failed_page_asks_for_the_same_address(
    app, make_circle, add_member, new_client, login, monkeypatch
):
    from portal.plan import routes as plan_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    monkeypatch.setattr(plan_routes, "export_json", _storage_away)
    resp = browser.get(f"/c/{circle.id}/plan/export.json?a=1&b=two")
    assert resp.status_code == 503
    links = _links(resp.get_data(as_text=True))
    assert links["Try again"] == f'<a href="/c/{circle.id}/plan/export.json?a=1&amp;b=two">'
    assert "Go back and try again" not in links
    monkeypatch.undo()
    # The link answers: the page comes, once the database is back.
    assert browser.get(f"/c/{circle.id}/plan/export.json?a=1&b=two").status_code == 200


def test_after_a_failed_form_the_page_goes_back_to_the_form(
    app, make_circle, add_member, new_client, login, monkeypatch
):
    from portal.chat import routes as chat_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    page = browser.get(f"/c/{circle.id}/chat")
    monkeypatch.setattr(chat_routes.svc, "send_message", _storage_away)
    # A form without a client id (no "Send again" box): back to the form.
    resp = browser.post(
        f"/c/{circle.id}/chat", data={"body": "typed words", "csrf_token": csrf_from(page)}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503
    links = _links(html)
    assert "Try again" not in links
    back = links["Go back and try again"]
    assert "data-history-back" in back and 'href="/"' in back  # without script: start page
    assert "/static/js/forms.js" in html  # the script that goes back in the history


def test_try_again_never_leads_to_another_site(app):
    """A crafted address that fails must not give a "Try again" link to another site:
    "//evil.example" and "/\\evil.example" are both another host to a browser."""
    from portal.errors import _same_page

    for path in ("//evil.example/x", "/\\evil.example/x", "/\\/evil.example/x"):
        with app.test_request_context(path):
            link = _same_page()
        assert link.startswith("/") and link[1] not in "/\\", (path, link)
