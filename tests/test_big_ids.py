"""Issue 10, hole 11: ids the database cannot hold (2**63, 2**64) and ids that cannot
exist (-1) answer exactly like a missing circle or object, never a 500.

The routes are read from ``app.url_map`` and the socket events from the server's
handlers, so a new route or event is covered without touching this file.
"""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter

from portal.extensions import socketio
from portal.models import Role
from portal.services import chat as chat_svc
from tests.conftest import csrf_from

BAD = ["9223372036854775808", "18446744073709551616", "-1", "99999999999999999999999"]
MISSING = 987654


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        converters = rule._converters.items()
        ints = [name for name, conv in converters if isinstance(conv, IntegerConverter)]
        if ints:
            yield rule, ints


def _path(rule, values: dict) -> str:
    """The rule's path with ``values`` put in as text (even ones the converter refuses)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


@pytest.fixture
def world(app, make_circle, add_member, login, client, db):
    circle, coord = make_circle()
    add_member(circle, role=Role.CENTRAL, name="Sanne")
    chat_svc.send_message(chat_svc.ChatSeat.of(coord), "bigids-0001", "hello")
    db.session.commit()
    login(client, coord.user)
    return circle, coord


def test_every_int_route_answers_a_huge_or_negative_id_like_a_missing_one(app, client, world):
    circle, _coord = world
    rules = list(_int_rules(app))
    assert len(rules) > 30  # the whole app, not a sample
    missing = client.get(f"/c/{MISSING}")
    assert missing.status_code == 404
    token = csrf_from(client.get(f"/c/{circle.id}/people"))
    for rule, ints in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for name in ints:
                for bad in BAD:
                    values = {n: (circle.id if n == "circle_id" else 1) for n in ints}
                    values[name] = bad
                    path = _path(rule, values)
                    resp = client.open(path, method=method, data={"csrf_token": token})
                    assert resp.status_code == 404, (method, path, resp.status_code)
                    assert resp.data == missing.data, (method, path)


def test_huge_numbers_in_query_strings_and_forms(app, client, world, db):
    circle, coord = world
    home = f"/c/{circle.id}"
    for bad in BAD[:2]:
        for url in (
            f"{home}/chat?before={bad}",
            f"{home}/chat?after={bad}",
            f"{home}/history?page={bad}",
        ):
            assert client.get(url).status_code == 200, url
        assert client.get(f"{home}/plan/diff?a={bad}&b=1").status_code == 404
        token = csrf_from(client.get(f"{home}/plan"))
        resp = client.post(
            f"{home}/plan/commitments/new",
            data={
                "what": "Shopping",
                "assignees": [bad],
                "kind": "once",
                "start": "2030-12-10",
                "checker": bad,
                "interval": "1",
                "csrf_token": token,
            },
        )
        assert resp.status_code in (200, 400), resp.status_code  # the form again, not a 500
        assert "Please choose people from this circle." in resp.get_data(as_text=True)


def test_a_professional_accepting_a_huge_version_gets_the_missing_version_answer(
    app, make_circle, add_member, login, new_client
):
    circle, _ = make_circle()
    prof = add_member(circle, role=Role.PROFESSIONAL, name="Dr Vos")
    b = login(new_client(), prof.user)
    answers = []
    for version in ("99", BAD[0], BAD[1]):
        token = csrf_from(b.get(f"/c/{circle.id}/plan"))
        resp = b.post(f"/c/{circle.id}/plan/accept", data={"version": version, "csrf_token": token})
        answers.append((resp.status_code, resp.data))
    assert answers[0][0] == 404 and len(set(answers)) == 1


def _id_events():
    return sorted(
        e for e in socketio.server.handlers["/"] if e not in ("connect", "disconnect", "*")
    )


def test_every_socket_event_answers_a_huge_id_like_a_missing_circle(
    app, client, world, socket_client
):
    circle, coord = world
    events = _id_events()
    assert {"chat:send", "chat:join", "plan:join"} <= set(events)
    base = {"client_id": "bigids-0002", "body": "x", "before_seq": 5, "seq": 1, "message_id": 1}
    base["line_id"] = 1  # the private line's events (issue 14)
    for name in events:
        sock = socket_client(coord.user, http=client)  # a fresh per-socket rate limit
        missing = sock.emit(name, {**base, "circle_id": MISSING})
        for bad in (2**63, 2**64, -1, 0, 10**30):
            ack = sock.emit(name, {**base, "circle_id": bad})
            assert ack == missing, (name, bad, ack, missing)
    # An id inside a circle (a message): like a missing message.
    sock = socket_client(coord.user, http=client)
    for name in ("chat:edit", "chat:delete"):
        missing = sock.emit(name, {**base, "circle_id": circle.id, "message_id": MISSING})
        assert missing == {"ok": False, "error": "not_found"}
        for bad in (2**63, 2**64, -1, 0):
            ack = sock.emit(name, {**base, "circle_id": circle.id, "message_id": bad})
            assert ack == missing, (name, bad, ack)
    # Numbers that are not ids (sequence numbers): a bad request, not a 500.
    for field, name in (
        ("after_seq", "chat:join"),
        ("before_seq", "chat:history"),
        ("seq", "chat:read"),
    ):
        ack = sock.emit(name, {**base, "circle_id": circle.id, field: 2**64})
        assert ack["error"] == "bad_request", (name, ack)
    assert sock.is_connected()


def test_the_url_pattern_is_exact_at_the_edges():
    from portal.ids import MAX_ID, _at_most

    pattern = re.compile(_at_most(MAX_ID) + r"\Z")
    for n in (1, 9, 10, 10**18 - 1, 10**18, MAX_ID - 1, MAX_ID):
        assert pattern.match(str(n)), n
    for text in ("0", "01", "-1", str(MAX_ID + 1), str(2**64), "9300000000000000000"):
        assert not pattern.match(text), text
    small = re.compile(_at_most(137) + r"\Z")
    assert [n for n in range(0, 2000) if small.match(str(n))] == list(range(1, 138))
