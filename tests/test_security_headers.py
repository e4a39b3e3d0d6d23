"""Security: response headers, no inline script, and stored XSS through names.

An attacker who gets text onto a page (a circle title, their own display name, the
conference question) tries to make it run as script in other members' browsers.
Two fences: everything is escaped, and the Content-Security-Policy would refuse inline
script even if something slipped through.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from portal.models import Circle, Membership
from tests.conftest import ROOT, csrf_from
from tests.test_security import invite_via_web, join_via_web

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(1)">click</a>'


class PageScan(HTMLParser):
    """Everything in a page that would run script, and the page's visible text."""

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.dangers: list[str] = []
        self.chunks: list[str] = []
        self.feed(body)
        self.close()

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and not a.get("src"):
            self.dangers.append(f"inline <script> {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.dangers.append(f"<{tag} {name}=...>")
            if (
                name in ("href", "src", "action", "formaction", "xlink:href")
                and value
                and (
                    value.strip().lower().startswith(("javascript:", "vbscript:", "data:text/html"))
                )
            ):
                self.dangers.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.chunks.append(data)


def csp(resp) -> dict[str, list[str]]:
    header = resp.headers.get("Content-Security-Policy")
    assert header, f"no CSP on {resp.request.path}"
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name.lower()] = values
    return out


def assert_safe_html_response(resp) -> None:
    where = f"{resp.request.method} {resp.request.path} ({resp.status_code})"
    assert resp.mimetype == "text/html", where
    policy = csp(resp)
    script_src = policy.get("script-src")
    assert script_src, where
    for forbidden in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
        assert forbidden not in script_src, (where, forbidden)
    assert policy.get("object-src") == ["'none'"], where
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert policy.get("default-src"), where
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") == "no-referrer", where
    scan = PageScan(resp.get_data(as_text=True))
    assert not scan.dangers, (where, scan.dangers)


# --- 8. Headers on every HTML page --------------------------------------------------------


def test_every_html_page_has_the_security_headers(
    app, client, db, make_circle, add_member, login, new_client, csrf
):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    ids = {"circle_id": circle.id, "member_id": member.id}
    member_browser = login(new_client(), member.user)
    login(client, coord.user)
    invite_via_web(client, circle.id, name="Pending")

    responses = []
    # Every GET route of the app, as the coordinator (circle routes filled with a real
    # circle; any other id is a 404 page, which must carry the headers too).
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {
            arg: ids.get(arg, 1) if isinstance(conv.to_python("1"), int) else "x" * 43
            for arg, conv in rule._converters.items()
        }
        resp = client.get(rule.build(values)[1])
        if resp.mimetype == "text/html":
            responses.append(resp)
        else:
            assert resp.headers.get("X-Content-Type-Options") == "nosniff", rule.rule
            assert resp.headers.get("Referrer-Policy") == "no-referrer", rule.rule
    # Anonymous pages, the card with a secret link, and each error page.
    anon = new_client()
    page = client.get(f"/c/{circle.id}/people")
    responses += [
        anon.get("/"),
        anon.get("/login"),
        anon.get("/password/forgot"),
        anon.get("/join"),  # no invitation: the refusal page
        anon.get("/password/new"),
        client.post(
            f"/c/{circle.id}/invitations",
            data={"name": "Card", "role": "member", "csrf_token": csrf(page)},
        ),
        client.get("/c/999999"),  # 404
        member_browser.get(f"/c/{circle.id}/people"),  # 403
        anon.post("/login", data={"login": "x", "password": "y"}),  # 400 (CSRF)
    ]
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    login_page = anon.get("/login")
    for _ in range(2):
        last = anon.post(
            "/login", data={"login": "x", "password": "y", "csrf_token": csrf_from(login_page)}
        )
    responses.append(last)  # 429

    statuses = {r.status_code for r in responses}
    assert {200, 400, 403, 404, 429} <= statuses, statuses
    assert len(responses) >= 20
    for resp in responses:
        assert_safe_html_response(resp)


def test_templates_have_no_inline_script_or_event_handlers():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert templates
    problems = []
    for path in templates:
        source = path.read_text()
        rel = path.relative_to(ROOT)
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script\s*>", source, re.S | re.I):
            if "src=" not in m.group(1) or m.group(2).strip():
                problems.append(f"{rel}: inline script {m.group(0)[:60]!r}")
        for tag in re.finditer(r"<[a-zA-Z][^<>]*>", source):
            if re.search(r"\son[a-z]+\s*=", tag.group(0), re.I):
                problems.append(f"{rel}: event handler {tag.group(0)[:80]!r}")
        if re.search(r"javascript:", source, re.I):
            problems.append(f"{rel}: javascript: URL")
    assert not problems, problems


# --- 11. Stored XSS through names -------------------------------------------------------------


def _assert_shown_as_text(resp, *payloads: str) -> None:
    body = resp.get_data(as_text=True)
    where = f"{resp.request.path} ({resp.status_code})"
    assert resp.status_code == 200, where
    for payload in payloads:
        assert payload not in body, (where, payload)  # not as markup...
    scan = PageScan(body)
    assert not scan.dangers, (where, scan.dangers)
    for payload in payloads:
        assert payload in scan.text, (where, payload)  # ...but as readable text


def test_names_and_question_cannot_inject_script(
    app, client, db, make_user, login, new_client, csrf
):
    coordinator = make_user("Coordinator", can_create_circles=True)
    login(client, coordinator)
    # The circle's title and question, typed on the web.
    form = client.get("/circles/new")
    resp = client.post(
        "/circles/new",
        data={
            "title": f"{SCRIPT} {IMG}",
            "question": f"{SCRIPT}\n{IMG}\n{LINK}",
            "language": "en",
            "timezone": "Europe/Amsterdam",
            "csrf_token": csrf(form),
        },
    )
    assert resp.status_code == 302
    circle_id = int(urlsplit(resp.headers["Location"]).path.split("/")[2])
    assert db.session.get(Circle, circle_id).title == f"{SCRIPT} {IMG}"  # stored as typed

    # An invitation named with a payload, and a guest who picks a payload as their name.
    token = invite_via_web(client, circle_id, name=IMG)
    guest = new_client()
    assert join_via_web(guest, token, "xssguest", display_name=SCRIPT).status_code == 302
    pending = invite_via_web(client, circle_id, name=f"Pending {SCRIPT}")
    assert pending

    title = f"{SCRIPT} {IMG}"
    _assert_shown_as_text(client.get("/circles"), title)
    _assert_shown_as_text(client.get(f"/c/{circle_id}"), title, SCRIPT, IMG)
    _assert_shown_as_text(guest.get(f"/c/{circle_id}"), title, SCRIPT, IMG)
    _assert_shown_as_text(client.get(f"/c/{circle_id}/people"), title, SCRIPT, f"Pending {SCRIPT}")
    _assert_shown_as_text(client.get(f"/c/{circle_id}/history"), SCRIPT, IMG)
    settings = client.get(f"/c/{circle_id}/settings")
    assert settings.status_code == 200 and SCRIPT not in settings.get_data(as_text=True)
    assert not PageScan(settings.get_data(as_text=True)).dangers
    # The printable card and the page a new invitee sees.
    people = client.get(f"/c/{circle_id}/people")
    card = client.post(
        f"/c/{circle_id}/invitations",
        data={"name": IMG, "role": "member", "csrf_token": csrf(people)},
    )
    _assert_shown_as_text(card, title, IMG)
    invitee = new_client()
    invitee.get(f"/i/{invite_via_web(client, circle_id, name=SCRIPT)}")
    _assert_shown_as_text(invitee.get("/join"), title, SCRIPT)

    # A flash message built from a name: removing the guest.
    member_id = db.session.scalar(db.select(Membership.id).where(Membership.display_name == SCRIPT))
    people = client.get(f"/c/{circle_id}/people")
    resp = client.post(
        f"/c/{circle_id}/members/{member_id}/remove", data={"csrf_token": csrf(people)}
    )
    assert resp.status_code == 302
    _assert_shown_as_text(client.get(resp.headers["Location"]), f"{SCRIPT} is no longer")


def test_account_name_cannot_inject_script(client, make_circle, add_member, login, csrf):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    login(client, member.user)
    page = client.get("/account")
    resp = client.post(
        "/account",
        data={
            "name": IMG,
            "email": "",
            "locale": "en",
            "timezone": "Europe/Amsterdam",
            "csrf_token": csrf(page),
        },
    )
    assert resp.status_code == 302
    account = client.get("/account")
    assert IMG not in account.get_data(as_text=True)
    assert not PageScan(account.get_data(as_text=True)).dangers
