"""Changing an agreed plan by consent: proposals, answers, the meeting's decision, and
applying a change exactly once. ``change`` is the one entry point of the plan's forms.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from portal import events
from portal.access import (
    can_act_for,
    can_vote,
    consent_waits_for,
    enters_plan_directly,
    has_a_voice,
    hears_of_decision,
    within_change_window,
)
from portal.extensions import db
from portal.models import (
    Circle,
    Membership,
    PlanVersion,
    Proposal,
    ProposalStatus,
    ProposalVote,
)
from portal.models.types import utcnow
from portal.sanitize import clean_text
from portal.services import Forbidden, ServiceError, notifications
from portal.services.acted import acted_for
from portal.services.history import record
from portal.services.plan.entries import (
    KINDS,
    CommitmentData,
    active_agreement,
    active_commitment,
    apply_change,
    clean_agreement,
    validate_commitment,
)
from portal.services.plan.reading import get_plan
from portal.services.plan.snapshots import new_version


def _voters(circle: Circle) -> list[Membership]:
    return [m for m in circle.memberships if has_a_voice(m)]


def _checked(circle: Circle, kind: str, target_id: int | None, payload: dict) -> dict:
    """Check the change now, so a broken proposal never reaches a vote; the payload as
    cleaned (voters read what will be stored)."""
    if kind not in KINDS:
        raise ServiceError(_l("Please choose what you want to change."))
    if kind in ("add_commitment", "change_commitment"):
        data = CommitmentData.from_payload(payload)
        validate_commitment(circle, data)
        payload = data.to_payload()
    if kind in ("change_commitment", "remove_commitment"):
        active_commitment(circle, target_id)
    if kind in ("add_agreement", "change_agreement"):
        payload = {"text": clean_agreement(payload.get("text", ""))}
    if kind in ("change_agreement", "remove_agreement"):
        active_agreement(circle, target_id)
    if kind == "set_evaluation_date":
        date.fromisoformat(payload["date"])
    return payload


def propose(
    circle: Circle,
    acting: Membership,
    kind: str,
    *,
    target_id: int | None = None,
    payload: dict | None = None,
    reason: str = "",
) -> Proposal:
    if not can_vote(acting):
        raise Forbidden
    if enters_plan_directly(acting, get_plan(circle).version > 0):
        raise ServiceError(_l("The plan is not agreed yet: it can still be entered directly."))
    payload = _checked(circle, kind, target_id, payload or {})
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
    if not _maybe_apply(circle, proposal, acting):
        _ask_consent(circle, acting, proposal)
    return proposal


def _ask_consent(circle: Circle, acting: Membership, proposal: Proposal) -> None:
    """News for each voter the new proposal waits for."""
    db.session.expire(proposal, ["votes"])  # the votes were added beside it, not to it
    waits = [m for m in circle.memberships if consent_waits_for(m, proposal)]
    notifications.notify(waits, "consent", ref_id=proposal.id, actor=acting)


def _decided(circle: Circle, proposal: Proposal, op: str, actor: Membership | None) -> None:
    """News that a proposal is decided, for its voters and proposer; the lines asking
    for consent to it no longer wait for anyone."""
    told = [m for m in circle.memberships if hears_of_decision(m, proposal)]
    notifications.notify(told, "decided", ref_id=proposal.id, actor=actor, data={"op": op})
    notifications.settle(circle.id, "consent", proposal.id)


def answer(
    circle: Circle,
    acting: Membership,
    proposal: Proposal,
    consent: bool,
    reason: str = "",
    *,
    for_member: Membership | None = None,
) -> Proposal:
    """Consent or object. The proposal row is locked first, so of two last consents
    arriving together the second sees the first and exactly one applies the change.

    ``for_member``: ``acting`` answers in the name of a member who named them (issue 14),
    recorded as theirs with ``acted_by``. The voters were fixed when the proposal was
    made: a member named someone only later answers for themself, or not at all. An
    answer given for a member is theirs to change for a week, while the proposal is
    open; afterwards it stands."""
    if for_member is not None and not can_act_for(acting, for_member):
        raise Forbidden
    voter = for_member or acting
    proposal = db.session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if proposal.status != ProposalStatus.OPEN:
        raise ServiceError(_l("This proposal is already decided."))
    if not can_vote(voter):
        raise Forbidden
    vote = db.session.scalar(
        select(ProposalVote).where(
            ProposalVote.proposal_id == proposal.id, ProposalVote.membership_id == voter.id
        )
    )
    if vote is None:
        if for_member is not None:
            raise ServiceError(
                _l("%(name)s was not asked about this change.", name=voter.display_name)
            )
        raise ServiceError(_l("You were not in the circle when this was proposed."))
    if (
        for_member is None
        and vote.acted_by_id is not None
        and not within_change_window(vote.answered_at)
    ):
        raise ServiceError(_l("Your answer was given for you more than 7 days ago, so it stands."))
    reason = clean_text(reason).strip()[:2000]
    if not consent and not reason:
        raise ServiceError(
            _l("Please say why you object, so the circle can talk about it."), "reason"
        )
    vote.answer = "consent" if consent else "object"
    vote.reason = "" if consent else reason
    vote.answered_at = utcnow()
    vote.acted_by_id = acting.id if for_member is not None else None
    db.session.flush()
    notifications.settle(circle.id, "consent", proposal.id, user_id=voter.user_id)
    if for_member is not None:
        acted_for(circle, acting, for_member, "consent" if consent else "object", proposal.id)
    events.publish(
        circle.id, {"type": "plan", "op": "vote", "id": proposal.id}, event_name="plan:event"
    )
    _maybe_apply(circle, proposal, acting)
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
    """The votes that still count: all but the unanswered vote of someone who has gone,
    or who can no longer answer (an offline member whose last named person was taken
    off: nobody can answer for them). An answer given stays, above all an objection:
    removing or losing the person who objected must never turn their objection into
    consent."""
    return [v for v in votes if v.answer is not None or has_a_voice(v.membership)]


def gone_objections(votes: list[ProposalVote]) -> list[ProposalVote]:
    """Objections of people who have since left or been removed."""
    return [v for v in votes if v.answer == "object" and not v.membership.is_active]


def _maybe_apply(circle: Circle, proposal: Proposal, actor: Membership | None) -> bool:
    """Apply the proposal if every vote that counts is consent; ``actor`` is whoever's
    act made it so (the last consent; someone removing or leaving; None: nobody's)."""
    counted = counted_votes(_votes_of(proposal))
    if not any(v.membership.is_active for v in counted):
        return False
    if any(v.answer != "consent" for v in counted):
        return False
    decided_by = [v.membership for v in counted]
    apply_proposal(circle, proposal, reason="consent", decided_by=decided_by, actor=actor)
    return True


def decide_at_meeting(
    circle: Circle,
    proposal: Proposal,
    present: list[Membership],
    day: str,
    actor: Membership | None = None,
) -> PlanVersion | None:
    """The people at a follow-up meeting put a proposal into the plan.

    Only with every voter there agreeing (``present`` are the voters marked present,
    the decision stands for all of them; one of them who objected must take it back
    themselves first) and never over the standing objection of a voter who was not
    there. An objection of someone who has left the circle cannot
    be talked through any more: the people there may decide over it, and the version
    names them."""
    present = [m for m in present if can_vote(m)]
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
    # Whoever writes down the meeting cannot turn someone's "no" into a "yes": the
    # person takes their objection back themselves (answering again), visibly.
    if present_objectors:
        names = _names(present_objectors)
        raise ServiceError(
            _l(
                "%(names)s objected. The change can be decided once they take their "
                "objection back themselves.",
                names=names,
            ),
            "present",
        )
    if absent_objectors:
        names = _names(absent_objectors)
        raise ServiceError(
            _l(
                "%(names)s objected and was not there. This change can only be decided "
                "with them, or withdrawn.",
                names=names,
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
        actor=actor,
    )


def change(
    circle: Circle,
    acting: Membership,
    kind: str,
    *,
    target_id: int | None = None,
    payload: dict | None = None,
    reason: str = "",
) -> Proposal | None:
    """One entry point for every plan change: while the plan is a draft, the people who
    enter it make it at once; anything else (a member's suggestion to the draft, any
    change once agreed) becomes a proposal to the circle (returned). ``acting`` None:
    the server itself (the command line, the demo), which enters a draft directly."""
    agreed = get_plan(circle).version > 0
    if agreed or (acting is not None and not enters_plan_directly(acting, agreed)):
        return propose(circle, acting, kind, target_id=target_id, payload=payload, reason=reason)
    apply_change(circle, kind, target_id, payload or {})
    return None


def apply_proposal(
    circle: Circle,
    proposal: Proposal,
    *,
    reason: str,
    decided_by: list[Membership],
    summary: str = "",
    gone_objectors: list[Membership] | None = None,
    actor: Membership | None = None,
) -> PlanVersion | None:
    """Apply exactly once: only the transaction that flips open -> applied goes on.
    ``actor``: whose act decided it (they are not told of it)."""
    won = db.session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status == ProposalStatus.OPEN)
        .values(status=ProposalStatus.APPLIED)
    ).rowcount
    if won != 1:
        return None
    _decided(circle, proposal, "agreed", actor)
    apply_change(circle, proposal.kind, proposal.target_id, proposal.payload or {})
    if get_plan(circle).version == 0:
        # A suggestion to the draft that everyone agreed to: it is in the draft now,
        # and in version 1 when the plan is agreed (``record_agreement``).
        return None
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
    _decided(circle, proposal, "withdrawn", acting)


def decline_at_meeting(circle: Circle, proposal: Proposal, actor: Membership | None) -> bool:
    """The people at a follow-up meeting decided against an open proposal: it is
    withdrawn (exactly once, by a conditional UPDATE). Whether it happened."""
    won = db.session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status == ProposalStatus.OPEN)
        .values(status=ProposalStatus.WITHDRAWN)
    ).rowcount
    if won == 1:
        _decided(circle, proposal, "declined", actor)
    return won == 1


def reconsider_open_proposals(circle: Circle) -> None:
    """After someone leaves or is removed, or an offline member is left with nobody to
    answer for them: their missing answer no longer blocks (an objection they made
    still does; see ``counted_votes``).

    A proposal that can no longer apply as written (it gives a task to the person who
    went) stays open, for its proposer to withdraw; it must not stop anyone leaving."""
    for proposal in open_proposals(circle):
        try:
            with db.session.begin_nested():
                # Nobody's act decided it: everyone who had a say hears of it.
                _maybe_apply(circle, proposal, None)
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


def _names(people) -> str:
    return ", ".join(sorted(m.display_name for m in people))
