"""Fault tests: a small cluster of the test's own (tests/faults/cluster.py).

Each module is marked ``live`` and ``postgres_only``: they need PostgreSQL (two processes share one
database) and run in the PostgreSQL pass, beside the live-socket tests
(tests/conftest.py). Without PostgreSQL they fail rather than skip."""

from __future__ import annotations

import pytest

from tests.faults.cluster import Reader, cluster


@pytest.fixture(scope="package")
def _cluster():
    """Started once for tests/faults and stopped when they are done (not at the end of
    the whole pass: two idle servers and a Redis would sit there meanwhile)."""
    with cluster(2) as c:
        c.demo_circle, c.people = c.demo()
        yield c


@pytest.fixture
def kring_cluster(_cluster):
    """Two Kring processes, their own Redis and their own PostgreSQL database, with the
    demo circle (``demo_circle``) and one person per role (``people``). Started once:
    a test that stops Redis or kills a process leaves it to be healed here."""
    _cluster.heal()
    starts = {p.name: p.log.stat().st_size for p in _cluster.processes}
    yield _cluster
    for r in list(Reader.open):
        r.close()
    # Kring's own failures (a socket handler's server_error, an HTTP 500) fail the test;
    # python-socketio's "Cannot publish to redis" lines during an outage are expected.
    for p in _cluster.processes:
        with open(p.log, errors="replace") as f:
            f.seek(starts[p.name])
            log = f.read()
        for ours in ("socket event", "Exception on "):
            assert ours not in log, f"{p.name}:\n{log[-3000:]}"
