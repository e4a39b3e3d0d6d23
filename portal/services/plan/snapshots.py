"""Versions: a full snapshot of the plan, numbered under the plan row's lock, never
updated; who decided each; and two versions side by side (``diff``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from portal import events
from portal.extensions import db
from portal.models import (
    Circle,
    Membership,
    Plan,
    PlanVersion,
)
from portal.models.types import utcnow
from portal.services.plan.reading import agreements, commitments, conditions, get_plan, schedule_of


def snapshot(circle: Circle) -> dict:
    """The whole plan as plain data: what a version stores and an export carries."""
    plan = get_plan(circle)
    return {
        "question": circle.question,
        "evaluation_date": plan.evaluation_date.isoformat() if plan.evaluation_date else None,
        "commitments": [
            {
                "id": c.id,
                "what": c.what,
                "who": [m.display_name for m in c.assignees]
                + ([c.other_assignees] if c.other_assignees else []),
                # The memberships behind the first names of "who", so that erasing a
                # person's name (services/erasure.py) finds exactly theirs.
                "who_ids": [m.id for m in c.assignees],
                "when": {
                    "kind": c.schedule_kind,
                    "start": c.start.isoformat(),
                    "end": c.end.isoformat() if c.end else None,
                    "weekdays": sorted(schedule_of(c).weekdays),
                    "interval": c.interval,
                },
                "checked_by": c.checker.display_name if c.checker else (c.checker_name or None),
                "checked_by_id": c.checker_id,
                "checklist": [i.text for i in c.items],
            }
            for c in commitments(circle)
        ],
        "conditions": [
            {"id": k.id, "text": k.text, "set_by": k.set_by.display_name, "set_by_id": k.set_by_id}
            for k in conditions(circle)
        ],
        "agreements": [{"id": a.id, "text": a.text} for a in agreements(circle)],
    }


def new_version(
    circle: Circle,
    reason: str,
    *,
    summary: str = "",
    agreed_by: list[str] | None = None,
    decided_by: list[Membership] | None = None,
    gone_objectors: list[Membership] | None = None,
    proposal_id: int | None = None,
) -> PlanVersion:
    """Number the next version under the plan row's lock and store its snapshot.

    ``decided_by`` are the people who decided it: stored by membership id (shown with
    their names as they are now), and their names as they were in ``agreed_by``."""
    if decided_by is not None:
        decided_by = sorted({m.id: m for m in decided_by}.values(), key=_by_name)
        agreed_by = [m.display_name for m in decided_by]
    number = db.session.execute(
        update(Plan)
        .where(Plan.circle_id == circle.id)
        .values(version=Plan.version + 1, updated_at=utcnow())
        .returning(Plan.version)
    ).scalar_one()
    version = PlanVersion(
        circle_id=circle.id,
        number=number,
        snapshot=snapshot(circle),
        reason=reason,
        summary=summary,
        agreed_by=agreed_by or [],
        agreed_by_ids=[m.id for m in decided_by or []],
        gone_objector_ids=sorted(m.id for m in gone_objectors or []),
        proposal_id=proposal_id,
    )
    db.session.add(version)
    db.session.flush()
    events.publish(
        circle.id, {"type": "plan", "op": "version", "number": number}, event_name="plan:event"
    )
    return version


def _by_name(m: Membership) -> tuple[str, int]:
    return (m.display_name.casefold(), m.id)


def names_of(circle: Circle, ids: list[int]) -> list[str]:
    """The names, as they are now, of the people a version stores by id (the circle's
    memberships are loaded once per request, so a page of versions costs one query)."""
    by_id = {m.id: m for m in circle.memberships}
    return [by_id[i].display_name for i in ids if i in by_id]


def decided_by_names(circle: Circle, v: PlanVersion) -> list[str]:
    """Who decided a version: by id when stored so, else the names kept at the time."""
    return names_of(circle, v.agreed_by_ids) if v.agreed_by_ids else list(v.agreed_by or [])


def versions(circle: Circle) -> list[PlanVersion]:
    return list(
        db.session.scalars(
            select(PlanVersion)
            .where(PlanVersion.circle_id == circle.id)
            .order_by(PlanVersion.number.desc())
        )
    )


def get_version(circle: Circle, number: int) -> PlanVersion:
    v = db.session.scalar(
        select(PlanVersion).where(PlanVersion.circle_id == circle.id, PlanVersion.number == number)
    )
    if v is None:
        raise LookupError
    return v


@dataclass
class DiffRow:
    status: str  # "same" | "added" | "removed" | "changed"
    left: object | None
    right: object | None


def diff(a: dict, b: dict) -> dict[str, list[DiffRow]]:
    """Side by side, section by section; items matched by id (texts by position)."""

    def by_id(rows):
        return {r["id"]: r for r in rows}

    def shown(row: dict) -> dict:
        # What a reader sees: not the id, nor the ids kept beside the names (older
        # versions have none, and a person is the same person either way).
        return {k: v for k, v in row.items() if k != "id" and not k.endswith(("_id", "_ids"))}

    out: dict[str, list[DiffRow]] = {}
    for section in ("commitments", "agreements", "conditions"):
        left, right = by_id(a.get(section, [])), by_id(b.get(section, []))
        rows = []
        for key in sorted(set(left) | set(right)):
            lft, rgt = left.get(key), right.get(key)
            if lft is None:
                rows.append(DiffRow("added", None, rgt))
            elif rgt is None:
                rows.append(DiffRow("removed", lft, None))
            elif shown(lft) != shown(rgt):
                rows.append(DiffRow("changed", lft, rgt))
            else:
                rows.append(DiffRow("same", lft, rgt))
        out[section] = rows
    for key in ("evaluation_date", "question"):
        va, vb = a.get(key), b.get(key)
        out[key] = [DiffRow("same" if va == vb else "changed", va, vb)]
    return out
