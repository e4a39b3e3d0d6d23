"""Every page costs the same SQL statements in a small circle and in a big one.

A page whose statement count grows with the circle (one SELECT per invitee, per
commitment, per message...) gets slower as a family's circle lives on; the meeting
page did (18 statements with 3 invitees, 43 with 12: each invitee's membership was
loaded on its own). bench/pages.py measures the time; this counts the statements.
"""

from __future__ import annotations

import pytest

from tests.big_circle import seed_circle
from tests.conftest import PASSWORD, statements_of

SMALL = dict(people=3, commitments=2, months=1, messages=30, meetings_n=2)
BIG = dict(people=12, commitments=12, months=3, messages=400, meetings_n=6)


def _pages(s) -> dict[str, str]:
    c = s.circle.id
    return {
        "home": f"/c/{c}",
        "plan": f"/c/{c}/plan",
        "print": f"/c/{c}/plan/print",
        "meeting (poll)": f"/c/{c}/meetings/{s.poll_id}",
        "meeting (fixed)": f"/c/{c}/meetings/{s.fixed_id}",
        "meetings": f"/c/{c}/meetings",
        "chat": f"/c/{c}/chat",
        "history": f"/c/{c}/history",
        "people": f"/c/{c}/people",
        "export": f"/c/{c}/export",
        "plan export": f"/c/{c}/plan/export.json",
        "my commitments": "/me/commitments",
        "my meetings": "/me/meetings",
        "notifications": "/notifications",
    }


# A professional has no chat and takes no export (PRODUCT.md); their looks are logged.
# The independent coordinator takes no export either.
NOT_FOR = {"professional": {"chat", "export", "people"}, "coordinator": {"export"}}


def _counts(s, viewer, new_client, login) -> dict[str, int]:
    client = new_client()
    login(client, getattr(s, viewer).user)
    pages = {n: p for n, p in _pages(s).items() if n not in NOT_FOR.get(viewer, ())}
    for path in pages.values():  # warm up: templates, first-time loads
        statements_of(client, path)
    return {name: len(statements_of(client, path)) for name, path in pages.items()}


@pytest.mark.parametrize("viewer", ["central", "professional", "coordinator"])
def test_every_page_costs_the_same_statements_in_a_small_and_a_big_circle(
    app, db, new_client, login, viewer
):
    app.config["EXPORT_RATE_LIMIT"] = "1000 per hour"
    small = seed_circle("small", password=PASSWORD, **SMALL)
    big = seed_circle("big", password=PASSWORD, **BIG)
    assert len(small.members) == 3 and len(big.members) == 12
    got_small = _counts(small, viewer, new_client, login)
    got_big = _counts(big, viewer, new_client, login)
    # "No more", rather than "equal": an eager load sends nothing when everything it
    # would load is already in the session (the home page's last events name people
    # the page had loaded anyway in the big circle, not in the small one).
    grew = {n: (got_small[n], got_big[n]) for n in got_small if got_big[n] > got_small[n]}
    assert not grew, f"statements (3 people, 12 people) on pages that grew: {grew}"


def test_standing_completions_since_loads_the_recent_ticks_and_every_checklist_tick(
    db, make_circle, add_member
):
    """The pages load a commitment's ticks from a given turn on (``since``), in SQL:
    the date keys compared as text, keys that are no date ("item:<id>", "once")
    always included; on SQLite and PostgreSQL alike."""
    from datetime import timedelta

    from portal.models import Role
    from portal.services import plan
    from portal.services.schedule import Schedule, occurrences, today_in
    from tests import plan_data

    circle, coordinator = make_circle()
    central = add_member(circle, Role.CENTRAL, name="Central")
    today = today_in(circle.timezone)
    daily = plan_data.add_commitment(
        circle,
        coordinator,
        plan.CommitmentData(
            what="Feed the cat",
            schedule=Schedule("weekly", today - timedelta(days=60), weekdays=frozenset(range(7))),
            assignee_ids=[central.id],
        ),
    )
    listed = plan_data.add_commitment(
        circle,
        coordinator,
        plan.CommitmentData(
            what="Tidy the shed",
            schedule=Schedule("once", today + timedelta(days=5)),
            assignee_ids=[central.id],
            items=["Sort the tools", "Sweep"],
        ),
    )
    turns = occurrences(plan.schedule_of(daily), today - timedelta(days=60), today)
    for day in turns:
        plan.tick(circle, central, daily, day.isoformat())
    plan.tick(circle, central, listed, f"item:{listed.items[0].id}")
    db.session.commit()
    item_key = f"item:{listed.items[0].id}"
    cut = today - timedelta(days=10)

    got = plan.standing_completions([daily.id, listed.id], {daily.id: cut, listed.id: None})
    assert sorted(got[daily.id]) == [d.isoformat() for d in turns if d >= cut]
    assert set(got[listed.id]) == {item_key}
    assert len(plan.standing_completions([daily.id])[daily.id]) == len(turns) == 61
    # A date-limited commitment keeps its keys that are no date.
    far = today + timedelta(days=400)
    got = plan.standing_completions([daily.id, listed.id], {daily.id: far, listed.id: far})
    assert got == {daily.id: {}, listed.id: {item_key: got[listed.id][item_key]}}
