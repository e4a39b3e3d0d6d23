"""The whole circle, for its central persons: the people and their roles, the plan
with every version, proposals, ticks, meetings with answers and reviews, and the chat
with every edit. No account data: no usernames, email addresses or tokens."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Acceptance,
    Circle,
    Membership,
    Message,
    PlanVersion,
    Proposal,
    ProposalVote,
)
from portal.models.plan import Commitment
from portal.models.types import utcnow
from portal.services import plan as plan_svc
from portal.services.export import rows
from portal.services.export.writer import Items, html_bytes, iso, json_bytes, pages

FORMAT = "kring-export"
VERSION = 1


def person(m: Membership) -> dict:
    return {
        "id": m.id,
        "name": m.display_name,
        "role": m.role.value,
        "supporter_of": m.supporter_of,
        "status": m.status.value,
        "plan_keeper": m.is_plan_keeper,
        "follow_up_group": m.in_followup_group,
        "joined_at": iso(m.joined_at),
        "ended_at": iso(m.ended_at),
    }


def _versions(circle_id: int, names: dict[int, str]) -> Iterator[dict]:
    query = select(
        PlanVersion.id,
        PlanVersion.number,
        PlanVersion.created_at,
        PlanVersion.reason,
        PlanVersion.summary,
        PlanVersion.agreed_by,
        PlanVersion.agreed_by_ids,
        PlanVersion.snapshot,
    ).where(PlanVersion.circle_id == circle_id)
    for page in pages(query, PlanVersion.number, 50):
        for v in page:
            decided = [names.get(i, "") for i in v.agreed_by_ids] if v.agreed_by_ids else None
            yield {
                "number": v.number,
                "created_at": iso(v.created_at),
                "reason": v.reason,
                "summary": v.summary,
                "decided_by": decided if decided is not None else list(v.agreed_by or []),
                "plan": v.snapshot,
            }


def _proposals(circle_id: int, names: dict[int, str]) -> Iterator[dict]:
    query = select(Proposal.id).where(Proposal.circle_id == circle_id)
    for page in pages(query, Proposal.id, 200):
        ids = [r.id for r in page]
        votes: dict[int, list] = {i: [] for i in ids}
        for v in db.session.scalars(
            select(ProposalVote).where(ProposalVote.proposal_id.in_(ids)).order_by(ProposalVote.id)
        ):
            votes[v.proposal_id].append(
                {
                    "by": names.get(v.membership_id, ""),
                    "acted_by": names.get(v.acted_by_id, "") if v.acted_by_id else None,
                    "answer": v.answer,
                    "reason": v.reason,
                    "at": iso(v.answered_at),
                }
            )
        found = db.session.scalars(
            select(Proposal).where(Proposal.id.in_(ids)).order_by(Proposal.id)
        )
        for p in found:
            yield {
                "id": p.id,
                "kind": p.kind,
                "target_id": p.target_id,
                "change": p.payload,
                "reason": p.reason,
                "proposed_by": names.get(p.proposer_id, ""),
                "created_at": iso(p.created_at),
                "status": p.status.value,
                "applied_version": p.applied_version,
                "answers": votes[p.id],
            }


def _parts(circle_id: int) -> dict:
    """The circle's small parts at once, the long ones as generators."""
    circle = db.session.get(Circle, circle_id)
    people = list(
        db.session.scalars(
            select(Membership).where(Membership.circle_id == circle_id).order_by(Membership.id)
        )
    )
    names = {m.id: m.display_name for m in people}
    plan = plan_svc.get_plan(circle)
    acceptances = db.session.execute(
        select(Acceptance.version, Acceptance.by_id, Acceptance.at)
        .where(Acceptance.circle_id == circle_id)
        .order_by(Acceptance.id)
    ).all()
    return {
        "circle": circle,
        "people": people,
        "names": names,
        "plan": {
            "version": plan.version,
            "evaluation_date": iso(plan.evaluation_date),
            "current": plan_svc.snapshot(circle),
            "versions": _versions(circle_id, names),
            "proposals": _proposals(circle_id, names),
            "ticks": rows.ticks([Commitment.circle_id == circle_id], names),
            "acceptances": [
                {"version": a.version, "by": names.get(a.by_id, ""), "at": iso(a.at)}
                for a in acceptances
            ],
        },
        "meetings": rows.meetings(circle_id, names),
        "messages": rows.messages([Message.circle_id == circle_id], names, key=Message.seq),
    }


def _circle_fields(circle: Circle) -> dict:
    return {
        "id": circle.id,
        "title": circle.title,
        "question": circle.question,
        "language": circle.language,
        "timezone": circle.timezone,
        "created_at": iso(circle.created_at),
        "handed_over_at": iso(circle.handed_over_at),
        "closed_at": iso(circle.closed_at),
        "chat_open_to_professionals": circle.professionals_read_chat,
        "presence_shown": circle.presence_enabled,
    }


def _document(circle_id: int) -> dict:
    parts = _parts(circle_id)
    plan = parts["plan"]
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": "circle",
        "exported_at": iso(utcnow()),
        "circle": _circle_fields(parts["circle"]),
        "people": [person(m) for m in parts["people"]],
        "plan": {
            "version": plan["version"],
            "evaluation_date": plan["evaluation_date"],
            "current": plan["current"],
            "versions": Items(plan["versions"]),
            "proposals": Items(plan["proposals"]),
            "ticks": Items(plan["ticks"]),
            "acceptances": plan["acceptances"],
        },
        "meetings": Items(parts["meetings"]),
        "messages": Items(parts["messages"]),
    }


def circle_json(circle_id: int) -> Iterator[bytes]:
    return json_bytes(lambda: _document(circle_id))


def circle_html(circle_id: int) -> Iterator[bytes]:
    def context() -> dict:
        parts = _parts(circle_id)
        return {
            "kind": "circle",
            "circle": parts["circle"],
            "people": [person(m) for m in parts["people"]],
            "plan": parts["plan"],
            "meetings": parts["meetings"],
            "messages": parts["messages"],
            "exported_at": utcnow(),
        }

    return html_bytes("export/circle.html", context)
