"""The plan: entering it, agreeing it, ticking it off, and changing it by consent.

Rules (PRODUCT.md, "Rules that come from the method"):
* Until it is agreed (version 0), the coordinator or a central person enters the plan
  freely. Recording who was present and agreed makes it version 1.
* After that, a change enters the plan only when every voting member (central
  persons, members, supporters: fixed when the change is proposed) has consented, or
  when it is decided at a follow-up meeting that has started, by every voter there,
  and never over the standing objection of a voter who was not there (``decide_at_
  meeting``). Professionals and the coordinator do not vote.
* Someone who leaves or is removed takes only an unanswered vote with them. Their
  objection stays: the change waits for the next meeting (where the people there may
  decide it, and the version says who had objected before leaving) or is withdrawn.
* Every change makes a new, immutable version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import events
from portal.access import (
    can_accept_plan,
    can_remove_condition,
    can_set_conditions,
    can_tick,
    watches_plan,
)
from portal.extensions import db
from portal.models import (
    Acceptance,
    Agreement,
    ChecklistItem,
    Circle,
    Commitment,
    Completion,
    Condition,
    Membership,
    MembershipStatus,
    Plan,
    PlanVersion,
    Proposal,
    ProposalStatus,
    ProposalVote,
)
from portal.models.types import utcnow
from portal.sanitize import clean_line, clean_text
from portal.services import Forbidden, ServiceError
from portal.services.history import record
from portal.services.schedule import Schedule, occurrences

UNDO_WINDOW = timedelta(minutes=5)
KINDS = (
    "add_commitment",
    "change_commitment",
    "remove_commitment",
    "add_agreement",
    "change_agreement",
    "remove_agreement",
    "set_evaluation_date",
)


# --- Reading ---------------------------------------------------------------------------


def get_plan(circle: Circle) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.circle_id == circle.id))
    if plan is None:
        plan = Plan(circle_id=circle.id, version=0)
        db.session.add(plan)
        db.session.flush()
    return plan


def commitments(circle: Circle) -> list[Commitment]:
    """Active commitments with assignees, checker and items: three queries, any size."""
    return list(
        db.session.scalars(
            select(Commitment)
            .where(Commitment.circle_id == circle.id, Commitment.active.is_(True))
            .options(
                selectinload(Commitment.assignees),
                selectinload(Commitment.items),
                selectinload(Commitment.checker),
            )
            .order_by(Commitment.position, Commitment.id)
        )
    )


def agreements(circle: Circle) -> list[Agreement]:
    return list(
        db.session.scalars(
            select(Agreement)
            .where(Agreement.circle_id == circle.id, Agreement.active.is_(True))
            .order_by(Agreement.position, Agreement.id)
        )
    )


def conditions(circle: Circle) -> list[Condition]:
    return list(
        db.session.scalars(
            select(Condition)
            .where(Condition.circle_id == circle.id, Condition.active.is_(True))
            .options(selectinload(Condition.set_by))
            .order_by(Condition.id)
        )
    )


def standing_completions(commitment_ids: list[int]) -> dict[int, dict[str, Completion]]:
    """For each commitment, its standing ticks by occurrence key (one query)."""
    out: dict[int, dict[str, Completion]] = {cid: {} for cid in commitment_ids}
    if not commitment_ids:
        return out
    rows = db.session.scalars(
        select(Completion)
        .where(Completion.commitment_id.in_(commitment_ids), Completion.undone_at.is_(None))
        .options(selectinload(Completion.by))
    )
    for c in rows:
        out[c.commitment_id][c.occurrence] = c
    return out


def schedule_of(c: Commitment) -> Schedule:
    return Schedule(
        kind=c.schedule_kind,
        start=c.start,
        end=c.end,
        weekdays=frozenset(int(d) for d in c.weekdays.split(",") if d != ""),
        interval=c.interval,
    )


# --- Snapshots and versions ------------------------------------------------------------


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
                "when": {
                    "kind": c.schedule_kind,
                    "start": c.start.isoformat(),
                    "end": c.end.isoformat() if c.end else None,
                    "weekdays": sorted(schedule_of(c).weekdays),
                    "interval": c.interval,
                },
                "checked_by": c.checker.display_name if c.checker else (c.checker_name or None),
                "checklist": [i.text for i in c.items],
            }
            for c in commitments(circle)
        ],
        "conditions": [
            {"id": k.id, "text": k.text, "set_by": k.set_by.display_name}
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
            elif {k: v for k, v in lft.items() if k != "id"} != {
                k: v for k, v in rgt.items() if k != "id"
            }:
                rows.append(DiffRow("changed", lft, rgt))
            else:
                rows.append(DiffRow("same", lft, rgt))
        out[section] = rows
    for key in ("evaluation_date", "question"):
        va, vb = a.get(key), b.get(key)
        out[key] = [DiffRow("same" if va == vb else "changed", va, vb)]
    return out


# --- Entering the plan (draft) ---------------------------------------------------------


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


def _clean_agreement(text: str) -> str:
    text = clean_text(text).strip()
    if not text:
        raise ServiceError(_l("Please write the backup plan."), "text")
    return text[:2000]


def _add_agreement(circle: Circle, text: str) -> Agreement:
    a = Agreement(
        circle_id=circle.id, text=_clean_agreement(text), position=len(agreements(circle))
    )
    db.session.add(a)
    db.session.flush()
    return a


def set_evaluation_date(circle: Circle, acting: Membership | None, day: date | None) -> None:
    get_plan(circle).evaluation_date = day


def record_agreement(circle: Circle, acting: Membership, present_ids: list[int]) -> PlanVersion:
    """ "Everyone here agreed": the draft becomes version 1, naming who agreed."""
    _require_draft(circle)
    if not commitments(circle):
        raise ServiceError(_l("Please add at least one commitment first."))
    present = _members_by_id(circle, present_ids)
    voters = [m for m in present if m.votes]
    if not voters:
        raise ServiceError(_l("Please tick who was there and agreed."), "present")
    version = new_version(circle, "agreed", summary="", decided_by=voters)
    record(circle, "plan_agreed", actor=acting, number=version.number)
    return version


# --- Ticking off -----------------------------------------------------------------------


def _valid_occurrence(c: Commitment, occurrence: str) -> bool:
    if occurrence.startswith("item:"):
        return any(f"item:{i.id}" == occurrence for i in c.items)
    if c.items:
        return False  # a commitment with a checklist is ticked item by item
    s = schedule_of(c)
    if s.kind in ("once", "period"):
        return occurrence == "once"
    try:
        day = date.fromisoformat(occurrence)
    except ValueError:
        return False
    # Only the plain YYYY-MM-DD key: "2026-W45-3" or "20261104" name the same day under
    # another key, which would slip past the one-standing-tick index.
    return day.isoformat() == occurrence and occurrences(s, day, day) == [day]


def tick(
    circle: Circle, acting: Membership, c: Commitment, occurrence: str, note: str = ""
) -> dict:
    """Mark an occurrence (or checklist item) done. Ticking twice leaves one tick."""
    if not can_tick(acting, c):
        raise Forbidden
    if not c.active:
        raise ServiceError(_l("This commitment is no longer in the plan."))
    if not isinstance(occurrence, str) or not _valid_occurrence(c, occurrence):
        raise ServiceError(_l("This is not something to tick here."))
    note = clean_line(note, 280)
    completion = Completion(commitment_id=c.id, occurrence=occurrence, by_id=acting.id, note=note)
    try:
        # A savepoint, not a rollback of the whole transaction: that would also drop
        # whatever the caller had done and queued before this tick.
        with db.session.begin_nested():
            db.session.add(completion)
            db.session.flush()
    except IntegrityError:
        existing = db.session.scalar(
            select(Completion).where(
                Completion.commitment_id == c.id,
                Completion.occurrence == occurrence,
                Completion.undone_at.is_(None),
            )
        )
        if existing is None:
            raise
        return tick_payload(existing, "tick")
    payload = tick_payload(completion, "tick", by_name=acting.display_name)
    events.publish(circle.id, payload, event_name="plan:event")
    return payload


def tick_payload(c: Completion, op: str, by_name: str | None = None) -> dict:
    return {
        "type": "plan",
        "op": op,
        "commitment_id": c.commitment_id,
        "occurrence": c.occurrence,
        "completion_id": c.id,
        "by": by_name if by_name is not None else c.by.display_name,
        "at": c.at.isoformat(),
    }


def may_undo(m: Membership, completion: Completion) -> bool:
    """Whether ``m`` can still take this tick back: their own, within the undo window."""
    return (
        completion.by_id == m.id
        and completion.undone_at is None
        and utcnow() - completion.at <= UNDO_WINDOW
    )


def undo_tick(circle: Circle, acting: Membership, completion: Completion) -> dict:
    """Undo a tick within a few minutes; the row stays in the history, marked undone."""
    if completion.by_id != acting.id:
        raise ServiceError(_l("Only the person who ticked it can undo it."))
    if completion.undone_at is not None:
        return tick_payload(completion, "untick")
    if utcnow() - completion.at > UNDO_WINDOW:
        raise ServiceError(_l("A tick can be undone for 5 minutes only."))
    completion.undone_at = utcnow()
    payload = tick_payload(completion, "untick", by_name=acting.display_name)
    events.publish(circle.id, payload, event_name="plan:event")
    return payload


def completion_history(commitment: Commitment) -> Select:
    """Every tick of the commitment, newest first (a query: the page paginates it)."""
    return (
        select(Completion)
        .where(Completion.commitment_id == commitment.id)
        .options(selectinload(Completion.by))
        .order_by(Completion.at.desc(), Completion.id.desc())
    )


# --- Help ------------------------------------------------------------------------------


def request_help(circle: Circle, acting: Membership, c: Commitment) -> None:
    if not any(a.id == acting.id for a in c.assignees):
        raise ServiceError(_l("Only the people who do this can ask for help with it."))
    c.help_requested_at = utcnow()
    c.help_requested_by_id = acting.id
    record(circle, "help_requested", actor=acting)
    # The notice says only that something needs attention: no names, no text.
    notice = {"type": "notice", "op": "attention", "circle_id": circle.id}
    for m in circle.memberships:
        if watches_plan(m) and m.id != acting.id:
            uid = m.user_id
            events.after_commit(lambda uid=uid: events.emit_to_user(uid, "notice", notice))


def clear_help(circle: Circle, acting: Membership, c: Commitment) -> None:
    if not (can_tick(acting, c)):
        raise Forbidden
    c.help_requested_at = None
    c.help_requested_by_id = None


# --- Proposals and consent -------------------------------------------------------------


def _voters(circle: Circle) -> list[Membership]:
    return [m for m in circle.memberships if m.is_active and m.votes]


def propose(
    circle: Circle,
    acting: Membership,
    kind: str,
    *,
    target_id: int | None = None,
    payload: dict | None = None,
    reason: str = "",
) -> Proposal:
    if not acting.votes:
        raise Forbidden
    if get_plan(circle).version == 0:
        raise ServiceError(_l("The plan is not agreed yet: it can still be entered directly."))
    if kind not in KINDS:
        raise ServiceError(_l("Please choose what you want to change."))
    payload = payload or {}
    # Check the change now, so a broken proposal never reaches a vote.
    if kind in ("add_commitment", "change_commitment"):
        data = CommitmentData.from_payload(payload)
        validate_commitment(circle, data)
        payload = data.to_payload()  # as cleaned: voters read what will be stored
    if kind in ("change_commitment", "remove_commitment"):
        _active_commitment(circle, target_id)
    if kind in ("add_agreement", "change_agreement"):
        payload = {"text": _clean_agreement(payload.get("text", ""))}
    if kind in ("change_agreement", "remove_agreement"):
        _active_agreement(circle, target_id)
    if kind == "set_evaluation_date":
        date.fromisoformat(payload["date"])
    proposal = Proposal(
        circle_id=circle.id,
        kind=kind,
        target_id=target_id,
        payload=payload,
        reason=clean_text(reason).strip()[:2000],
        proposer_id=acting.id,
    )
    db.session.add(proposal)
    db.session.flush()
    for m in _voters(circle):
        mine = m.id == acting.id
        db.session.add(
            ProposalVote(
                proposal_id=proposal.id,
                membership_id=m.id,
                answer="consent" if mine else None,
                answered_at=utcnow() if mine else None,
            )
        )
    db.session.flush()
    record(circle, "proposal_made", actor=acting)
    events.publish(
        circle.id, {"type": "plan", "op": "proposal", "id": proposal.id}, event_name="plan:event"
    )
    _maybe_apply(circle, proposal)
    return proposal


def _active_commitment(circle: Circle, cid) -> Commitment:
    c = db.session.get(Commitment, cid) if isinstance(cid, int) else None
    if c is None or c.circle_id != circle.id or not c.active:
        raise ServiceError(_l("That commitment is no longer in the plan."))
    return c


def _active_agreement(circle: Circle, aid) -> Agreement:
    a = db.session.get(Agreement, aid) if isinstance(aid, int) else None
    if a is None or a.circle_id != circle.id or not a.active:
        raise ServiceError(_l("That backup plan is no longer in the plan."))
    return a


def answer(
    circle: Circle, acting: Membership, proposal: Proposal, consent: bool, reason: str = ""
) -> Proposal:
    """Consent or object. The proposal row is locked first, so of two last consents
    arriving together the second sees the first and exactly one applies the change."""
    proposal = db.session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if proposal.status != ProposalStatus.OPEN:
        raise ServiceError(_l("This proposal is already decided."))
    if not acting.votes:
        raise Forbidden
    vote = db.session.scalar(
        select(ProposalVote).where(
            ProposalVote.proposal_id == proposal.id, ProposalVote.membership_id == acting.id
        )
    )
    if vote is None:
        raise ServiceError(_l("You were not in the circle when this was proposed."))
    reason = clean_text(reason).strip()[:2000]
    if not consent and not reason:
        raise ServiceError(
            _l("Please say why you object, so the circle can talk about it."), "reason"
        )
    vote.answer = "consent" if consent else "object"
    vote.reason = "" if consent else reason
    vote.answered_at = utcnow()
    db.session.flush()
    events.publish(
        circle.id, {"type": "plan", "op": "vote", "id": proposal.id}, event_name="plan:event"
    )
    _maybe_apply(circle, proposal)
    return proposal


def _votes_of(proposal: Proposal) -> list[ProposalVote]:
    return list(
        db.session.scalars(
            select(ProposalVote)
            .where(ProposalVote.proposal_id == proposal.id)
            .options(selectinload(ProposalVote.membership))
            .execution_options(populate_existing=True)
        )
    )


def counted_votes(votes: list[ProposalVote]) -> list[ProposalVote]:
    """The votes that still count: all but the unanswered vote of someone who has gone.
    An answer given stays, above all an objection: removing or losing the person who
    objected must never turn their objection into consent."""
    return [v for v in votes if v.membership.is_active or v.answer is not None]


def gone_objections(votes: list[ProposalVote]) -> list[ProposalVote]:
    """Objections of people who have since left or been removed."""
    return [v for v in votes if v.answer == "object" and not v.membership.is_active]


def _maybe_apply(circle: Circle, proposal: Proposal) -> bool:
    counted = counted_votes(_votes_of(proposal))
    if not any(v.membership.is_active for v in counted):
        return False
    if any(v.answer != "consent" for v in counted):
        return False
    apply_proposal(circle, proposal, reason="consent", decided_by=[v.membership for v in counted])
    return True


def decide_at_meeting(
    circle: Circle, proposal: Proposal, present: list[Membership], day: str
) -> PlanVersion | None:
    """The people at a follow-up meeting put a proposal into the plan.

    Only with every voter there agreeing (``present`` are the voters marked present,
    the decision stands for all of them; one of them who objected must take it back
    themselves first) and never over the standing objection of a voter who was not
    there. An objection of someone who has left the circle cannot
    be talked through any more: the people there may decide over it, and the version
    names them."""
    present = [m for m in present if m.is_active and m.votes]
    if not present:
        raise ServiceError(
            _l("A change can only be decided with someone there who has a say in the plan."),
            "present",
        )
    here = {m.id for m in present}
    votes = _votes_of(proposal)
    absent_objectors = [
        v.membership
        for v in votes
        if v.answer == "object" and v.membership.is_active and v.membership_id not in here
    ]
    present_objectors = [
        v.membership for v in votes if v.answer == "object" and v.membership_id in here
    ]
    if present_objectors:
        # Whoever writes down the meeting cannot turn someone's "no" into a "yes": the
        # person takes their objection back themselves (answering again), visibly.
        raise ServiceError(
            _l(
                "%(names)s objected. The change can be decided once they take their "
                "objection back themselves.",
                names=", ".join(sorted(m.display_name for m in present_objectors)),
            ),
            "present",
        )
    if absent_objectors:
        raise ServiceError(
            _l(
                "%(names)s objected and was not there. This change can only be decided "
                "with them, or withdrawn.",
                names=", ".join(sorted(m.display_name for m in absent_objectors)),
            ),
            "present",
        )
    return apply_proposal(
        circle,
        proposal,
        reason="meeting",
        decided_by=present,
        summary=day,
        gone_objectors=[v.membership for v in gone_objections(votes)],
    )


def _apply_change(circle: Circle, kind: str, target_id: int | None, p: dict) -> None:
    """Make one change to the live plan: the same code for a draft edit and for an
    agreed proposal, so both paths validate and write alike."""
    if kind == "add_commitment":
        _add_commitment(circle, CommitmentData.from_payload(p))
    elif kind == "change_commitment":
        c = _active_commitment(circle, target_id)
        data = CommitmentData.from_payload(p)
        validate_commitment(circle, data)
        _write_commitment(circle, c, data)
    elif kind == "remove_commitment":
        _active_commitment(circle, target_id).active = False
    elif kind == "add_agreement":
        _add_agreement(circle, p["text"])
    elif kind == "change_agreement":
        _active_agreement(circle, target_id).text = _clean_agreement(p["text"])
    elif kind == "remove_agreement":
        _active_agreement(circle, target_id).active = False
    elif kind == "set_evaluation_date":
        set_evaluation_date(circle, None, date.fromisoformat(p["date"]))
    else:
        raise ServiceError(_l("Please choose what you want to change."))
    db.session.flush()


def change(
    circle: Circle,
    acting: Membership,
    kind: str,
    *,
    target_id: int | None = None,
    payload: dict | None = None,
    reason: str = "",
) -> Proposal | None:
    """One entry point for every plan change: while the plan is a draft it is made at
    once; once agreed it becomes a proposal to the circle (returned)."""
    if get_plan(circle).version > 0:
        return propose(circle, acting, kind, target_id=target_id, payload=payload, reason=reason)
    _apply_change(circle, kind, target_id, payload or {})
    return None


def apply_proposal(
    circle: Circle,
    proposal: Proposal,
    *,
    reason: str,
    decided_by: list[Membership],
    summary: str = "",
    gone_objectors: list[Membership] | None = None,
) -> PlanVersion | None:
    """Apply exactly once: only the transaction that flips open -> applied goes on."""
    won = db.session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status == ProposalStatus.OPEN)
        .values(status=ProposalStatus.APPLIED)
    ).rowcount
    if won != 1:
        return None
    _apply_change(circle, proposal.kind, proposal.target_id, proposal.payload or {})
    version = new_version(
        circle,
        reason,
        summary=summary,
        decided_by=decided_by,
        gone_objectors=gone_objectors,
        proposal_id=proposal.id,
    )
    db.session.execute(
        update(Proposal).where(Proposal.id == proposal.id).values(applied_version=version.number)
    )
    return version


def withdraw(circle: Circle, acting: Membership, proposal: Proposal) -> None:
    if proposal.proposer_id != acting.id:
        raise ServiceError(_l("Only the person who proposed it can withdraw it."))
    if proposal.status != ProposalStatus.OPEN:
        raise ServiceError(_l("This proposal is already decided."))
    proposal.status = ProposalStatus.WITHDRAWN


def reconsider_open_proposals(circle: Circle) -> None:
    """After someone leaves or is removed: their missing answer no longer blocks (an
    objection they made still does; see ``counted_votes``).

    A proposal that can no longer apply as written (it gives a task to the person who
    went) stays open, for its proposer to withdraw; it must not stop anyone leaving."""
    for proposal in open_proposals(circle):
        try:
            with db.session.begin_nested():
                _maybe_apply(circle, proposal)
        except ServiceError:
            db.session.expire(proposal)


def open_proposals(circle: Circle) -> list[Proposal]:
    return list(
        db.session.scalars(
            select(Proposal)
            .where(Proposal.circle_id == circle.id, Proposal.status == ProposalStatus.OPEN)
            .options(
                selectinload(Proposal.votes).selectinload(ProposalVote.membership),
                selectinload(Proposal.proposer),
            )
            .order_by(Proposal.id)
        )
    )


# --- Professionals ---------------------------------------------------------------------


def add_condition(circle: Circle, acting: Membership, text: str) -> Condition:
    if not can_set_conditions(acting):
        raise Forbidden
    text = clean_text(text).strip()
    if not text:
        raise ServiceError(_l("Please write the condition."), "text")
    k = Condition(circle_id=circle.id, text=text[:2000], set_by_id=acting.id)
    db.session.add(k)
    db.session.flush()
    if get_plan(circle).version > 0:
        new_version(circle, "condition", decided_by=[acting])
    return k


def remove_condition(circle: Circle, acting: Membership, k: Condition) -> None:
    if not can_remove_condition(acting, k):
        raise Forbidden
    if not k.active:
        return  # already removed (a second click): not another change, not another version
    k.active = False
    db.session.flush()
    if get_plan(circle).version > 0:
        new_version(circle, "condition", agreed_by=[acting.display_name])


def accept(circle: Circle, acting: Membership, number: int) -> Acceptance:
    if not can_accept_plan(acting):
        raise Forbidden
    get_version(circle, number)
    a = Acceptance(circle_id=circle.id, version=number, by_id=acting.id)
    db.session.add(a)
    record(circle, "plan_accepted", actor=acting, number=number)
    return a


def acceptances(circle: Circle) -> list[Acceptance]:
    return list(
        db.session.scalars(
            select(Acceptance)
            .where(Acceptance.circle_id == circle.id)
            .options(selectinload(Acceptance.by))
            .order_by(Acceptance.id.desc())
        )
    )
