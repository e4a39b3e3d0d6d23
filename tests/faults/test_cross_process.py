"""Two processes, one Redis: what someone does on process 1 reaches the open pages on
process 2, live: chat messages, ticks, votes on a proposal and the news badge (issue 15,
part C, a)."""

from __future__ import annotations

import re

import pytest

from tests.faults.cluster import Reader, stored_bodies, wait_until
from tests.live.conftest import csrf_in

_FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')

pytestmark = [pytest.mark.live, pytest.mark.postgres_only]


def _tick_form(person, circle_id):
    """An open tick form on the person's plan page: (action, hidden fields) or None."""
    page = person.get(f"/c/{circle_id}/plan")
    assert page.status_code == 200
    for action, inner in _FORM.findall(page.text):
        if action.endswith("/tick") and "for_member" not in inner:
            return action, dict(_HIDDEN.findall(inner)) | {"csrf_token": csrf_in(inner)}
    return None


def _vote_form(person, circle_id):
    """The demo's open plan proposal as this person may answer it: (action, fields)."""
    page = person.get(f"/c/{circle_id}/plan").text
    for action, inner in _FORM.findall(page):
        if action.endswith("/answer") and "for_member" not in inner:
            return action, {"csrf_token": csrf_in(inner), "answer": "consent"}
    return None


def _ops(reader, kind, op):
    return [e for e in reader.plan_events if e.get("type") == kind and e.get("op") == op]


def test_chat_ticks_votes_and_news_cross_processes(kring_cluster):
    c = kring_cluster
    one, two = c.processes
    cid, people = c.demo_circle, c.people
    chatters = [people[r] for r in ("central", "member", "supporter", "coordinator")]
    sender = Reader(chatters[0], one, cid)
    receivers = [Reader(p, two, cid) for p in chatters[1:]]
    base = sender.whole  # the demo's two weeks of chat
    assert base > 0 and all(r.whole == base for r in receivers)
    # Read up to now, as an open chat does: only a new "new messages" line is told with
    # ``news`` (a line still unread from an earlier test only counts up, silently).
    for r in receivers:
        assert r.sio.call("chat:read", {"circle_id": cid, "seq": base}, timeout=10)["ok"]
    news_before = [r.news_count() for r in receivers]

    bodies = [f"cluster message {i}" for i in range(1, 31)]
    for body in bodies:
        assert sender.send(body)["ok"]
    want = list(range(1, base + len(bodies) + 1))
    for r in [sender, *receivers]:
        assert wait_until(lambda r=r: r.seqs() == want, 10), (r.person.name, r.seqs()[-5:])
        # Seen live, each once and in order: no beat or catch-up was needed.
        assert r.live == want[base:], r.live
    assert stored_bodies(receivers[0])[base:] == bodies

    # The news badge of the people on process 2: told (``news``) and counted.
    for r, before in zip(receivers, news_before, strict=True):
        assert wait_until(lambda r=r: r.news_events > 0, 10), r.person.name
        assert r.news_count() > before

    # A tick over HTTP on process 1 reaches the plan pages on process 2.
    tick = next((t, p) for p in people.values() if (t := _tick_form(p, cid)) is not None)
    (action, fields), ticker = tick
    resp = ticker.http.post(one.url + action, data=fields, timeout=10, allow_redirects=False)
    assert resp.status_code in (302, 303), resp.status_code
    for r in receivers:
        assert wait_until(lambda r=r: len(_ops(r, "plan", "tick")) == 1, 10), r.plan_events

    # A proposal (the member asks to remove a step) and a vote on it, over HTTP on
    # process 1: the plan pages on process 2 hear of both.
    member = people["member"]
    page = member.get(f"/c/{cid}/plan").text
    action, inner = next((a, i) for a, i in _FORM.findall(page) if a.endswith("/remove"))
    resp = member.http.post(
        one.url + action, data={"csrf_token": csrf_in(inner)}, timeout=10, allow_redirects=False
    )
    assert resp.status_code in (302, 303), resp.status_code
    for r in receivers:
        assert wait_until(lambda r=r: len(_ops(r, "plan", "proposal")) == 1, 10), r.plan_events
    voter, (action, fields) = next(
        (p, f) for p in people.values() if p is not member and (f := _vote_form(p, cid))
    )
    resp = voter.http.post(one.url + action, data=fields, timeout=10, allow_redirects=False)
    assert resp.status_code in (302, 303), resp.status_code
    for r in receivers:
        assert wait_until(
            lambda r=r: len(_ops(r, "plan", "vote")) + len(_ops(r, "plan", "version")) >= 1, 10
        ), r.plan_events
