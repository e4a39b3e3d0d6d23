"""Issue 10, hole 9: the chat send limit is per person, over every socket and the form.

The attack: one person opens ten sockets (and posts the plain form too) to get around a
per-socket limit. Every path takes from the same allowance, kept in the rate limiter's
storage, and every path answers with the same words.
"""

from __future__ import annotations

import html as htmllib
import re

from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import Message
from tests.conftest import csrf_from

LIMIT = 12
TOO_FAST = "You are sending very fast. Please wait a moment."


def _stored(author_id=None) -> int:
    q = select(func.count()).select_from(Message)
    if author_id is not None:
        q = q.where(Message.author_id == author_id)
    return _db.session.scalar(q)


def _post(client, circle_id, body, client_id):
    page = client.get(f"/c/{circle_id}/chat")
    return client.post(
        f"/c/{circle_id}/chat",
        data={"body": body, "client_id": client_id, "csrf_token": csrf_from(page)},
    )


def test_ten_sockets_and_the_form_share_one_allowance(
    app, client, make_circle, add_member, login, socket_client, new_client
):
    app.config["CHAT_SEND_RATE_LIMIT"] = f"{LIMIT} per minute"
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    ben = add_member(circle, name="Ben")
    login(client, anna.user)
    sockets = [socket_client(anna.user, http=client) for _ in range(10)]
    assert all(s.is_connected() for s in sockets)

    acks = []
    for round_ in range(3):
        for n, s in enumerate(sockets):
            acks.append(
                s.emit(
                    "chat:send",
                    {"circle_id": circle.id, "client_id": f"flood-{round_}-{n:04d}", "body": "x"},
                )
            )
    posts = [_post(client, circle.id, f"typed by hand {i}", f"form-{i:04d}") for i in range(3)]

    # At most the limit is stored, whichever way it came in.
    assert _stored(anna.id) == LIMIT
    assert sum(1 for a in acks if a.get("ok")) == LIMIT
    refused = [a for a in acks if not a.get("ok")]
    assert refused and all(a["error"] == "rate_limited" for a in refused)
    assert {a["message"] for a in refused} == {TOO_FAST}

    # The form says the same, and keeps what the person typed.
    for i, resp in enumerate(posts):
        assert resp.status_code == 429
        page = htmllib.unescape(resp.get_data(as_text=True))
        assert TOO_FAST in page
        assert re.search(rf"<textarea[^>]*>\s*typed by hand {i}</textarea>", page), page[-2000:]

    # Ben is not held back by Anna's flood.
    other = new_client()
    login(other, ben.user)
    b = socket_client(ben.user, http=other)
    ack = b.emit("chat:send", {"circle_id": circle.id, "client_id": "ben-000001", "body": "hi"})
    assert ack["ok"], ack
    assert _post(other, circle.id, "and by hand", "ben-form-0001").status_code == 302
    assert _stored(ben.id) == 2


def test_the_form_counts_against_the_sockets_too(
    app, client, make_circle, add_member, login, socket_client
):
    app.config["CHAT_SEND_RATE_LIMIT"] = "3 per minute"
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    login(client, anna.user)
    for i in range(3):
        assert _post(client, circle.id, f"form {i}", f"form-only-{i:04d}").status_code == 302
    s = socket_client(anna.user, http=client)
    ack = s.emit("chat:send", {"circle_id": circle.id, "client_id": "sock-00001", "body": "x"})
    assert ack == {"ok": False, "error": "rate_limited", "message": TOO_FAST}
    assert _stored(anna.id) == 3
