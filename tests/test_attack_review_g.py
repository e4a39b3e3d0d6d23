"""Review G: attacks on the changes since b6f977c (the plan export read as plain rows,
the circle ZIP's messages written in Python, the 503 page's "Try again" link, the
Redis message queue with a capped back-off).

Each test is one attack, as an outsider (a crafted link sent to a signed-in person) or
an insider (a member who writes names and messages that end up in someone else's
download). Those that found something name the fix.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from portal.services import accounts as accounts_svc

# --- The 503 page's "Try again": never another site ----------------------------------


def _storage_away(*_args, **_kwargs):
    raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))


def _try_again(html: str) -> str:
    """The href of the page's "Try again" link, as the HTML parser hands it on (the
    entities decoded)."""
    import html as html_mod

    found = re.search(r'<a href="([^"]*)">Try again</a>', html)
    assert found, html
    return html_mod.unescape(found[1])


def _host_to_a_browser(href: str) -> str | None:
    """Where a browser goes for this href on a Kring page: the WHATWG URL parser first
    removes every ASCII tab and newline, and reads a backslash as a slash. A link that
    then starts with two slashes is another host."""
    href = re.sub(r"[\t\n\r]", "", href).replace("\\", "/")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", href):
        return href.split(":", 1)[0] + ":"
    if href.startswith("//"):
        return href.lstrip("/").split("/", 1)[0]  # more slashes are skipped too
    return None  # same site


@pytest.mark.parametrize(
    "path",
    [
        "/%09/evil.example/x",  # a tab: "/\t/evil.example" is "//evil.example"
        "/%0A/evil.example/x",
        "/%0D%0A%5Cevil.example/x",
        "/%09%09//evil.example",
        "/%5C%5Cevil.example/x",
    ],
)
def test_a_crafted_address_gives_no_try_again_link_to_another_site(
    app, make_circle, add_member, new_client, login, monkeypatch, path
):
    """An attacker sends a signed-in person a Kring address whose path holds a tab or a
    newline. While the database is away (or merely locked on SQLite), the page's "Try
    again" repeated the path as it was decoded: ``href="/\\t/evil.example/x"``, which a
    browser reads as ``//evil.example/x``, another site (phishing for the password on
    a page that looks like Kring's). Fix: the path is written percent-encoded."""
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    monkeypatch.setattr(accounts_svc, "load_login_session", _storage_away)
    # As in production: the error reaches the error handlers instead of the test.
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    resp = browser.get(path)
    assert resp.status_code == 503
    href = _try_again(resp.get_data(as_text=True))
    assert _host_to_a_browser(href) is None, href
    assert href.startswith("/")


def test_try_again_keeps_an_ordinary_address_with_its_query(
    app, make_circle, add_member, new_client, login, monkeypatch
):
    """What held (and must keep holding after the fix): the same page again, with its
    query, letters outside ASCII as the browser sent them."""
    from portal.plan import routes as plan_routes

    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    browser = login(new_client(), anna.user)
    monkeypatch.setattr(plan_routes, "export_json", _storage_away)
    resp = browser.get(f"/c/{circle.id}/plan/export.json?q=caf%C3%A9&x=%22%3E%3Cb%3E")
    assert resp.status_code == 503
    html = resp.get_data(as_text=True)
    assert "<b>" not in html.split("Try again")[0].rsplit("<a", 1)[-1]
    href = _try_again(html)
    assert href.startswith(f"/c/{circle.id}/plan/export.json?")
    assert _host_to_a_browser(href) is None
    monkeypatch.undo()
    assert browser.get(href).status_code == 200
