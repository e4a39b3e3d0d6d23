"""The plan with its whole history as one JSON document (docs/plan-export.md).

The family owns the plan: they can take it anywhere. The export holds what the circle
can already see on the plan pages, and nothing from the chat.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Circle, Commitment, Completion, Proposal, ProposalVote
from portal.services import plan as svc

FORMAT = "kring-plan/1"


def _iso(value):
    return value.isoformat() if value else None


def export_plan(circle: Circle) -> dict:
    plan = svc.get_plan(circle)
    all_commitments = list(
        db.session.scalars(
            select(Commitment)
            .where(Commitment.circle_id == circle.id)
            .options(selectinload(Commitment.items))
            .order_by(Commitment.id)
        )
    )
    # "item:<id>" means nothing outside Kring: each such tick also carries the step's text.
    steps = {f"item:{i.id}": i.text for c in all_commitments for i in c.items}
    completions = (
        list(
            db.session.scalars(
                select(Completion)
                .where(Completion.commitment_id.in_([c.id for c in all_commitments]))
                .options(selectinload(Completion.by), selectinload(Completion.acted_by))
                .order_by(Completion.at)
            )
        )
        if all_commitments
        else []
    )
    proposals = list(
        db.session.scalars(
            select(Proposal)
            .where(Proposal.circle_id == circle.id)
            .options(
                selectinload(Proposal.proposer),
                selectinload(Proposal.votes).selectinload(ProposalVote.membership),
            )
            .order_by(Proposal.id)
        )
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
        "completions": [
            {
                "commitment_id": c.commitment_id,
                "occurrence": c.occurrence,
                "step": steps.get(c.occurrence),
                "by": c.by.display_name,
                "acted_by": c.acted_by.display_name if c.acted_by_id else None,
                "at": _iso(c.at),
                "note": c.note,
                "undone_at": _iso(c.undone_at),
            }
            for c in completions
        ],
        "proposals": [
            {
                "id": p.id,
                "kind": p.kind,
                "target_id": p.target_id,
                "change": p.payload,
                "reason": p.reason,
                "proposed_by": p.proposer.display_name,
                "created_at": _iso(p.created_at),
                "status": p.status.value,
                "applied_version": p.applied_version,
                "answers": [
                    {
                        "by": v.membership.display_name,
                        "acted_by": v.acted_by.display_name if v.acted_by_id else None,
                        "answer": v.answer,
                        "reason": v.reason,
                        "at": _iso(v.answered_at),
                    }
                    for v in p.votes
                ],
            }
            for p in proposals
        ],
        "acceptances": [
            {"version": a.version, "by": a.by.display_name, "at": _iso(a.at)}
            for a in svc.acceptances(circle)
        ],
    }
