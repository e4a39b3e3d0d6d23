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

Where each part lives (every name is also here, so callers write ``plan.tick(...)``):

* ``reading``: the plan as it stands (``get_plan``, ``commitments``, ``schedule_of``, ...);
* ``snapshots``: versions, who decided them, ``diff``;
* ``entries``: writing the live plan (``apply_change``) and ``record_agreement``;
* ``consent``: ``change`` (the forms' one entry point), proposals, answers, meetings;
* ``ticks``: ticks, undo and help;
* ``professionals``: conditions and acceptance.

Each imports only the parts above it in this list.
"""

from portal.services.plan.consent import (
    answer,
    apply_proposal,
    change,
    counted_votes,
    decide_at_meeting,
    decline_at_meeting,
    gone_objections,
    open_proposals,
    propose,
    reconsider_open_proposals,
    withdraw,
)
from portal.services.plan.entries import (
    KINDS,
    CommitmentData,
    record_agreement,
    set_evaluation_date,
    validate_commitment,
)
from portal.services.plan.professionals import (
    accept,
    acceptances,
    add_condition,
    remove_condition,
)
from portal.services.plan.reading import (
    agreements,
    commitments,
    conditions,
    get_plan,
    schedule_of,
    standing_completions,
)
from portal.services.plan.snapshots import (
    DiffRow,
    decided_by_names,
    diff,
    get_version,
    names_of,
    new_version,
    snapshot,
    versions,
)
from portal.services.plan.ticks import (
    clear_help,
    completion_history,
    request_help,
    tick,
    tick_payload,
    undo_tick,
)

__all__ = [
    "KINDS",
    "CommitmentData",
    "DiffRow",
    "accept",
    "acceptances",
    "add_condition",
    "agreements",
    "answer",
    "apply_proposal",
    "change",
    "clear_help",
    "commitments",
    "completion_history",
    "conditions",
    "counted_votes",
    "decide_at_meeting",
    "decline_at_meeting",
    "decided_by_names",
    "diff",
    "get_plan",
    "get_version",
    "gone_objections",
    "names_of",
    "new_version",
    "open_proposals",
    "propose",
    "reconsider_open_proposals",
    "record_agreement",
    "remove_condition",
    "request_help",
    "schedule_of",
    "set_evaluation_date",
    "snapshot",
    "standing_completions",
    "tick",
    "tick_payload",
    "undo_tick",
    "validate_commitment",
    "versions",
    "withdraw",
]
