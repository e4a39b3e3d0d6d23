"""Writing the live plan: one change at a time (``apply_change``), the same code for a
draft edit and for an agreed proposal, and the draft's agreement that makes version 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.access import can_vote
from portal.extensions import db
from portal.models import (
    Agreement,
    ChecklistItem,
    Circle,
    Commitment,
    Membership,
    MembershipStatus,
    PlanVersion,
)
from portal.sanitize import clean_line, clean_text
from portal.services import ServiceError
from portal.services.history import record
from portal.services.plan.reading import agreements, commitments, get_plan
from portal.services.plan.snapshots import new_version
from portal.services.schedule import Schedule

KINDS = (
    "add_commitment",
    "change_commitment",
    "remove_commitment",
    "add_agreement",
    "change_agreement",
    "remove_agreement",
    "set_evaluation_date",
)


@dataclass
class CommitmentData:
    what: str
    schedule: Schedule
    assignee_ids: list[int] = field(default_factory=list)
    other_assignees: str = ""
    checker_id: int | None = None
    checker_name: str = ""
    items: list[str] = field(default_factory=list)

    def to_payload(self) -> dict:
        s = self.schedule
        return {
            "what": self.what,
            "assignee_ids": self.assignee_ids,
            "other_assignees": self.other_assignees,
            "checker_id": self.checker_id,
            "checker_name": self.checker_name,
            "items": self.items,
            "schedule": {
                "kind": s.kind,
                "start": s.start.isoformat(),
                "end": s.end.isoformat() if s.end else None,
                "weekdays": sorted(s.weekdays),
                "interval": s.interval,
            },
        }

    @classmethod
    def from_payload(cls, p: dict) -> CommitmentData:
        s = p["schedule"]
        return cls(
            what=p["what"],
            assignee_ids=list(p.get("assignee_ids") or []),
            other_assignees=p.get("other_assignees") or "",
            checker_id=p.get("checker_id"),
            checker_name=p.get("checker_name") or "",
            items=list(p.get("items") or []),
            schedule=Schedule(
                kind=s["kind"],
                start=date.fromisoformat(s["start"]),
                end=date.fromisoformat(s["end"]) if s.get("end") else None,
                weekdays=frozenset(s.get("weekdays") or []),
                interval=int(s.get("interval") or 1),
            ),
        )


def _members_by_id(circle: Circle, ids: list[int]) -> list[Membership]:
    if not ids:
        return []
    found = list(
        db.session.scalars(
            select(Membership).where(
                Membership.id.in_(ids),
                Membership.circle_id == circle.id,
                Membership.status == MembershipStatus.ACTIVE,
            )
        )
    )
    if len(found) != len(set(ids)):
        raise ServiceError(_l("Please choose people from this circle."), "assignees")
    return found


def validate_commitment(circle: Circle, data: CommitmentData) -> None:
    data.what = clean_text(data.what).strip()
    data.other_assignees = clean_line(data.other_assignees, 200)
    data.checker_name = clean_line(data.checker_name, 80)
    data.items = [line for i in data.items if (line := clean_line(i, 300))][:30]
    if not data.what:
        raise ServiceError(_l("Please write what is to be done."), "what")
    if len(data.what) > 2000:
        raise ServiceError(_l("Please keep this shorter (at most 2000 characters)."), "what")
    if not data.assignee_ids and not data.other_assignees:
        raise ServiceError(_l("Please say who does it."), "assignees")
    try:
        data.schedule.validate()
    except ValueError:
        raise ServiceError(_l("Please check the dates: when does it happen?"), "start") from None
    if data.items and data.schedule.kind not in ("once", "period"):
        raise ServiceError(
            _l("A checklist is for something done once. Repeating tasks are ticked each turn."),
            "items",
        )
    _members_by_id(circle, data.assignee_ids + ([data.checker_id] if data.checker_id else []))


def _write_commitment(circle: Circle, c: Commitment, data: CommitmentData) -> None:
    s = data.schedule
    c.what = data.what
    c.other_assignees = data.other_assignees
    c.schedule_kind = s.kind
    c.start = s.start
    c.end = s.end
    c.weekdays = ",".join(str(d) for d in sorted(s.weekdays))
    c.interval = s.interval
    c.checker_id = data.checker_id
    c.checker_name = "" if data.checker_id else data.checker_name
    c.assignees = _members_by_id(circle, data.assignee_ids)
    existing = {i.text: i for i in c.items}
    c.items = [existing.get(t) or ChecklistItem(text=t) for t in data.items]
    for pos, item in enumerate(c.items):
        item.position = pos


def _require_draft(circle: Circle) -> None:
    if get_plan(circle).version > 0:
        raise ServiceError(
            _l("The plan was agreed. To change it now, propose the change to the circle.")
        )


def _add_commitment(circle: Circle, data: CommitmentData) -> Commitment:
    validate_commitment(circle, data)
    last = db.session.scalar(
        select(db.func.max(Commitment.position)).where(Commitment.circle_id == circle.id)
    )
    c = Commitment(
        circle_id=circle.id,
        position=(last or 0) + 1,
        what=data.what,
        schedule_kind=data.schedule.kind,
        start=data.schedule.start,
    )
    db.session.add(c)
    _write_commitment(circle, c, data)
    db.session.flush()
    return c


def clean_agreement(text: str) -> str:
    text = clean_text(text).strip()
    if not text:
        raise ServiceError(_l("Please write the backup plan."), "text")
    return text[:2000]


def _add_agreement(circle: Circle, text: str) -> Agreement:
    a = Agreement(circle_id=circle.id, text=clean_agreement(text), position=len(agreements(circle)))
    db.session.add(a)
    db.session.flush()
    return a


def active_commitment(circle: Circle, cid) -> Commitment:
    c = db.session.get(Commitment, cid) if isinstance(cid, int) else None
    if c is None or c.circle_id != circle.id or not c.active:
        raise ServiceError(_l("That commitment is no longer in the plan."))
    return c


def active_agreement(circle: Circle, aid) -> Agreement:
    a = db.session.get(Agreement, aid) if isinstance(aid, int) else None
    if a is None or a.circle_id != circle.id or not a.active:
        raise ServiceError(_l("That backup plan is no longer in the plan."))
    return a


def set_evaluation_date(circle: Circle, acting: Membership | None, day: date | None) -> None:
    get_plan(circle).evaluation_date = day


def record_agreement(circle: Circle, acting: Membership, present_ids: list[int]) -> PlanVersion:
    """ "Everyone here agreed": the draft becomes version 1, naming who agreed."""
    _require_draft(circle)
    if not commitments(circle):
        raise ServiceError(_l("Please add at least one commitment first."))
    present = _members_by_id(circle, present_ids)
    voters = [m for m in present if can_vote(m)]
    if not voters:
        raise ServiceError(_l("Please tick who was there and agreed."), "present")
    version = new_version(circle, "agreed", summary="", decided_by=voters)
    record(circle, "plan_agreed", actor=acting, number=version.number)
    return version


def apply_change(circle: Circle, kind: str, target_id: int | None, p: dict) -> None:
    """Make one change to the live plan: the same code for a draft edit and for an
    agreed proposal, so both paths validate and write alike."""
    if kind == "add_commitment":
        _add_commitment(circle, CommitmentData.from_payload(p))
    elif kind == "change_commitment":
        c = active_commitment(circle, target_id)
        data = CommitmentData.from_payload(p)
        validate_commitment(circle, data)
        _write_commitment(circle, c, data)
    elif kind == "remove_commitment":
        active_commitment(circle, target_id).active = False
    elif kind == "add_agreement":
        _add_agreement(circle, p["text"])
    elif kind == "change_agreement":
        active_agreement(circle, target_id).text = clean_agreement(p["text"])
    elif kind == "remove_agreement":
        active_agreement(circle, target_id).active = False
    elif kind == "set_evaluation_date":
        set_evaluation_date(circle, None, date.fromisoformat(p["date"]))
    else:
        raise ServiceError(_l("Please choose what you want to change."))
    db.session.flush()
