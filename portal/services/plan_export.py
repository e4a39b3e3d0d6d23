"""The plan with its whole history as one JSON document (docs/plan-export.md).

The family owns the plan: they can take it anywhere. The export holds what the circle
can already see on the plan pages, and nothing from the chat.

Every tick ever made is in it (the history is the family's), so it is read as plain
rows (Core selects, names from one dict of the circle's people), never as ORM objects:
a six-month plan has thousands of ticks, and an ORM object per tick was most of the
download's time.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Acceptance,
    ChecklistItem,
    Circle,
    Commitment,
    Completion,
    Membership,
    Proposal,
    ProposalVote,
)
from portal.services import plan as svc

FORMAT = "kring-plan/1"


def _iso(value):
    return value.isoformat() if value else None


def _names(circle: Circle) -> dict[int, str]:
    """Everyone who was ever in the circle, by membership id, as the pages name them."""
    people = db.session.scalars(select(Membership).where(Membership.circle_id == circle.id))
    return {m.id: m.display_name for m in people}


def _completions(circle: Circle, names: dict[int, str]) -> list[dict]:
    # "item:<id>" means nothing outside Kring: each such tick also carries the step's text.
    steps = {
        f"item:{item_id}": text
        for item_id, text in db.session.execute(
            select(ChecklistItem.id, ChecklistItem.text)
            .join(Commitment, Commitment.id == ChecklistItem.commitment_id)
            .where(Commitment.circle_id == circle.id)
        )
    }
    rows = db.session.execute(
        select(
            Completion.commitment_id,
            Completion.occurrence,
            Completion.by_id,
            Completion.acted_by_id,
            Completion.at,
            Completion.note,
            Completion.undone_at,
        )
        .join(Commitment, Commitment.id == Completion.commitment_id)
        .where(Commitment.circle_id == circle.id)
        .order_by(Completion.at, Completion.id)
    )
    return [
        {
            "commitment_id": commitment_id,
            "occurrence": occurrence,
            "step": steps.get(occurrence),
            "by": names.get(by_id, ""),
            "acted_by": names.get(acted_by_id, "") if acted_by_id else None,
            "at": at.isoformat(),
            "note": note,
            "undone_at": undone_at.isoformat() if undone_at else None,
        }
        for commitment_id, occurrence, by_id, acted_by_id, at, note, undone_at in rows
    ]


def _proposals(circle: Circle, names: dict[int, str]) -> list[dict]:
    answers: dict[int, list[dict]] = defaultdict(list)
    for v in db.session.execute(
        select(
            ProposalVote.proposal_id,
            ProposalVote.membership_id,
            ProposalVote.acted_by_id,
            ProposalVote.answer,
            ProposalVote.reason,
            ProposalVote.answered_at,
        )
        .join(Proposal, Proposal.id == ProposalVote.proposal_id)
        .where(Proposal.circle_id == circle.id)
        .order_by(ProposalVote.id)
    ):
        answers[v.proposal_id].append(
            {
                "by": names.get(v.membership_id, ""),
                "acted_by": names.get(v.acted_by_id, "") if v.acted_by_id else None,
                "answer": v.answer,
                "reason": v.reason,
                "at": _iso(v.answered_at),
            }
        )
    return [
        {
            "id": p.id,
            "kind": p.kind,
            "target_id": p.target_id,
            "change": p.payload,
            "reason": p.reason,
            "proposed_by": names.get(p.proposer_id, ""),
            "created_at": _iso(p.created_at),
            "status": p.status.value,
            "applied_version": p.applied_version,
            "answers": answers[p.id],
        }
        for p in db.session.execute(
            select(
                Proposal.id,
                Proposal.kind,
                Proposal.target_id,
                Proposal.payload,
                Proposal.reason,
                Proposal.proposer_id,
                Proposal.created_at,
                Proposal.status,
                Proposal.applied_version,
            )
            .where(Proposal.circle_id == circle.id)
            .order_by(Proposal.id)
        )
    ]


def export_plan(circle: Circle) -> dict:
    plan = svc.get_plan(circle)
    names = _names(circle)
    acceptances = db.session.execute(
        select(Acceptance.version, Acceptance.by_id, Acceptance.at)
        .where(Acceptance.circle_id == circle.id)
        .order_by(Acceptance.id.desc())
    )
    return {
        "format": FORMAT,
        "circle": {
            "title": circle.title,
            "question": circle.question,
            "language": circle.language,
            "timezone": circle.timezone,
        },
        "version": plan.version,
        "current": svc.snapshot(circle),
        "versions": [
            {
                "number": v.number,
                "created_at": _iso(v.created_at),
                "reason": v.reason,
                "agreed_by": v.agreed_by,
                "plan": v.snapshot,
            }
            for v in reversed(svc.versions(circle))
        ],
        "completions": _completions(circle, names),
        "proposals": _proposals(circle, names),
        "acceptances": [
            {"version": a.version, "by": names.get(a.by_id, ""), "at": _iso(a.at)}
            for a in acceptances
        ],
    }


_one_line = json.JSONEncoder(ensure_ascii=False).encode


def export_json(circle: Circle) -> str:
    """The export as text: indented by two spaces, each tick on one line.

    Ticks are most of the file (thousands after months); written one a line they are
    half the bytes, and ``json.dumps(indent=...)`` runs Python's pure-Python encoder
    while a one-line item is the C encoder's: the ticks went from ~8 ms to ~3 ms on a
    six-month plan. The same JSON values either way."""
    parts = []
    for key, value in export_plan(circle).items():
        if key == "completions" and value:
            text = "[\n    " + ",\n    ".join(map(_one_line, value)) + "\n  ]"
        else:
            # JSON strings hold no raw line breaks: each one here is the layout's.
            text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}"
