"""Fault tests: a small cluster of the test's own (tests/faults/cluster.py).

Each module is marked ``live`` and ``postgres_only``: they need PostgreSQL (two processes share one
database) and run in the PostgreSQL pass, beside the live-socket tests
(tests/conftest.py). Without PostgreSQL they fail rather than skip."""

from __future__ import annotations

import pytest

from tests.faults.cluster import Reader, cluster


@pytest.fixture(scope="session")
def _cluster():
    with cluster(2) as c:
        c.demo_circle, c.people = c.demo()
        yield c


@pytest.fixture
def kring_cluster(_cluster):
    """Two Kring processes, their own Redis and their own PostgreSQL database, with the
    demo circle (``demo_circle``) and one person per role (``people``). Started once:
    a test that stops Redis or kills a process leaves it to be healed here."""
    _cluster.heal()
    yield _cluster
    for r in list(Reader.open):
        r.close()
