"""The rows both exports share, read page by page: chat messages with their earlier
versions, meetings with their answers and reviews, ticks. Each function is a
generator of plain dicts (the ``data.json`` items; ``index.html`` reads the same).

Names come from ``names`` (membership id -> the name shown now, "a former member" for
someone who erased their account), so a name is never read from a stored copy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    ChecklistItem,
    Commitment,
    CommitmentReview,
    Completion,
    LineMessage,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    MeetingReview,
    Membership,
    Message,
    MessageRevision,
    SupportLine,
)
from portal.services.export.writer import iso, pages


def names_of(circle_ids: list[int]) -> dict[int, str]:
    """Everyone who was ever in these circles, by membership id (a few hundred at most)."""
    rows = db.session.scalars(select(Membership).where(Membership.circle_id.in_(circle_ids)))
    return {m.id: m.display_name for m in rows}


def messages(where, names: dict[int, str], key=Message.id) -> Iterator[dict]:
    """Messages matching ``where`` in the order of ``key`` (the circle's ``seq``, or
    ``id`` across circles), each with its earlier versions, oldest first."""
    query = select(
        Message.id,
        Message.circle_id,
        Message.seq,
        Message.author_id,
        Message.body,
        Message.created_at,
        Message.edited_at,
        Message.deleted_at,
        Message.removed_by_id,
    ).where(*where)
    for rows in pages(query, key):
        edited = [r.id for r in rows if r.edited_at is not None]
        earlier: dict[int, list[dict]] = defaultdict(list)
        if edited:
            for message_id, body, written_at in db.session.execute(
                select(MessageRevision.message_id, MessageRevision.body, MessageRevision.written_at)
                .where(MessageRevision.message_id.in_(edited))
                .order_by(MessageRevision.id)
            ):
                earlier[message_id].append({"text": body, "written_at": iso(written_at)})
        for r in rows:
            yield {
                "circle_id": r.circle_id,
                "number": r.seq,
                "from": names.get(r.author_id, ""),
                "from_id": r.author_id,
                "written_at": iso(r.created_at),
                "edited_at": iso(r.edited_at),
                "text": r.body,
                "earlier_versions": earlier.get(r.id, []),
                "removed_at": iso(r.deleted_at),
                "removed_by": names.get(r.removed_by_id) if r.removed_by_id else None,
            }


def line_messages(where, names: dict[int, str]) -> Iterator[dict]:
    """Messages on private lines (issue 14) matching ``where``, by line then number, each
    with the line's two people. Only the account export calls this: the circle export
    never holds a line (nobody but its two may read it)."""
    query = (
        select(
            LineMessage.id,
            LineMessage.line_id,
            LineMessage.seq,
            LineMessage.author_id,
            LineMessage.body,
            LineMessage.created_at,
            LineMessage.deleted_at,
            SupportLine.circle_id,
            SupportLine.supporter_id,
            SupportLine.member_id,
        )
        .join(SupportLine, SupportLine.id == LineMessage.line_id)
        .where(*where)
    )
    for rows in pages(query, LineMessage.id):
        for r in rows:
            yield {
                "circle_id": r.circle_id,
                "line_id": r.line_id,
                "supporter": names.get(r.supporter_id, ""),
                "supported": names.get(r.member_id, ""),
                "number": r.seq,
                "from": names.get(r.author_id, ""),
                "from_id": r.author_id,
                "written_at": iso(r.created_at),
                "text": r.body,
                "removed_at": iso(r.deleted_at),
            }


def ticks(where, names: dict[int, str]) -> Iterator[dict]:
    """Ticks (and undone ticks) on commitments, with the commitment's text; a tick of
    a checklist step ("item:<id>") also carries the step's text."""
    query = (
        select(
            Completion.id,
            Completion.commitment_id,
            Commitment.circle_id,
            Commitment.what,
            Completion.occurrence,
            Completion.by_id,
            Completion.acted_by_id,
            Completion.at,
            Completion.note,
            Completion.undone_at,
        )
        .join(Commitment, Commitment.id == Completion.commitment_id)
        .where(*where)
    )
    for rows in pages(query, Completion.id):
        item_ids = [int(o[5:]) for o in {r.occurrence for r in rows} if o.startswith("item:")]
        steps = dict(
            db.session.execute(
                select(ChecklistItem.id, ChecklistItem.text).where(ChecklistItem.id.in_(item_ids))
            ).all()
            if item_ids
            else []
        )
        for r in rows:
            step = int(r.occurrence[5:]) if r.occurrence.startswith("item:") else None
            yield {
                "circle_id": r.circle_id,
                "commitment_id": r.commitment_id,
                "commitment": r.what,
                "occurrence": r.occurrence,
                "step": steps.get(step) if step else None,
                "by": names.get(r.by_id, ""),
                # Issue 14: ticked in their name by someone they named ("by X for Y").
                "acted_by": names.get(r.acted_by_id, "") if r.acted_by_id else None,
                "at": iso(r.at),
                "note": r.note,
                "undone_at": iso(r.undone_at),
            }


def meetings(circle_id: int, names: dict[int, str]) -> Iterator[dict]:
    """The circle's meetings, oldest first: times with everyone's answers, who was
    invited, and the review, if one was recorded."""
    for page in pages(select(Meeting.id).where(Meeting.circle_id == circle_id), Meeting.id, 100):
        ids = [r.id for r in page]
        found = {m.id: m for m in db.session.scalars(select(Meeting).where(Meeting.id.in_(ids)))}
        options: dict[int, list] = defaultdict(list)
        for o in db.session.scalars(
            select(MeetingOption)
            .where(MeetingOption.meeting_id.in_(ids))
            .order_by(MeetingOption.starts_at)
        ):
            options[o.meeting_id].append(o)
        answers: dict[int, list] = defaultdict(list)
        option_ids = [o.id for opts in options.values() for o in opts]
        if option_ids:
            for a in db.session.scalars(
                select(MeetingAnswer)
                .where(MeetingAnswer.option_id.in_(option_ids))
                .order_by(MeetingAnswer.id)
            ):
                answers[a.option_id].append(
                    {
                        "by": names.get(a.membership_id, ""),
                        "acted_by": names.get(a.acted_by_id, "") if a.acted_by_id else None,
                        "answer": a.answer,
                    }
                )
        invited: dict[int, list] = defaultdict(list)
        for meeting_id, membership_id in db.session.execute(
            select(MeetingInvitee.meeting_id, MeetingInvitee.membership_id)
            .where(MeetingInvitee.meeting_id.in_(ids))
            .order_by(MeetingInvitee.id)
        ):
            invited[meeting_id].append(names.get(membership_id, ""))
        reviews = {
            r.meeting_id: r
            for r in db.session.scalars(
                select(MeetingReview).where(MeetingReview.meeting_id.in_(ids))
            )
        }
        items: dict[int, list] = defaultdict(list)
        if reviews:
            for item in db.session.scalars(
                select(CommitmentReview)
                .where(CommitmentReview.review_id.in_([r.id for r in reviews.values()]))
                .order_by(CommitmentReview.id)
            ):
                items[item.review_id].append(
                    {"commitment": item.what, "verdict": item.verdict, "note": item.note}
                )
        for meeting_id in ids:
            m = found[meeting_id]
            review = reviews.get(meeting_id)
            yield {
                "id": m.id,
                "title": m.title,
                "purpose": m.purpose,
                "place": m.place,
                "video_link": m.video_link,
                "duration_minutes": m.duration_minutes,
                "status": m.status,
                "starts_at": iso(m.starts_at),
                "answer_before": iso(m.deadline),
                "organiser": names.get(m.organiser_id, ""),
                "invited": invited.get(meeting_id, []),
                "times": [
                    {"starts_at": iso(o.starts_at), "answers": answers.get(o.id, [])}
                    for o in options.get(meeting_id, [])
                ],
                "review": None
                if review is None
                else {
                    "recorded_by": names.get(review.recorded_by_id, ""),
                    "recorded_at": iso(review.recorded_at),
                    "present": list(review.present or []),
                    "next_evaluation": iso(review.next_evaluation),
                    "notes": review.notes,
                    "commitments": items.get(review.id, []),
                },
            }
