"""The family's plan: commitments with checklists, conditions, "if things go
differently" agreements, versions, proposals with consent, and ticks.

The live tables hold the plan as it is now. Every change to it (after the plan was
first agreed) produces a PlanVersion holding an immutable snapshot of the whole plan;
nothing ever updates a version row.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.circles import Membership
from portal.models.types import UTCDateTime, utcnow


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e])


class Plan(db.Model):
    """One per circle. ``version`` is 0 while the plan is being entered (a draft)."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), unique=True)
    version: Mapped[int] = mapped_column(default=0)
    evaluation_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


commitment_assignees = db.Table(
    "commitment_assignees",
    db.Column("commitment_id", ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True),
    db.Column("membership_id", ForeignKey("memberships.id"), primary_key=True),
)


class Commitment(db.Model):
    __tablename__ = "commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    what: Mapped[str] = mapped_column(Text)
    # People who do it but are not in Kring ("the neighbour, Mr Jansen").
    other_assignees: Mapped[str] = mapped_column(String(200), default="")
    schedule_kind: Mapped[str] = mapped_column(String(16))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    weekdays: Mapped[str] = mapped_column(String(20), default="")  # "0,3" = Mon, Thu
    interval: Mapped[int] = mapped_column(default=1)
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    checker_name: Mapped[str] = mapped_column(String(80), default="")
    active: Mapped[bool] = mapped_column(default=True)
    help_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    help_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))

    assignees: Mapped[list[Membership]] = relationship(
        secondary=commitment_assignees, order_by="Membership.display_name"
    )
    checker: Mapped[Membership | None] = relationship(foreign_keys=[checker_id])
    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="commitment",
        order_by="ChecklistItem.position",
        cascade="all, delete-orphan",
    )


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(300))

    commitment: Mapped[Commitment] = relationship(back_populates="items")


class Completion(db.Model):
    """One tick: who did an occurrence (or a checklist item), when, with a note.

    Undoing keeps the row (``undone_at``), so the history shows it. At most one
    standing tick per occurrence: a partial unique index, so two simultaneous ticks
    leave one.
    """

    __tablename__ = "completions"
    __table_args__ = (
        Index(
            "uq_completions_standing",
            "commitment_id",
            "occurrence",
            unique=True,
            postgresql_where=text("undone_at IS NULL"),
            sqlite_where=text("undone_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitments.id"), index=True)
    # "once", an ISO date for a repeating commitment's turn, or "item:<id>".
    occurrence: Mapped[str] = mapped_column(String(40))
    by_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    # Issue 14: someone ``by`` named ticked it in their name ("by Sanne for Oma" shows
    # as acted_by for by).
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(280), default="")
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    by: Mapped[Membership] = relationship(foreign_keys=[by_id])
    acted_by: Mapped[Membership | None] = relationship(foreign_keys=[acted_by_id])


class Condition(db.Model):
    """A condition a professional sets in a compulsory case."""

    __tablename__ = "conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)

    set_by: Mapped[Membership] = relationship()


class Agreement(db.Model):
    """An "if things go differently" agreement."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)


class PlanVersion(db.Model):
    """An immutable snapshot of the whole plan. (circle, number) is unique, so a change
    applied twice at the same moment cannot produce two versions."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("circle_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"))
    number: Mapped[int]
    snapshot: Mapped[dict] = mapped_column(JSON)
    # "agreed" (version 1, at the conference), "consent", "condition", "meeting".
    reason: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    # Who decided, by membership id (names are shown as they are now). ``agreed_by``
    # keeps the names as they were: all older versions have, and the export falls back
    # on it.
    agreed_by: Mapped[list] = mapped_column(JSON, default=list)  # names
    agreed_by_ids: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Decided at a meeting although these people had objected before leaving the circle.
    gone_objector_ids: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProposalStatus(enum.StrEnum):
    OPEN = "open"
    APPLIED = "applied"
    WITHDRAWN = "withdrawn"


class Proposal(db.Model):
    """A proposed change to the plan; applied when every voter consents."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    # add_commitment, change_commitment, remove_commitment,
    # add_agreement, change_agreement, remove_agreement, set_evaluation_date
    kind: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[int | None]
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    proposer_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[ProposalStatus] = mapped_column(
        _enum(ProposalStatus, "proposal_status"), default=ProposalStatus.OPEN
    )
    applied_version: Mapped[int | None]

    proposer: Mapped[Membership] = relationship()
    votes: Mapped[list[ProposalVote]] = relationship(
        back_populates="proposal", order_by="ProposalVote.id", cascade="all, delete-orphan"
    )


class ProposalVote(db.Model):
    """A voter of a proposal (fixed when it is made) and their answer, if any."""

    __tablename__ = "proposal_votes"
    __table_args__ = (UniqueConstraint("proposal_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    answer: Mapped[str | None] = mapped_column(String(10))  # "consent" | "object"
    reason: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Issue 14: given in the member's name by someone they named.
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))

    proposal: Mapped[Proposal] = relationship(back_populates="votes")
    membership: Mapped[Membership] = relationship(foreign_keys=[membership_id])
    acted_by: Mapped[Membership | None] = relationship(foreign_keys=[acted_by_id])


class Acceptance(db.Model):
    """A professional records that they accept a version of the plan."""

    __tablename__ = "acceptances"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"), index=True)
    version: Mapped[int]
    by_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by: Mapped[Membership] = relationship()
