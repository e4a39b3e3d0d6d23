"""Security: no open redirect through ``next`` (issue 10, hole 5).

``/login?next=/%09/evil.example`` used to redirect to ``//evil.example`` (the browser
drops the tab), and a raw newline gave a 500. Every place that accepts a return target
(``/login``, ``/language``) must send the browser only to a path on this site, and
never fail. Each Location is read the way a browser reads it (WHATWG URL parsing
drops tabs and newlines and treats a backslash as a slash).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from portal.urls import is_local_path, safe_next
from tests.conftest import PASSWORD, csrf_from

HOST = "localhost"

CORPUS = [
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\nSet-Cookie: x=1",
    "\n/evil.example",
    "/%0a/evil.example",
    "/%0d%0aLocation:%20http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "https://evil.example",
    "http://evil.example/",
    "HTTP://evil.example",
    "hTtPs:evil.example",
    "http:/evil.example",
    "http:\\\\evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    " //evil.example",
    " /circles",
    "\t//evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\u2215\u2215evil.example",  # DIVISION SLASH look-alikes
    "/\uff0f\uff0fevil.example",  # FULLWIDTH SOLIDUS
    "/%E2%88%95%E2%88%95evil.example",
    "/\u202e/evil.example",
    "/\u200b/evil.example",
    "/\u3000/evil.example",
    "\u3000//evil.example",
    "",
    "?next=//evil.example",
    "#//evil.example",
]

GOOD = ["/circles", "/c/1/chat?before=5", "/account?", "/c/1/plan#commitment-3"]


def _browser_target(location: str) -> tuple[str, str]:
    """Where a browser goes with this Location, from http://localhost/login."""
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").replace("\\", "/")
    cleaned = cleaned.strip("\x00 \x0b\x0c")
    parts = urlsplit(urljoin(f"http://{HOST}/login", cleaned))
    return parts.scheme, parts.netloc


def _assert_local(resp):
    assert resp.status_code == 302, (resp.status_code, resp.get_data(as_text=True)[:200])
    location = resp.headers["Location"]
    assert is_local_path(location), location
    assert _browser_target(location) == ("http", HOST), location


@pytest.mark.parametrize("target", CORPUS)
def test_safe_next_refuses(target):
    assert safe_next(target, "/default") == "/default"


@pytest.mark.parametrize("target", GOOD)
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target, "/default") == target


@pytest.mark.parametrize("target", CORPUS)
def test_login_never_redirects_off_site(target, new_client, make_user):
    user = make_user()
    browser = new_client()
    token = csrf_from(browser.get("/login"))
    resp = browser.post(
        "/login",
        query_string={"next": target},
        data={"login": user.username, "password": PASSWORD, "csrf_token": token},
    )
    _assert_local(resp)
    assert resp.headers["Location"] == "/circles"


@pytest.mark.parametrize("target", CORPUS)
def test_language_never_redirects_off_site(target, new_client):
    browser = new_client()
    token = csrf_from(browser.get("/login"))
    resp = browser.post("/language", data={"language": "nl", "next": target, "csrf_token": token})
    _assert_local(resp)
    assert resp.headers["Location"] == "/"


def test_login_and_language_keep_a_local_next(new_client, make_user):
    user = make_user()
    browser = new_client()
    token = csrf_from(browser.get("/login"))
    resp = browser.post(
        "/language", data={"language": "nl", "next": "/login?next=/account", "csrf_token": token}
    )
    assert resp.headers["Location"] == "/login?next=/account"
    resp = browser.post(
        "/login",
        query_string={"next": "/account"},
        data={"login": user.username, "password": PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] == "/account"
