"""Where each line of news leads: the place it is about."""

from __future__ import annotations

from flask import url_for

from portal.models import Notification

CONTEXT = 5  # messages shown above a mentioned one


def _chat_at(n: Notification, seqs: dict[int, tuple[int, int]]) -> str:
    """The chat, opened a few messages above the one that mentions the person (so it is
    on the page however many came after it), scrolled to it."""
    circle_id, seq = seqs.get(n.ref_id, (None, None))
    if circle_id != n.circle_id or seq is None:  # removed meanwhile: the chat itself
        return url_for("chat.show", circle_id=n.circle_id)
    after = max(0, seq - CONTEXT - 1)
    return url_for("chat.show", circle_id=n.circle_id, after=after) + f"#m{seq}"


def _ref(prefix: str, n: Notification) -> str:
    return f"#{prefix}{n.ref_id}" if n.ref_id else ""


def _meeting(n: Notification) -> str:
    if n.ref_id:
        return url_for("meetings.show", circle_id=n.circle_id, meeting_id=n.ref_id)
    return url_for("meetings.index", circle_id=n.circle_id)


# kind -> the page it is about (ref_id: a commitment, a proposal, a meeting).
_PLACES = {
    "messages": lambda n: url_for("chat.show", circle_id=n.circle_id),
    # ref_id: the line (the line's page answers 404 once it is no longer open to them).
    "line": lambda n: url_for("lines.show", circle_id=n.circle_id, line_id=n.ref_id or 0),
    "due": lambda n: url_for("plan.mine") + _ref("c", n),
    "missed": lambda n: url_for("plan.mine") + _ref("c", n),
    "help": lambda n: url_for("plan.show", circle_id=n.circle_id) + _ref("c", n),
    "needs_person": lambda n: url_for("plan.show", circle_id=n.circle_id) + _ref("c", n),
    "consent": lambda n: url_for("plan.show", circle_id=n.circle_id) + _ref("p", n),
    "decided": lambda n: url_for("plan.show", circle_id=n.circle_id),  # the plan as it is now
    "poll": _meeting,
    "meeting": _meeting,
    "people": lambda n: url_for("circles.home", circle_id=n.circle_id) + "#people",
    "closing": lambda n: url_for("circles.home", circle_id=n.circle_id),
    "acted_for": lambda n: _acted_for(n),
}


def _acted_for(n: Notification) -> str:
    """Where to see (and change) what was done in my name: the poll, the proposal, or
    the commitment."""
    what = (n.data or {}).get("what")
    if what == "poll":
        return _meeting(n)
    if what in ("consent", "object"):
        return url_for("plan.show", circle_id=n.circle_id) + _ref("p", n)
    return url_for("plan.show", circle_id=n.circle_id) + _ref("c", n)


def link_for(n: Notification, seqs: dict[int, tuple[int, int]]) -> str:
    """``seqs``: message id -> (circle id, seq) for the mentions on the page."""
    if n.kind == "mention":
        return _chat_at(n, seqs)
    return _PLACES.get(n.kind, _PLACES["decided"])(n)
