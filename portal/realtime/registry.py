"""Which sockets belong to which user and login session, across processes.

Removal, logout and password change must close a person's sockets wherever they are
connected. Socket.IO rooms only list this process's sockets, so the socket ids are
kept here as well: in Redis when ``REDIS_URL`` is set (shared by every process; the
Redis message queue then forwards ``server.disconnect(sid)`` to the process that
holds the socket), else in this process's memory (the single-process default).
"""

from __future__ import annotations

from collections import defaultdict

from flask import Flask, current_app

from portal.extensions import socketio

_PREFIX = "kring:sockets:"
_TTL = 7 * 24 * 3600  # a crashed process's leftovers expire; closing a dead sid is harmless


class MemoryRegistry:
    def __init__(self) -> None:
        self._keys: dict[str, set[str]] = defaultdict(set)

    def add(self, sid: str, keys: list[str]) -> None:
        for key in keys:
            self._keys[key].add(sid)

    def remove(self, sid: str, keys: list[str]) -> None:
        for key in keys:
            self._keys[key].discard(sid)
            if not self._keys[key]:
                del self._keys[key]

    def members(self, key: str) -> set[str]:
        return set(self._keys.get(key, ()))


class RedisRegistry:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def add(self, sid: str, keys: list[str]) -> None:
        pipe = self._redis.pipeline()
        for key in keys:
            pipe.sadd(_PREFIX + key, sid)
            pipe.expire(_PREFIX + key, _TTL)
        pipe.execute()

    def remove(self, sid: str, keys: list[str]) -> None:
        pipe = self._redis.pipeline()
        for key in keys:
            pipe.srem(_PREFIX + key, sid)
        pipe.execute()

    def members(self, key: str) -> set[str]:
        return {m.decode() for m in self._redis.smembers(_PREFIX + key)}


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["kring_sockets"] = RedisRegistry(url) if url else MemoryRegistry()


def registry() -> MemoryRegistry | RedisRegistry:
    return current_app.extensions["kring_sockets"]


def close_sockets(room: str) -> None:
    """Close the sockets registered under ``room``, in this process or any other (with
    the Redis message queue, ``disconnect`` is forwarded to the owning process). Run
    after commit, through ``events.disconnect_room``."""
    server = socketio.server
    if server is None:
        return
    for sid in registry().members(room):
        server.disconnect(sid, namespace="/")
