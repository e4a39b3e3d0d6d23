"""The access matrix: who gets what from every route and every socket event.

Every circle-scoped route (a rule with ``<int:circle_id>``) is requested by every
persona and must answer exactly as ``MATRIX`` says. A route missing from the table
fails the suite, so a new route cannot slip in unclassified; the same holds for the
top-level routes (``PUBLIC_ROUTES``) and for socket events (``SOCKET_MATRIX``).

Personas, built fresh for each test (so state-changing requests never share data):

- anonymous          no session at all
- outsider           the central person of another circle (circle B)
- removed            was a member of circle A, removed by a central person
- handed_over        circle A's coordinator after handing over
- professional       active in circle A; the chat is closed to professionals (default)
- professional_chat  the same, in a circle whose central persons opened the chat to them
- member, supporter, central   active in circle A
- coordinator        circle A's coordinator before handover

Someone who may not see a circle gets the one 404 page, byte for byte the same as for
a circle that does not exist (see ``portal.access``). POSTs carry a valid CSRF token
(from /account, or /login when anonymous), so the table tests access, not CSRF.
Every refused request is also checked to have changed nothing in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from portal.extensions import socketio
from portal.models import (
    Circle,
    CircleEvent,
    Invitation,
    Membership,
    MembershipStatus,
    Message,
    MessageRevision,
    ReentryToken,
    Role,
)
from portal.realtime.state import SOCKETS
from portal.services import chat as chat_svc
from portal.services import circles as svc
from tests.conftest import csrf_from

# --- Expectations ------------------------------------------------------------------


@dataclass(frozen=True)
class Exp:
    status: int
    changes: bool = False  # must the request change data in the database?
    login: bool = False  # a redirect to /login?next=<this path>
    label: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return self.label or f"Exp({self.status}, changes={self.changes})"


PAGE = Exp(200, label="PAGE")  # a page is shown, nothing changes
CARD = Exp(200, changes=True, label="CARD")  # the printable card with a fresh link
DONE = Exp(302, changes=True, label="DONE")  # the action is done, then a redirect
FORBID = Exp(403, label="FORBID")  # a member without this permission
HIDDEN = Exp(404, label="HIDDEN")  # not your circle: same page as a circle that does not exist
LOGIN = Exp(302, login=True, label="LOGIN")  # anonymous: off to the login page
# Someone else's chat message: edit shows the form again with "only your own",
# delete redirects back to the chat with that message; nothing changes either way.
NOT_YOURS_FORM = Exp(200, label="NOT_YOURS_FORM")
NOT_YOURS_BACK = Exp(302, label="NOT_YOURS_BACK")

PERSONAS = [
    "anonymous", "outsider", "removed", "handed_over", "professional", "professional_chat",
    "member", "supporter", "central", "coordinator",
]
NO_ACCESS = ("outsider", "removed", "handed_over")  # signed in, but not (any more) in circle A


def row(*, professional, member, supporter, central, coordinator,
        professional_chat=None) -> dict[str, Exp]:
    """One line of the matrix. The people without access answer the same everywhere;
    ``professional_chat`` differs from ``professional`` only for the chat."""
    return {
        "anonymous": LOGIN, "outsider": HIDDEN, "removed": HIDDEN, "handed_over": HIDDEN,
        "professional": professional,
        "professional_chat": professional if professional_chat is None else professional_chat,
        "member": member, "supporter": supporter, "central": central, "coordinator": coordinator,
    }


def managers(exp: Exp) -> dict[str, Exp]:
    """Central persons and the coordinator (before handover) may; other members get 403."""
    return row(professional=FORBID, member=FORBID, supporter=FORBID, central=exp, coordinator=exp)


def chat_readers(exp: Exp, *, central: Exp | None = None) -> dict[str, Exp]:
    """Everyone in the circle; professionals only while the chat is open to them."""
    return row(professional=FORBID, professional_chat=exp, member=exp, supporter=exp,
               central=central or exp, coordinator=exp)


# (endpoint, method) -> persona -> expected answer. HEAD and OPTIONS are left to Flask
# (HEAD runs the GET view: see test_head_is_as_hidden_as_get).
MATRIX: dict[tuple[str, str], dict[str, Exp]] = {
    ("circles.home", "GET"): row(
        professional=PAGE, member=PAGE, supporter=PAGE, central=PAGE, coordinator=PAGE
    ),
    ("circles.history", "GET"): row(
        professional=PAGE, member=PAGE, supporter=PAGE, central=PAGE, coordinator=PAGE
    ),
    ("circles.settings", "GET"): managers(PAGE),
    ("circles.settings", "POST"): managers(DONE),
    # Only central persons decide what professionals see; not the coordinator.
    ("circles.professionals", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    # Likewise whether the chat shows who is there right now.
    ("circles.presence", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    ("circles.remove_member", "POST"): managers(DONE),
    ("circles.member_flags", "POST"): managers(DONE),
    # The coordinator withdraws by handing over, not by leaving.
    ("circles.leave", "GET"): row(
        professional=PAGE, member=PAGE, supporter=PAGE, central=PAGE, coordinator=FORBID
    ),
    ("circles.leave", "POST"): row(
        professional=DONE, member=DONE, supporter=DONE, central=DONE, coordinator=FORBID
    ),
    ("circles.handover", "GET"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=FORBID, coordinator=PAGE
    ),
    ("circles.handover", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=FORBID, coordinator=DONE
    ),
    ("invitations.people", "GET"): managers(PAGE),
    ("invitations.create", "POST"): managers(CARD),
    ("invitations.reissue", "POST"): managers(CARD),
    ("invitations.revoke", "POST"): managers(DONE),
    ("invitations.reentry", "POST"): managers(CARD),
    # The chat; the message used is the target member's, so nobody here is its author.
    ("chat.show", "GET"): chat_readers(PAGE),
    ("chat.send", "POST"): chat_readers(DONE),
    ("chat.edit", "GET"): chat_readers(PAGE),
    ("chat.edit", "POST"): chat_readers(NOT_YOURS_FORM),
    # A central person may remove anyone's hurtful message; others only their own.
    ("chat.delete", "POST"): chat_readers(NOT_YOURS_BACK, central=DONE),
    ("chat.versions", "GET"): chat_readers(PAGE),
}

# Form fields sent with each POST (besides the CSRF token): enough for the action to
# succeed when access is granted, so a DONE or CARD proves the action really happened.
POST_DATA: dict[str, dict[str, str]] = {
    "circles.settings": {"title": "Renamed circle", "question": "Q?", "language": "en",
                         "timezone": "Europe/Amsterdam"},
    "circles.professionals": {"read_chat": "y"},
    "circles.presence": {"enabled": "y"},
    "circles.member_flags": {"plan_keeper": "y", "followup": "y"},
    "invitations.create": {"name": "Guest", "role": "member"},
    "chat.send": {"body": "Hello from the matrix", "client_id": "matrix-client-0001"},
    "chat.edit": {"body": "Changed by someone else"},
}

# Every route that is not circle-scoped, with what an anonymous visitor gets.
# (endpoint, method) -> (path to request, status, where a redirect goes or None)
LOGIN_REDIRECT = "login"
PUBLIC_ROUTES: dict[tuple[str, str], tuple[str, int, str | None]] = {
    ("static", "GET"): ("/static/css/kring.css", 200, None),
    ("pages.index", "GET"): ("/", 200, None),
    ("pages.set_language", "POST"): ("/language", 302, "/"),
    ("pages.socketio_client", "GET"): ("/vendor/socket.io.min.js", 200, None),
    ("pages.health", "GET"): ("/healthz", 200, None),
    ("auth.login", "GET"): ("/login", 200, None),
    ("auth.login", "POST"): ("/login", 200, None),  # no credentials: the form again
    ("auth.logout", "POST"): ("/logout", 302, LOGIN_REDIRECT),
    ("auth.account", "GET"): ("/account", 302, LOGIN_REDIRECT),
    ("auth.account", "POST"): ("/account", 302, LOGIN_REDIRECT),
    ("auth.change_password", "POST"): ("/account/password", 302, LOGIN_REDIRECT),
    ("auth.forgot_password", "GET"): ("/password/forgot", 200, None),
    ("auth.forgot_password", "POST"): ("/password/forgot", 200, None),  # no address: form again
    ("auth.open_reset_link", "GET"): ("/r/not-a-real-token", 302, "/password/new"),
    ("auth.new_password", "GET"): ("/password/new", 404, None),  # no token in the session
    ("auth.new_password", "POST"): ("/password/new", 404, None),
    ("circles.list_circles", "GET"): ("/circles", 302, LOGIN_REDIRECT),
    ("circles.new_circle", "GET"): ("/circles/new", 302, LOGIN_REDIRECT),
    ("circles.new_circle", "POST"): ("/circles/new", 302, LOGIN_REDIRECT),
    ("invitations.open_link", "GET"): ("/i/not-a-real-token", 302, "/join"),
    ("invitations.join", "GET"): ("/join", 404, None),  # no invitation in the session
    ("invitations.join", "POST"): ("/join", 404, None),
}

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield rule, method


def _circle_scoped(rule) -> bool:
    return "<int:circle_id>" in rule.rule


# --- The world each test runs in ---------------------------------------------------


@dataclass
class World:
    circle: Circle  # circle A, where everything is requested
    coordinator: Membership
    central: Membership
    target: Membership  # an ordinary member the managers act on, author of ``message``
    invitation: Invitation  # a pending invitation in circle A
    message: Message  # the target's chat message in circle A
    other: Circle  # circle B
    other_central: Membership
    other_member: Membership
    other_invitation: Invitation
    other_message: Message


def _message(db, circle, author, client_id) -> Message:
    text = f"Said by {author.display_name}"
    payload, _new = chat_svc.send_message(circle, author, client_id, text)
    db.session.commit()
    return db.session.get(Message, payload["id"])


@pytest.fixture
def world(db, make_circle, add_member) -> World:
    circle, coordinator = make_circle("Circle A")
    central = add_member(circle, Role.CENTRAL, name="Central A")
    target = add_member(circle, Role.MEMBER, name="Target A")
    invitation, _ = svc.invite(circle, coordinator, name="Pending A", role=Role.MEMBER)
    other, _other_coord = make_circle("Circle B")
    other_central = add_member(other, Role.CENTRAL, name="Central B")
    other_member = add_member(other, Role.MEMBER, name="Member B")
    other_invitation, _ = svc.invite(other, None, name="Pending B", role=Role.MEMBER)
    db.session.commit()
    return World(
        circle, coordinator, central, target, invitation,
        _message(db, circle, target, "world-message-a"),
        other, other_central, other_member, other_invitation,
        _message(db, other, other_member, "world-message-b"),
    )


def _persona_user(persona: str, world: World, db, add_member):
    """The user to sign in as (None for anonymous), after setting up their history."""
    if persona == "anonymous":
        return None
    if persona == "outsider":
        return world.other_central.user
    if persona == "removed":
        m = add_member(world.circle, Role.MEMBER, name="Removed A")
        svc.remove_member(world.circle, world.central, m)
        db.session.commit()
        return m.user
    if persona == "handed_over":
        svc.hand_over(world.circle, world.coordinator)
        db.session.commit()
        return world.coordinator.user
    if persona == "professional_chat":
        svc.set_professionals_read_chat(world.circle, world.central, True)
        db.session.commit()
        return add_member(world.circle, Role.PROFESSIONAL, name="Professional A").user
    if persona == "central":
        return world.central.user
    if persona == "coordinator":
        return world.coordinator.user
    return add_member(world.circle, Role(persona), name=f"{persona.title()} A").user


@pytest.fixture
def as_persona(db, world, add_member, client, login):
    """Sign ``client`` in as the persona; return the CSRF token to post with."""

    def make(persona: str) -> str:
        user = _persona_user(persona, world, db, add_member)
        if user is None:
            return csrf_from(client.get("/login"))
        login(client, user)
        return csrf_from(client.get("/account"))

    return make


INNER_IDS = {  # a route's inner id -> the World attribute it defaults to
    "member_id": "target",
    "invitation_id": "invitation",
    "message_id": "message",
}


def _path(app, endpoint: str, method: str, circle_id: int, world: World, **ids) -> str:
    """The URL of ``endpoint`` for ``circle_id``; inner ids default to circle A's objects."""
    rule = next(r for r in app.url_map.iter_rules()
                if r.endpoint == endpoint and method in r.methods)
    values = {"circle_id": circle_id}
    for arg in rule.arguments - {"circle_id"}:
        if arg in ids:
            values[arg] = ids[arg]
        elif arg in INNER_IDS:
            values[arg] = getattr(world, INNER_IDS[arg]).id
        else:
            pytest.fail(f"{endpoint}: no sample value for <{arg}>; add it to INNER_IDS")
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


def _request(client, method: str, path: str, token: str, endpoint: str):
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token, **POST_DATA.get(endpoint, {})})


def _snapshot(db) -> tuple:
    """Everything a circle-scoped action could change, read straight from the database."""
    rows = lambda *cols: db.session.execute(select(*cols).order_by(cols[0])).all()  # noqa: E731
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (
        rows(Circle.id, Circle.title, Circle.question, Circle.language, Circle.timezone,
             Circle.professionals_read_chat, Circle.presence_enabled, Circle.handed_over_at),
        rows(Membership.id, Membership.status, Membership.role, Membership.is_plan_keeper,
             Membership.in_followup_group),
        rows(Invitation.id, Invitation.token_hash, Invitation.revoked_at, Invitation.redeemed_at),
        rows(Message.id, Message.body, Message.edited_at, Message.deleted_at),
        count(MessageRevision),
        count(CircleEvent),
        count(ReentryToken),
    )


def _missing_circle_id(world: World) -> int:
    return max(world.circle.id, world.other.id) + 1000


def _login_next(response) -> str:
    """The ``next`` of a redirect to the login page (asserting that it is one)."""
    assert response.status_code == 302
    loc = urlsplit(response.headers["Location"])
    assert loc.path == "/login", response.headers["Location"]
    return parse_qs(loc.query)["next"][0]


def _comparable_headers(app, response) -> list[tuple[str, object]]:
    """The headers, with the time taken out: no Date, and a refreshed session cookie
    compared by its decoded content and attributes, not its timestamped signature."""
    out = []
    for k, v in response.headers.items():
        if k.lower() == "date":
            continue
        if k.lower() == "set-cookie" and v.startswith(app.config["SESSION_COOKIE_NAME"] + "="):
            value, _, attrs = v.partition(";")
            serializer = app.session_interface.get_signing_serializer(app)
            content = serializer.loads(value.split("=", 1)[1])
            attrs = [a.strip() for a in attrs.split(";") if not a.strip().startswith("Expires=")]
            out.append((k, repr((sorted(content.items()), attrs))))
            continue
        out.append((k, v))
    return sorted(out)


def _ids(cases) -> list[str]:
    return ["-".join(c) for c in cases]


# --- Every route is classified -----------------------------------------------------


def test_every_circle_route_is_in_the_matrix(app):
    routes = {(r.endpoint, m) for r, m in _rules(app) if _circle_scoped(r)}
    missing = routes - MATRIX.keys()
    stale = MATRIX.keys() - routes
    assert not missing, f"circle-scoped routes missing from MATRIX: {sorted(missing)}"
    assert not stale, f"MATRIX lists routes that do not exist: {sorted(stale)}"
    for key, expected in MATRIX.items():
        assert set(expected) == set(PERSONAS), f"{key}: every persona needs an answer"
        assert all(expected[p] == HIDDEN for p in NO_ACCESS), key
        assert expected["anonymous"] == LOGIN, key


def test_every_other_route_is_classified(app):
    routes = {(r.endpoint, m) for r, m in _rules(app) if not _circle_scoped(r)}
    missing = routes - PUBLIC_ROUTES.keys()
    stale = PUBLIC_ROUTES.keys() - routes
    assert not missing, f"routes missing from PUBLIC_ROUTES: {sorted(missing)}"
    assert not stale, f"PUBLIC_ROUTES lists routes that do not exist: {sorted(stale)}"
    # No other door to circle data: a rule taking an object id is always circle-scoped.
    for rule, _m in _rules(app):
        if not _circle_scoped(rule):
            assert not any(a.endswith("_id") for a in rule.arguments), rule.rule


@pytest.mark.parametrize("endpoint,method", sorted(PUBLIC_ROUTES), ids=_ids(sorted(PUBLIC_ROUTES)))
def test_anonymous_on_top_level_routes(app, client, endpoint, method):
    path, status, location = PUBLIC_ROUTES[(endpoint, method)]
    matched, _args = app.url_map.bind("localhost").match(path, method=method)
    assert matched == endpoint, f"{path} is {matched}, not {endpoint}"
    token = csrf_from(client.get("/login"))
    data = {"csrf_token": token}
    if endpoint == "pages.set_language":
        data["language"] = "en"
    resp = client.get(path) if method == "GET" else client.post(path, data=data)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    if location == LOGIN_REDIRECT:
        assert _login_next(resp) == path
    elif location is not None:
        assert resp.headers["Location"] == location


# --- The matrix --------------------------------------------------------------------

CASES = [(e, m, p) for (e, m) in sorted(MATRIX) for p in PERSONAS]


@pytest.mark.parametrize("endpoint,method,persona", CASES, ids=_ids(CASES))
def test_matrix(app, db, client, world, as_persona, endpoint, method, persona):
    expected = MATRIX[(endpoint, method)][persona]
    token = as_persona(persona)
    path = _path(app, endpoint, method, world.circle.id, world)
    before = _snapshot(db)

    resp = _request(client, method, path, token, endpoint)

    assert resp.status_code == expected.status, (
        f"{method} {path} as {persona}: got {resp.status_code}, want {expected!r}\n"
        + resp.get_data(as_text=True)[:300]
    )
    if expected.login:
        assert _login_next(resp) == path
    elif resp.status_code == 302:
        assert urlsplit(resp.headers["Location"]).path != "/login"
    changed = _snapshot(db) != before
    assert changed == expected.changes, (
        f"{method} {path} as {persona} ({expected!r}): data {'changed' if changed else 'unchanged'}"
    )


# --- A circle that is not yours looks like one that does not exist -----------------

IDENTICAL_CASES = [(e, m, p) for (e, m) in sorted(MATRIX) for p in NO_ACCESS]


@pytest.mark.parametrize("endpoint,method,persona", IDENTICAL_CASES, ids=_ids(IDENTICAL_CASES))
def test_not_yours_is_byte_identical_to_missing(app, db, client, world, as_persona,
                                                endpoint, method, persona):
    token = as_persona(persona)
    existing = _path(app, endpoint, method, world.circle.id, world)
    missing = _path(app, endpoint, method, _missing_circle_id(world), world)
    before = _snapshot(db)

    a = _request(client, method, existing, token, endpoint)
    b = _request(client, method, missing, token, endpoint)

    assert a.status_code == b.status_code == 404
    assert a.get_data() == b.get_data()
    assert _comparable_headers(app, a) == _comparable_headers(app, b)
    assert _snapshot(db) == before


@pytest.mark.parametrize("persona", NO_ACCESS)
def test_head_is_as_hidden_as_get(app, client, world, as_persona, persona):
    as_persona(persona)
    for endpoint, method in sorted(MATRIX):
        if method == "GET":
            a = client.head(_path(app, endpoint, "HEAD", world.circle.id, world))
            b = client.head(_path(app, endpoint, "HEAD", _missing_circle_id(world), world))
            assert a.status_code == b.status_code == 404, endpoint
            assert _comparable_headers(app, a) == _comparable_headers(app, b), endpoint


@pytest.mark.parametrize("endpoint,method", sorted(MATRIX), ids=_ids(sorted(MATRIX)))
def test_anonymous_redirect_is_the_same_for_missing_circles(app, client, world, as_persona,
                                                           endpoint, method):
    token = as_persona("anonymous")
    existing = _path(app, endpoint, method, world.circle.id, world)
    missing = _path(app, endpoint, method, _missing_circle_id(world), world)

    a = _request(client, method, existing, token, endpoint)
    b = _request(client, method, missing, token, endpoint)

    assert _login_next(a) == existing
    assert _login_next(b) == missing
    # The only difference is the circle id inside ``next``.
    swap = (str(_missing_circle_id(world)), str(world.circle.id))
    assert a.headers["Location"] == b.headers["Location"].replace(*swap)
    assert a.get_data(as_text=True) == b.get_data(as_text=True).replace(*swap)


# --- Ids from another circle under your own circle's URL ---------------------------

FOREIGN_ID_ROUTES = sorted(
    (e, m) for (e, m) in MATRIX if e in {
        "circles.remove_member", "circles.member_flags", "invitations.reentry",
        "invitations.reissue", "invitations.revoke", "chat.edit", "chat.delete", "chat.versions",
    }
)


def test_foreign_id_routes_cover_every_route_with_an_inner_id(app):
    with_ids = {(r.endpoint, m) for r, m in _rules(app)
                if _circle_scoped(r) and r.arguments - {"circle_id"}}
    assert with_ids == set(FOREIGN_ID_ROUTES)


@pytest.mark.parametrize("actor", ["central", "coordinator"])
@pytest.mark.parametrize("endpoint,method", FOREIGN_ID_ROUTES, ids=_ids(FOREIGN_ID_ROUTES))
def test_ids_from_another_circle_are_not_found(app, db, client, world, as_persona,
                                               endpoint, method, actor):
    """A manager of circle A uses circle B's member, invitation or message id under
    /c/A/...: 404, the same page as for an id that does not exist, and B is untouched."""
    token = as_persona(actor)
    foreign = {"member_id": world.other_member.id, "invitation_id": world.other_invitation.id,
               "message_id": world.other_message.id}
    nowhere = {k: 10_000_000 for k in foreign}
    before = _snapshot(db)

    a = _request(client, method, _path(app, endpoint, method, world.circle.id, world, **foreign),
                 token, endpoint)
    b = _request(client, method, _path(app, endpoint, method, world.circle.id, world, **nowhere),
                 token, endpoint)

    assert a.status_code == b.status_code == 404
    assert a.get_data() == b.get_data()
    assert b"Said by Member B" not in a.get_data()
    assert _snapshot(db) == before
    member = db.session.get(Membership, world.other_member.id)
    assert member.status == MembershipStatus.ACTIVE
    assert not member.is_plan_keeper and not member.in_followup_group
    assert db.session.get(Invitation, world.other_invitation.id).revoked_at is None
    assert db.session.get(Message, world.other_message.id).deleted_at is None


# --- Sockets -----------------------------------------------------------------------
#
# Socket events are classified per namespace. For each, the answer per persona:
# "accepted"/"refused" for connect, else the ack's outcome: "ok" or the error code.
# Anonymous sockets are refused at connect, so they never reach an event ("refused").

REFUSED = "refused"


def _socket_row(*, professional, member, supporter, central, coordinator,
                professional_chat=None, no_access="not_found") -> dict[str, str]:
    return {
        "anonymous": REFUSED, "outsider": no_access, "removed": no_access,
        "handed_over": no_access, "professional": professional,
        "professional_chat": professional if professional_chat is None else professional_chat,
        "member": member, "supporter": supporter, "central": central, "coordinator": coordinator,
    }


def _socket_chat(ok: str = "ok", *, central: str | None = None) -> dict[str, str]:
    return _socket_row(professional="forbidden", professional_chat=ok, member=ok, supporter=ok,
                       central=central or ok, coordinator=ok)


def _everyone_signed_in(answer: str) -> dict[str, str]:
    return _socket_row(professional=answer, member=answer, supporter=answer, central=answer,
                       coordinator=answer, no_access=answer)


# Not an event a client sends: Socket.IO calls it when a socket goes away. It only
# forgets that socket's own state (see test_socket_disconnect_event_touches_only_itself).
SERVER_ONLY = "server-only"

SOCKET_MATRIX: dict[str, dict[str, dict[str, str] | str]] = {
    "/": {
        # Connect carries no circle: it only joins the socket's user and login-session
        # rooms, so any signed-in person (with the page's CSRF token) is accepted.
        "connect": {"anonymous": REFUSED,
                    **{p: "accepted" for p in PERSONAS if p != "anonymous"}},
        "disconnect": SERVER_ONLY,
        "*": _everyone_signed_in("unknown_event"),
        "chat:join": _socket_chat(),
        # Leaving a room needs no access: the answer is the same for every circle id.
        "chat:leave": _everyone_signed_in("ok"),
        "chat:send": _socket_chat(),
        "chat:edit": _socket_chat("invalid"),  # the target's message: not theirs to edit
        "chat:delete": _socket_chat("invalid", central="ok"),
        "chat:history": _socket_chat(),
        "chat:read": _socket_chat(),
    },
}

# What each event is sent with (``{circle}`` / ``{message}`` filled in per test).
SOCKET_PAYLOADS: dict[str, dict] = {
    "*": {"circle_id": "{circle}"},
    "chat:join": {"circle_id": "{circle}"},
    "chat:leave": {"circle_id": "{circle}"},
    "chat:send": {"circle_id": "{circle}", "client_id": "matrix-socket-0001", "body": "Hi"},
    "chat:edit": {"circle_id": "{circle}", "message_id": "{message}", "body": "Changed"},
    "chat:delete": {"circle_id": "{circle}", "message_id": "{message}"},
    "chat:history": {"circle_id": "{circle}", "before_seq": 2},
    "chat:read": {"circle_id": "{circle}", "seq": 1},
}
SOCKET_CHANGES = {"chat:send", "chat:delete"}  # an "ok" here must change the database


def _fill(payload: dict, circle_id: int, message_id: int) -> dict:
    values = {"{circle}": circle_id, "{message}": message_id}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}


def _event_name(event: str) -> str:
    return "matrix:no-such-event" if event == "*" else event


def test_every_socket_event_is_in_the_matrix(app):
    server = socketio.server
    registered = {ns: set(events) for ns, events in server.handlers.items()}
    listed = {ns: set(events) for ns, events in SOCKET_MATRIX.items()}
    assert registered == listed, "socket events and SOCKET_MATRIX differ"
    assert not server.namespace_handlers, "class-based namespaces are not in SOCKET_MATRIX"
    for ns, events in SOCKET_MATRIX.items():
        for event, expected in events.items():
            if expected == SERVER_ONLY:
                continue
            assert set(expected) == set(PERSONAS), f"{ns} {event}: every persona needs an answer"
            if event != "connect":
                assert event in SOCKET_PAYLOADS, f"{event}: add a payload to SOCKET_PAYLOADS"


class _Socket:
    """A Socket.IO test client on ``client``'s cookies. Each call runs in its own app
    context, like a real server: the handlers commit or remove their own db session."""

    def __init__(self, app, db, client, auth):
        self.app, self.db = app, db
        db.session.commit()
        with app.app_context():
            self.sc = socketio.test_client(app, flask_test_client=client, auth=auth)
        db.session.rollback()

    @property
    def connected(self) -> bool:
        return self.sc.is_connected()

    def rooms(self) -> set[str]:
        manager = socketio.server.manager
        sid = manager.sid_from_eio_sid(self.sc.eio_sid, "/")
        return set(manager.get_rooms(sid, "/")) - {sid}

    def emit(self, event: str, *args):
        self.db.session.commit()
        with self.app.app_context():
            ack = self.sc.emit(event, *args, callback=True)
        self.db.session.rollback()
        return ack

    def close(self):
        if self.sc.is_connected():
            with self.app.app_context():
                self.sc.disconnect()


@pytest.fixture
def open_socket(app, db):
    opened = []

    def open_(client, token):
        sock = _Socket(app, db, client, {"csrf": token} if token else None)
        opened.append(sock)
        return sock

    yield open_
    for sock in opened:
        sock.close()


def _outcome(ack) -> str:
    assert isinstance(ack, dict), ack
    return "ok" if ack.get("ok") else ack["error"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_socket_connect(client, world, as_persona, open_socket, persona):
    sock = open_socket(client, as_persona(persona))
    assert ("accepted" if sock.connected else REFUSED) == SOCKET_MATRIX["/"]["connect"][persona]
    if sock.connected:
        # Connecting joins no circle, only the rooms the server uses to reach this
        # person's sockets (to disconnect them on logout, removal, password change).
        rooms = sock.rooms()
        assert rooms and all(r.startswith(("user:", "login:")) for r in rooms), rooms


def test_socket_connect_needs_the_csrf_token(client, world, as_persona, open_socket):
    """A signed-in browser tricked into opening a socket from another page has the
    cookie but not the page's token: refused."""
    token = as_persona("member")
    assert not open_socket(client, None).connected
    assert not open_socket(client, token[:-2] + "xx").connected
    assert open_socket(client, token).connected


def test_socket_connect_refused_with_a_signed_out_cookie(client, new_client, world, as_persona,
                                                        open_socket):
    """A copy of the session cookie stops opening sockets once its owner signs out."""
    token = as_persona("member")
    stolen = new_client()
    stolen.set_cookie("kring_session", client.get_cookie("kring_session").value)
    assert open_socket(stolen, token).connected
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not open_socket(stolen, token).connected


SOCKET_CASES = [
    (event, persona)
    for event, expected in SOCKET_MATRIX["/"].items()
    if event not in ("connect",) and expected != SERVER_ONLY
    for persona in PERSONAS
]


@pytest.mark.parametrize("event,persona", SOCKET_CASES, ids=_ids(SOCKET_CASES))
def test_socket_event(db, client, world, as_persona, open_socket, event, persona):
    expected = SOCKET_MATRIX["/"][event][persona]
    sock = open_socket(client, as_persona(persona))
    if expected == REFUSED:
        assert not sock.connected
        return
    assert sock.connected
    before = _snapshot(db)
    ack = sock.emit(_event_name(event),
                    _fill(SOCKET_PAYLOADS[event], world.circle.id, world.message.id))
    assert _outcome(ack) == expected, ack
    changed = _snapshot(db) != before
    assert changed == (expected == "ok" and event in SOCKET_CHANGES)
    if expected != "ok":
        assert "Said by Target A" not in str(ack)


SOCKET_IDENTICAL = [
    (event, persona) for event, _p in SOCKET_CASES if _p == "outsider" for persona in NO_ACCESS
]


@pytest.mark.parametrize("event,persona", SOCKET_IDENTICAL, ids=_ids(SOCKET_IDENTICAL))
def test_socket_not_yours_is_identical_to_missing(db, client, world, as_persona, open_socket,
                                                  event, persona):
    sock = open_socket(client, as_persona(persona))
    before = _snapshot(db)
    payload = SOCKET_PAYLOADS[event]
    a = sock.emit(_event_name(event), _fill(payload, world.circle.id, world.message.id))
    b = sock.emit(_event_name(event), _fill(payload, _missing_circle_id(world), world.message.id))
    assert a == b
    assert _snapshot(db) == before
    assert not any(r.startswith("circle:") for r in sock.rooms())


@pytest.mark.parametrize("event", ["chat:edit", "chat:delete"])
def test_socket_message_ids_from_another_circle_are_not_found(db, client, world, as_persona,
                                                              open_socket, event):
    sock = open_socket(client, as_persona("central"))
    before = _snapshot(db)
    a = sock.emit(event, _fill(SOCKET_PAYLOADS[event], world.circle.id, world.other_message.id))
    b = sock.emit(event, _fill(SOCKET_PAYLOADS[event], world.circle.id, 10_000_000))
    assert a == b == {"ok": False, "error": "not_found"}
    assert _snapshot(db) == before


def test_socket_disconnect_sent_by_a_client_is_ignored(client, new_client, login, world,
                                                      as_persona, open_socket):
    """A client may emit an event named "disconnect" itself; it must not reach the
    disconnect handler (which would drop the socket's state while it stays open)."""
    mine = open_socket(client, as_persona("member"))
    other_client = login(new_client(), world.central.user)
    theirs = open_socket(other_client, csrf_from(other_client.get("/account")))
    join = {"circle_id": world.circle.id}
    assert theirs.emit("chat:join", join)["ok"]
    mine.emit("disconnect", "forged")
    assert mine.connected and mine.emit("chat:join", join)["ok"]
    assert theirs.emit("chat:join", join)["ok"]


def test_socket_connect_sent_by_a_client_does_not_refill_its_rate_limit(client, world,
                                                                          as_persona, open_socket):
    """Re-running the connect handler as an event (with a valid token as its "auth")
    used to give the socket a fresh rate-limit bucket: unlimited sends."""
    token = as_persona("member")
    sock = open_socket(client, token)
    read = {"circle_id": world.circle.id, "seq": 0}
    for _ in range(200):
        if sock.emit("chat:read", read).get("error") == "rate_limited":
            break
    else:
        pytest.fail("never rate limited")
    sid = socketio.server.manager.sid_from_eio_sid(sock.sc.eio_sid, "/")
    state = SOCKETS[sid]
    assert sock.emit("connect", "forged-environ", {"csrf": token}) is False
    assert SOCKETS[sid] is state
    allowed = 0
    while sock.emit("chat:read", read).get("ok") and allowed < 40:
        allowed += 1
    assert allowed < 20  # only what trickled back in meanwhile, not a fresh burst
