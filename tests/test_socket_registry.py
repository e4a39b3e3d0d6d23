"""The socket registry that lets removal and logout close sockets in any process."""

from __future__ import annotations

import uuid

import pytest

from portal.realtime.registry import MemoryRegistry, RedisRegistry

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_registry_tracks_sockets_per_room(kind):
    # Redis is a required service: if it is down this test fails, it does not skip.
    reg = MemoryRegistry() if kind == "memory" else RedisRegistry(REDIS_URL)
    user_room, login_a, login_b = (f"{p}:{uuid.uuid4().hex}" for p in ("user", "login", "login"))
    reg.add("sid-a", [user_room, login_a])
    reg.add("sid-b", [user_room, login_b])
    assert reg.members(user_room) == {"sid-a", "sid-b"}
    assert reg.members(login_a) == {"sid-a"}
    reg.remove("sid-a", [user_room, login_a])
    assert reg.members(user_room) == {"sid-b"}
    assert reg.members(login_a) == set()


def test_removal_closes_sockets_found_through_the_registry(
    app, make_circle, add_member, socket_client
):
    """The disconnect goes through the registry (not this process's room list)."""
    from portal.extensions import db
    from portal.services import membership as svc

    circle, coord = make_circle()
    anna = add_member(circle, name="Anna")
    sock = socket_client(anna.user)
    assert sock.emit("chat:join", {"circle_id": circle.id})["ok"]
    sids = app.extensions["kring_sockets"].members(f"user:{anna.user_id}")
    assert len(sids) == 1
    svc.remove_member(circle, coord, anna)
    db.session.commit()
    assert not sock.is_connected()
    assert app.extensions["kring_sockets"].members(f"user:{anna.user_id}") == set()
