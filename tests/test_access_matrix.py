"""The access matrix: who gets what from every route and every socket event.

Every circle-scoped route (a rule with ``<int:circle_id>``) is requested by every
persona and must answer exactly as ``MATRIX`` says. A route missing from the table
fails the suite, so a new route cannot slip in unclassified; the same holds for the
top-level routes (``PUBLIC_ROUTES``) and for socket events (``SOCKET_MATRIX``).

Personas, built fresh for each test (so state-changing requests never share data):

- anonymous          no session at all
- outsider           the central person of another circle (circle B)
- removed            was a member of circle A, removed by a central person
- handed_over        circle A's coordinator after handing over
- professional       active in circle A; the chat is closed to professionals (default)
- professional_chat  the same, in a circle whose central persons opened the chat to them
- member, supporter, central   active in circle A
- coordinator        circle A's coordinator before handover

Someone who may not see a circle gets the one 404 page, byte for byte the same as for
a circle that does not exist (see ``portal.access``). POSTs carry a valid CSRF token
(from /account, or /login when anonymous), so the table tests access, not CSRF.
Every refused request is also checked to have changed nothing in the database.

Both circles hold a plan (see ``_plan``): agreed as version 1, version 2 after a
professional's condition, a commitment for the target with a two-step checklist whose
first step the central person ticked, an "if things go differently" agreement, a help
request, and an open proposal by the target, made once the persona has joined (so a
member or supporter persona has a vote on it). The matrix describes that agreed plan;
``test_plan_draft`` covers the routes that answer differently while it is a draft.

Both circles hold follow-up meetings too (see ``_meetings``). In circle A the target is
in the follow-up group (so may organise) and organises two meetings, made once the
persona has joined: one still a poll and one whose date is fixed. Invited: the target,
the central person (by default, as every central person is) and the member persona
(by name). No persona is plan keeper or in the follow-up group, so among the personas
only the central person organises and manages meetings, and only the central person and
the member answer; ``test_meeting_flags_beyond_the_matrix`` covers the flags.

To keep the run short, the requests that must change nothing (pages and refusals) run
one persona at a time in a single world (``test_matrix``): one that wrongly changed
something fails at that request. Each allowed action gets a world of its own
(``test_matrix_action``), so it really happens.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from portal.access import ChatSeat
from portal.extensions import socketio
from portal.models import (
    Acceptance,
    Agreement,
    CalendarFeed,
    ChecklistItem,
    Circle,
    CircleEvent,
    Commitment,
    CommitmentReview,
    Completion,
    Condition,
    Invitation,
    LineMessage,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    MeetingReview,
    Membership,
    MembershipStatus,
    Message,
    MessageRevision,
    Plan,
    PlanVersion,
    Proposal,
    ProposalStatus,
    ProposalVote,
    ReentryToken,
    Role,
    SupportLine,
    membership_proxies,
)
from portal.models.plan import commitment_assignees
from portal.realtime.state import SOCKETS
from portal.services import chat as chat_svc
from portal.services import circles as svc
from portal.services import lines as lines_svc
from portal.services import meetings as meetings_svc
from portal.services import membership as membership_svc
from portal.services import offline as offline_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from

# --- Expectations ------------------------------------------------------------------


@dataclass(frozen=True)
class Exp:
    status: int
    changes: bool = False  # must the request change data in the database?
    login: bool = False  # a redirect to /login?next=<this path>
    label: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return self.label or f"Exp({self.status}, changes={self.changes})"


PAGE = Exp(200, label="PAGE")  # a page is shown, nothing changes
CARD = Exp(200, changes=True, label="CARD")  # the printable card with a fresh link
DONE = Exp(302, changes=True, label="DONE")  # the action is done, then a redirect
FORBID = Exp(403, label="FORBID")  # a member without this permission
HIDDEN = Exp(404, label="HIDDEN")  # not your circle: same page as a circle that does not exist
LOGIN = Exp(302, login=True, label="LOGIN")  # anonymous: off to the login page
# Someone else's chat message: edit shows the form again with "only your own",
# delete redirects back to the chat with that message; nothing changes either way.
# Likewise someone else's tick (undo) or proposal (withdraw): back to the plan.
NOT_YOURS_FORM = Exp(200, label="NOT_YOURS_FORM")
NOT_YOURS_BACK = Exp(302, label="NOT_YOURS_BACK")
FORM_AGAIN = Exp(200, label="FORM_AGAIN")  # the form again, saying why it cannot be done

PERSONAS = [
    "anonymous",
    "outsider",
    "removed",
    "handed_over",
    "professional",
    "professional_chat",
    "member",
    "supporter",
    "central",
    "coordinator",
]
NO_ACCESS = ("outsider", "removed", "handed_over")  # signed in, but not (any more) in circle A


def row(
    *, professional, member, supporter, central, coordinator, professional_chat=None
) -> dict[str, Exp]:
    """One line of the matrix. The people without access answer the same everywhere;
    ``professional_chat`` differs from ``professional`` only for the chat."""
    return {
        "anonymous": LOGIN,
        "outsider": HIDDEN,
        "removed": HIDDEN,
        "handed_over": HIDDEN,
        "professional": professional,
        "professional_chat": professional if professional_chat is None else professional_chat,
        "member": member,
        "supporter": supporter,
        "central": central,
        "coordinator": coordinator,
    }


def managers(exp: Exp) -> dict[str, Exp]:
    """Central persons and the coordinator (before handover) may; other members get 403."""
    return row(professional=FORBID, member=FORBID, supporter=FORBID, central=exp, coordinator=exp)


def chat_readers(exp: Exp, *, central: Exp | None = None) -> dict[str, Exp]:
    """Everyone in the circle; professionals only while the chat is open to them."""
    return row(
        professional=FORBID,
        professional_chat=exp,
        member=exp,
        supporter=exp,
        central=central or exp,
        coordinator=exp,
    )


def everyone(exp: Exp) -> dict[str, Exp]:
    """Everyone in the circle, professionals and the coordinator included."""
    return row(professional=exp, member=exp, supporter=exp, central=exp, coordinator=exp)


def voters(exp: Exp) -> dict[str, Exp]:
    """Central persons, members and supporters. Professionals and the coordinator do not
    vote, so on an agreed plan they neither propose nor answer."""
    return row(professional=FORBID, member=exp, supporter=exp, central=exp, coordinator=FORBID)


def tickers(exp: Exp) -> dict[str, Exp]:
    """The commitment's own people, central persons and the plan keeper. The commitment is
    the target's and no persona is plan keeper, so here: central persons only
    (test_assignees_and_the_plan_keeper_tick covers the other two)."""
    return row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=exp, coordinator=FORBID
    )


def organisers(exp: Exp) -> dict[str, Exp]:
    """Meetings are proposed by central persons, the plan keeper and the follow-up group,
    and managed by their organiser (the target) or a central person: among the personas,
    the central person only. Not the coordinator."""
    return row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=exp, coordinator=FORBID
    )


def professionals(exp: Exp) -> dict[str, Exp]:
    """Conditions and acceptance are the professionals' (whatever the chat setting)."""
    return row(
        professional=exp, member=FORBID, supporter=FORBID, central=FORBID, coordinator=FORBID
    )


# (endpoint, method) -> persona -> expected answer. HEAD and OPTIONS are left to Flask
# (HEAD runs the GET view: see test_head_is_as_hidden_as_get).
MATRIX: dict[tuple[str, str], dict[str, Exp]] = {
    ("circles.home", "GET"): row(
        professional=PAGE, member=PAGE, supporter=PAGE, central=PAGE, coordinator=PAGE
    ),
    ("circles.history", "GET"): row(
        professional=PAGE, member=PAGE, supporter=PAGE, central=PAGE, coordinator=PAGE
    ),
    ("circles.settings", "GET"): managers(PAGE),
    ("circles.settings", "POST"): managers(DONE),
    # Only central persons decide what professionals see; not the coordinator.
    ("circles.professionals", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    # Likewise whether the chat shows who is there right now.
    ("circles.presence", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    ("circles.remove_member", "POST"): managers(DONE),
    ("circles.member_flags", "POST"): managers(DONE),
    # Whom a supporter supports (issue 14): on the world's "Helper A", the supporter of
    # the target; the private line then follows the new pair.
    ("circles.member_supports", "POST"): managers(DONE),
    # The coordinator withdraws by handing over, not by leaving.
    ("circles.leave", "GET"): row(
        professional=PAGE, member=PAGE, supporter=PAGE, central=PAGE, coordinator=FORBID
    ),
    ("circles.leave", "POST"): row(
        professional=DONE, member=DONE, supporter=DONE, central=DONE, coordinator=FORBID
    ),
    ("circles.handover", "GET"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=FORBID, coordinator=PAGE
    ),
    ("circles.handover", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=FORBID, coordinator=DONE
    ),
    # Closing is the family's: central persons only (tests/test_closing.py). Circle A is
    # open and not idle, so nobody can reopen it or answer "keep it" there.
    ("circles.close", "GET"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=PAGE, coordinator=FORBID
    ),
    ("circles.close", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    ("circles.reopen", "POST"): everyone(FORBID),
    ("circles.keep", "POST"): everyone(FORBID),
    ("invitations.people", "GET"): managers(PAGE),
    # Who from outside the family looked (issue 13): everyone in the circle reads it (a
    # professional only their own lines, tests/test_access_log.py); no forms.
    ("circles.access_log_page", "GET"): everyone(PAGE),
    # "Who can see what in this circle", generated from the rules: everyone in it.
    ("circles.who_can_see_page", "GET"): everyone(PAGE),
    # The printed "what is happening" sheet for a member (the target): central persons
    # only, not the coordinator (tests/test_member_sheet.py).
    ("circles.sheet", "GET"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=PAGE, coordinator=FORBID
    ),
    ("invitations.create", "POST"): managers(CARD),
    ("invitations.reissue", "POST"): managers(CARD),
    ("invitations.revoke", "POST"): managers(DONE),
    ("invitations.reentry", "POST"): managers(CARD),
    # The chat; the message used is the target member's, so nobody here is its author.
    ("chat.show", "GET"): chat_readers(PAGE),
    ("chat.send", "POST"): chat_readers(DONE),
    ("chat.edit", "GET"): chat_readers(PAGE),
    ("chat.edit", "POST"): chat_readers(NOT_YOURS_FORM),
    # A central person may remove anyone's hurtful message; others only their own.
    ("chat.delete", "POST"): chat_readers(NOT_YOURS_BACK, central=DONE),
    ("chat.versions", "GET"): chat_readers(PAGE),
    # The private line of "Helper A" and the target (issue 14): only those two, who are
    # no persona. Everyone else, whatever their role, gets the one 404 of a missing line
    # (tests/test_support_line.py: the two themselves, the live socket, the attacks).
    ("lines.show", "GET"): row(
        professional=HIDDEN, member=HIDDEN, supporter=HIDDEN, central=HIDDEN, coordinator=HIDDEN
    ),
    ("lines.send", "POST"): row(
        professional=HIDDEN, member=HIDDEN, supporter=HIDDEN, central=HIDDEN, coordinator=HIDDEN
    ),
    # The plan, agreed (see the module docstring). Everyone in the circle reads it.
    ("plan.show", "GET"): everyone(PAGE),
    ("plan.print_view", "GET"): everyone(PAGE),
    ("plan.export", "GET"): everyone(PAGE),
    ("plan.versions", "GET"): everyone(PAGE),
    ("plan.version", "GET"): everyone(PAGE),
    ("plan.diff", "GET"): everyone(PAGE),
    ("plan.history", "GET"): everyone(PAGE),
    # An agreed plan changes only by consent: a DONE here is a new open proposal.
    ("plan.new_commitment", "GET"): voters(PAGE),
    ("plan.new_commitment", "POST"): voters(DONE),
    ("plan.edit_commitment", "GET"): voters(PAGE),
    ("plan.edit_commitment", "POST"): voters(DONE),
    ("plan.remove_commitment", "POST"): voters(DONE),
    ("plan.add_agreement", "POST"): voters(DONE),
    ("plan.edit_agreement", "GET"): voters(PAGE),
    ("plan.edit_agreement", "POST"): voters(DONE),
    ("plan.remove_agreement", "POST"): voters(DONE),
    ("plan.evaluation", "POST"): voters(DONE),
    # Recording the agreement: the coordinator and central persons; once agreed, the
    # form only says so again.
    ("plan.agree", "GET"): managers(PAGE),
    ("plan.agree", "POST"): managers(FORM_AGAIN),
    ("plan.tick", "POST"): tickers(DONE),
    ("plan.help_flag", "POST"): tickers(DONE),  # clearing the target's request for help
    # The standing tick is the central person's: only they may undo it.
    ("plan.undo", "POST"): row(
        professional=NOT_YOURS_BACK,
        member=NOT_YOURS_BACK,
        supporter=NOT_YOURS_BACK,
        central=DONE,
        coordinator=NOT_YOURS_BACK,
    ),
    ("plan.answer", "POST"): voters(DONE),
    ("plan.withdraw", "POST"): everyone(NOT_YOURS_BACK),  # the target's proposal
    # Any professional of the circle (not only the one who set the condition).
    ("plan.add_condition", "POST"): professionals(DONE),
    # Only the professional who set the condition (here "Adviser", not a persona) or
    # the one they named to take over may remove it: tests/test_condition_owners.py.
    ("plan.remove_condition", "POST"): professionals(FORBID),
    # A professional names another active professional ("Adviser") to take over from
    # them; never the family (tests/test_condition_owners.py).
    ("plan.pass_conditions_on", "POST"): professionals(DONE),
    ("plan.accept", "POST"): professionals(DONE),
    # Follow-up meetings (see the module docstring). Everyone in the circle sees them.
    ("meetings.index", "GET"): everyone(PAGE),
    ("meetings.show", "GET"): everyone(PAGE),  # the fixed meeting, with its agenda
    ("meetings.ics", "GET"): everyone(PAGE),  # the fixed meeting (a poll has no .ics)
    ("meetings.ics_details", "GET"): everyone(PAGE),  # the same, with title, place, purpose
    # Proposing: central persons, the plan keeper and the follow-up group.
    ("meetings.new", "GET"): organisers(PAGE),
    ("meetings.new", "POST"): organisers(DONE),
    # Answering the poll: only those invited.
    ("meetings.answers", "POST"): row(
        professional=FORBID, member=DONE, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    # The organiser (the target) or a central person; the review also the plan keeper.
    ("meetings.fix", "POST"): organisers(DONE),  # the poll
    ("meetings.cancel", "POST"): organisers(DONE),  # the poll
    ("meetings.reschedule", "POST"): organisers(DONE),  # the fixed meeting
    ("meetings.review", "POST"): organisers(DONE),  # the fixed meeting
    # The whole circle as a ZIP: central persons only, not the coordinator
    # (tests/test_export.py checks what is in it).
    ("export.circle", "GET"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=PAGE, coordinator=FORBID
    ),
    # Issue 14. Someone without internet ("Oma A", offline): a central person adds them,
    # says who may answer for them, and may invite someone to take their place; not the
    # coordinator (tests/test_offline_members.py).
    ("offline.add", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    ("offline.proxies", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=DONE, coordinator=FORBID
    ),
    ("invitations.take_place", "POST"): row(
        professional=FORBID, member=FORBID, supporter=FORBID, central=CARD, coordinator=FORBID
    ),
    # Who may answer for me: the family's own setting (the central person cannot name
    # themself, so the form comes back). Acting for someone who did not name you, in
    # another circle, after being removed or for someone who left:
    # tests/test_acting_for.py (and test_acting_for_someone_beyond_the_matrix below).
    ("offline.mine", "GET"): voters(PAGE),
    ("offline.mine", "POST"): row(
        professional=FORBID, member=DONE, supporter=DONE, central=FORM_AGAIN, coordinator=FORBID
    ),
}

# While the plan is a draft (version 0) the coordinator and central persons enter it
# directly; members and supporters may suggest a change (issue 14), which becomes an open
# proposal and leaves the draft as it was; professionals may not. Recording the
# agreement stays the managers'. In this order, on one draft world per persona.
DRAFT_ROUTES = [
    ("plan.new_commitment", "GET"),
    ("plan.edit_commitment", "GET"),
    ("plan.agree", "GET"),
    ("plan.new_commitment", "POST"),
    ("plan.edit_commitment", "POST"),
    ("plan.add_agreement", "POST"),
    ("plan.evaluation", "POST"),
    ("plan.edit_agreement", "GET"),
    ("plan.edit_agreement", "POST"),
    ("plan.remove_agreement", "POST"),
    ("plan.remove_commitment", "POST"),
    ("plan.agree", "POST"),  # last: needs a commitment (the one added above), makes version 1
]
DRAFT_MATRIX = {
    key: (
        managers(DONE if key[1] == "POST" else PAGE)
        if key[0] == "plan.agree"
        else voters(DONE if key[1] == "POST" else PAGE)
        | {"coordinator": DONE if key[1] == "POST" else PAGE}
    )
    for key in DRAFT_ROUTES
}
DRAFT_SUGGESTIONS = 7  # the POSTs above but the agreement: one proposal each

COMMITMENT_FORM = {
    "what": "Walk the dog on Sundays",
    "other_assignees": "Mr Jansen",
    "kind": "once",
    "start": "2031-05-01",
    "checker": "0",
    "reason": "Sam asked",
}

# Form fields sent with each POST (besides the CSRF token): enough for the action to
# succeed when access is granted, so a DONE or CARD proves the action really happened.
POST_DATA: dict[str, dict[str, str]] = {
    "circles.settings": {
        "title": "Renamed circle",
        "question": "Q?",
        "language": "en",
        "timezone": "Europe/Amsterdam",
    },
    "circles.professionals": {"read_chat": "y"},
    "circles.presence": {"enabled": "y"},
    "circles.member_flags": {"plan_keeper": "y", "followup": "y"},
    "invitations.create": {"name": "Guest", "role": "member"},
    "chat.send": {"body": "Hello from the matrix", "client_id": "matrix-client-0001"},
    "lines.send": {"body": "Hello from the matrix", "client_id": "matrix-client-0002"},
    "circles.member_supports": {"supports": "{central}"},
    "chat.edit": {"body": "Changed by someone else"},
    "plan.new_commitment": COMMITMENT_FORM,
    "plan.edit_commitment": COMMITMENT_FORM,
    "plan.add_agreement": {"text": "If it rains, we meet at Gran's", "reason": "Weather"},
    "plan.edit_agreement": {"text": "If it snows, we meet at Gran's", "reason": "Winter"},
    "plan.evaluation": {"date": "2031-03-01"},
    "plan.agree": {"present": "{central}"},
    "plan.tick": {"occurrence": "item:{item}", "note": "Done"},
    "plan.help_flag": {"clear": "1"},
    "plan.answer": {"answer": "consent"},
    "plan.add_condition": {"text": "Sam sleeps at home on school nights"},
    "plan.pass_conditions_on": {"to": "{adviser}"},
    "plan.accept": {"version": "{version}"},
    "meetings.new": {
        "title": "Check-in (matrix)",
        "duration": "90",
        "place": "Gran's",
        "option_0": "2031-06-01T19:00",
        "option_1": "2031-06-02T19:00",
    },
    "meetings.answers": {"answer-{option}": "yes"},
    "meetings.fix": {"option": "{option}"},
    "meetings.reschedule": {"starts_at": "2031-07-01T19:00"},
    "meetings.review": {"present": "{central}", "notes": "It works"},
    "offline.add": {"name": "Opa", "role": "member"},
    "offline.proxies": {"proxies": "{central}"},
    "offline.mine": {"proxies": "{central}"},
}
# "{name}" in a key or value above is filled in from the world when sent.
FORM_IDS = {
    "central": lambda w: w.central.id,
    "item": lambda w: w.item.id,
    "version": lambda w: w.version_number,
    "option": lambda w: w.option.id,
    "adviser": lambda w: w.professional.id,
}
# Query strings some GET routes need to show anything at all.
QUERY = {"plan.diff": {"a": 1, "b": 2}}

# Every route that is not circle-scoped, with what an anonymous visitor gets.
# (endpoint, method) -> (path to request, status, where a redirect goes or None)
LOGIN_REDIRECT = "login"
PUBLIC_ROUTES: dict[tuple[str, str], tuple[str, int, str | None]] = {
    ("static", "GET"): ("/static/css/kring.css", 200, None),
    ("pages.index", "GET"): ("/", 200, None),
    ("pages.set_language", "POST"): ("/language", 302, "/"),
    ("pages.socketio_client", "GET"): ("/vendor/socket.io.min.js", 200, None),
    ("pages.health", "GET"): ("/healthz", 200, None),
    ("pages.ready", "GET"): ("/readyz", 200, None),
    ("auth.login", "GET"): ("/login", 200, None),
    ("auth.login", "POST"): ("/login", 200, None),  # no credentials: the form again
    ("auth.logout", "POST"): ("/logout", 302, LOGIN_REDIRECT),
    ("auth.account", "GET"): ("/account", 302, LOGIN_REDIRECT),
    ("auth.account", "POST"): ("/account", 302, LOGIN_REDIRECT),
    ("auth.change_password", "POST"): ("/account/password", 302, LOGIN_REDIRECT),
    ("auth.change_email", "POST"): ("/account/email", 302, LOGIN_REDIRECT),
    # Only one's own account, with the password: tests/test_erasure.py.
    ("auth.delete_account", "GET"): ("/account/delete", 302, LOGIN_REDIRECT),
    ("auth.delete_account", "POST"): ("/account/delete", 302, LOGIN_REDIRECT),
    ("auth.open_email_link", "GET"): ("/e/not-a-real-token", 302, "/account/email/confirm"),
    ("auth.confirm_email", "GET"): ("/account/email/confirm", 404, None),  # no token
    ("auth.confirm_email", "POST"): ("/account/email/confirm", 404, None),
    ("auth.forgot_password", "GET"): ("/password/forgot", 200, None),
    ("auth.forgot_password", "POST"): ("/password/forgot", 200, None),  # no address: form again
    ("auth.open_reset_link", "GET"): ("/r/not-a-real-token", 302, "/password/new"),
    ("auth.new_password", "GET"): ("/password/new", 404, None),  # no token in the session
    ("auth.new_password", "POST"): ("/password/new", 404, None),
    ("circles.list_circles", "GET"): ("/circles", 302, LOGIN_REDIRECT),
    ("circles.new_circle", "GET"): ("/circles/new", 302, LOGIN_REDIRECT),
    ("circles.new_circle", "POST"): ("/circles/new", 302, LOGIN_REDIRECT),
    # Only my own commitments: test_my_commitments_are_only_my_own.
    ("plan.mine", "GET"): ("/me/commitments", 302, LOGIN_REDIRECT),
    ("invitations.open_link", "GET"): ("/i/not-a-real-token", 302, "/join"),
    ("invitations.join", "GET"): ("/join", 404, None),  # no invitation in the session
    ("invitations.join", "POST"): ("/join", 404, None),
    # Only the meetings I am invited to: test_my_meetings_are_only_my_own.
    ("meetings.mine", "GET"): ("/me/meetings", 302, LOGIN_REDIRECT),
    # Only my own news: tests/test_news.py tries to read, count and clear someone else's.
    ("news.index", "GET"): ("/notifications", 302, LOGIN_REDIRECT),
    ("news.mark_all_read", "POST"): ("/notifications/read", 302, LOGIN_REDIRECT),
    ("news.save_settings", "POST"): ("/account/news", 302, LOGIN_REDIRECT),
    ("meetings.calendar_settings", "GET"): ("/account/calendar", 302, LOGIN_REDIRECT),
    ("meetings.calendar_settings", "POST"): ("/account/calendar", 302, LOGIN_REDIRECT),
    # The secret feed: a token nobody has is a 404 (test_feed_token_revoked_or_invented...).
    ("meetings.feed", "GET"): ("/calendar/not-a-real-token.ics", 404, None),
    # Kring as an app: public files. Devices for push: only one's own (tests/test_webapp.py:
    # test_nobody_sees_or_removes_another_persons_device).
    ("webapp.manifest", "GET"): ("/manifest.webmanifest", 200, None),
    ("webapp.service_worker", "GET"): ("/sw.js", 200, None),
    ("webapp.add_device", "POST"): ("/account/devices", 302, LOGIN_REDIRECT),
    ("webapp.remove_device", "POST"): ("/account/devices/remove", 302, LOGIN_REDIRECT),
    # One-click unsubscribe: a token nobody signed is a 404 (test_notify_email.py:
    # test_a_token_cannot_be_changed_to_reach_someone_else, and the GET/POST tests).
    ("unsubscribe.confirm", "GET"): ("/email/stop/not-a-real-token", 404, None),
    ("unsubscribe.one_click", "POST"): ("/email/stop/not-a-real-token", 404, None),
    # Only ever my own data: there is no person in the URL (tests/test_export.py).
    ("export.account", "GET"): ("/account/export", 302, LOGIN_REDIRECT),
}

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield rule, method


def _circle_scoped(rule) -> bool:
    return "<int:circle_id>" in rule.rule


# --- The world each test runs in ---------------------------------------------------


@dataclass
class World:
    circle: Circle  # circle A, where everything is requested
    coordinator: Membership
    central: Membership
    target: Membership  # an ordinary member the managers act on, author of ``message``
    invitation: Invitation  # a pending invitation in circle A
    message: Message  # the target's chat message in circle A
    professional: Membership  # circle A's professional, who set ``condition``
    commitment: Commitment  # the target's, with a two-step checklist
    item: ChecklistItem  # its second step, not ticked yet
    agreement: Agreement
    condition: Condition
    completion: Completion | None  # the central person's tick of the first step (agreed)
    other: Circle  # circle B
    other_central: Membership
    other_member: Membership
    other_invitation: Invitation
    other_message: Message
    other_commitment: Commitment  # B's plan: the same shape, Member B's commitment
    other_agreement: Agreement
    other_condition: Condition  # set by the same professional (active in both circles)
    other_completion: Completion
    other_proposal: Proposal  # Member B's, open
    other_meeting: Meeting  # B's poll, organised by Central B, answered by Member B
    other_option: MeetingOption  # its first time
    helper: Membership  # "Helper A", the supporter of the target (issue 14)
    line: SupportLine  # their private line, with one message of the helper
    other_line: SupportLine  # B's: "Helper B", the supporter of Member B
    agreed: bool = True
    version_number: int = 2  # the newest version (1 agreed, 2 with the condition)
    proposal: Proposal | None = None  # the target's, open; made after the persona joined
    # The target's meetings, made after the persona joined (see ``_meetings``).
    meeting: Meeting | None = None  # a poll
    option: MeetingOption | None = None  # the poll's second time
    fixed_meeting: Meeting | None = None  # its date fixed by the target
    offline: Membership | None = None  # "Oma A", without internet (issue 14)


def _message(db, circle, author, client_id) -> Message:
    text = f"Said by {author.display_name}"
    payload, _new = chat_svc.send_message(ChatSeat.of(author), client_id, text)
    db.session.commit()
    return db.session.get(Message, payload["id"])


def _supporter_line(db, make_user, circle, member, name) -> tuple[Membership, SupportLine]:
    """``name`` invited as the supporter of ``member`` (by id) and joined: their private
    line, holding one message of the supporter's."""
    _inv, token = svc.invite(circle, None, name=name, role=Role.SUPPORTER, supports=member.id)
    helper = svc.redeem_invitation(token, make_user(name))
    db.session.flush()
    line = db.session.scalar(select(SupportLine).where(SupportLine.supporter_id == helper.id))
    lines_svc.send_message(line, helper, f"line-{helper.id:08}", f"Said by {name} only to you")
    db.session.commit()
    return helper, line


def _plan(db, circle, *, enterer, assignee, ticker, professional, agreed=True) -> dict:
    """A plan in ``circle``: a commitment for ``assignee`` with a two-step checklist, an
    agreement and ``professional``'s condition. Agreed: version 1 (``ticker`` and the
    assignee agreed), the condition makes version 2 and ``ticker`` ticks the first step.
    Either way the assignee has asked for help with it."""
    c = plan_data.add_commitment(
        circle,
        enterer,
        plan_svc.CommitmentData(
            what=f"Shopping for Sam ({circle.title})",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=30)),
            assignee_ids=[assignee.id],
            items=["Make the list", "Do the shopping"],
        ),
    )
    agreement = plan_data.add_agreement(circle, enterer, f"If Sam is ill ({circle.title})")
    if agreed:
        plan_svc.record_agreement(circle, enterer, [ticker.id, assignee.id])
    condition = plan_svc.add_condition(circle, professional, f"Sleeps at home ({circle.title})")
    completion = None
    if agreed:
        done = plan_svc.tick(circle, ticker, c, f"item:{c.items[0].id}")
        completion = db.session.get(Completion, done["completion_id"])
    plan_svc.request_help(circle, assignee, c)
    db.session.commit()
    return {
        "commitment": c,
        "item": c.items[1],
        "agreement": agreement,
        "condition": condition,
        "completion": completion,
    }


MEETING_TIMES = [datetime(2031, 6, 1, 17, 0, tzinfo=UTC), datetime(2031, 6, 2, 17, 0, tzinfo=UTC)]


def _meeting_of(circle, organiser, title, invite=()) -> Meeting:
    return meetings_svc.propose_meeting(
        circle,
        organiser,
        meetings_svc.MeetingData(
            title=title,
            purpose="Is the plan working?",
            place="At Gran's",
            video_link="",
            duration_minutes=90,
            options=MEETING_TIMES,
            invitee_ids=list(invite),
        ),
    )


@pytest.fixture
def world(request, app, db, make_circle, add_member, make_user) -> World:
    """Circle A and circle B with their plans; A's plan is agreed unless the test
    parametrises ``world`` with "draft" (indirect)."""
    # The matrix posts far more than a person would; the per-person allowance for
    # writes has its own tests (test_attack_review_b, test_chat_flood).
    app.config["WRITE_RATE_LIMIT"] = app.config["CHAT_SEND_RATE_LIMIT"] = "100000 per minute"
    agreed = getattr(request, "param", "agreed") == "agreed"
    circle, coordinator = make_circle("Circle A")
    central = add_member(circle, Role.CENTRAL, name="Central A")
    target = add_member(circle, Role.MEMBER, name="Target A")
    professional = add_member(circle, Role.PROFESSIONAL, name="Adviser")
    invitation, _ = svc.invite(circle, coordinator, name="Pending A", role=Role.MEMBER)
    other, other_coord = make_circle("Circle B")
    other_central = add_member(other, Role.CENTRAL, name="Central B")
    other_member = add_member(other, Role.MEMBER, name="Member B")
    other_professional = add_member(other, Role.PROFESSIONAL, user=professional.user)
    other_invitation, _ = svc.invite(other, None, name="Pending B", role=Role.MEMBER)
    db.session.commit()
    plan_a = _plan(
        db,
        circle,
        enterer=coordinator,
        assignee=target,
        ticker=central,
        professional=professional,
        agreed=agreed,
    )
    plan_b = _plan(
        db,
        other,
        enterer=other_coord,
        assignee=other_member,
        ticker=other_central,
        professional=other_professional,
    )
    other_proposal = plan_svc.propose(
        other, other_member, "add_agreement", payload={"text": "We call Gran first (Circle B)"}
    )
    # The target is in A's follow-up group: A's meetings are theirs (see ``_meetings``).
    svc.set_flags(circle, central, target, plan_keeper=False, followup=True)
    offline = offline_svc.add_offline_member(circle, central, name="Oma A", role="member")
    other_meeting = _meeting_of(
        other, other_central, "Follow-up (Circle B)", invite=[other_member.id]
    )
    meetings_svc.set_answers(other_meeting, other_member, {other_meeting.options[0].id: "yes"})
    db.session.commit()
    helper, line = _supporter_line(db, make_user, circle, target, "Helper A")
    _helper_b, other_line = _supporter_line(db, make_user, other, other_member, "Helper B")
    return World(
        circle=circle,
        coordinator=coordinator,
        central=central,
        target=target,
        invitation=invitation,
        message=_message(db, circle, target, "world-message-a"),
        professional=professional,
        **plan_a,
        other=other,
        other_central=other_central,
        other_member=other_member,
        other_invitation=other_invitation,
        other_message=_message(db, other, other_member, "world-message-b"),
        other_commitment=plan_b["commitment"],
        other_agreement=plan_b["agreement"],
        other_condition=plan_b["condition"],
        other_completion=plan_b["completion"],
        other_proposal=other_proposal,
        other_meeting=other_meeting,
        other_option=other_meeting.options[0],
        helper=helper,
        line=line,
        other_line=other_line,
        agreed=agreed,
        version_number=2 if agreed else 0,
        offline=offline,
    )


def _persona_user(persona: str, world: World, db, add_member):
    """The user to sign in as (None for anonymous), after setting up their history."""
    if persona == "anonymous":
        return None
    if persona == "outsider":
        return world.other_central.user
    if persona == "removed":
        m = add_member(world.circle, Role.MEMBER, name="Removed A")
        membership_svc.remove_member(world.circle, world.central, m)
        db.session.commit()
        return m.user
    if persona == "handed_over":
        svc.hand_over(world.circle, world.coordinator)
        db.session.commit()
        return world.coordinator.user
    if persona == "professional_chat":
        svc.set_professionals_read_chat(world.circle, world.central, True)
        db.session.commit()
        return add_member(world.circle, Role.PROFESSIONAL, name="Professional A").user
    if persona == "central":
        return world.central.user
    if persona == "coordinator":
        return world.coordinator.user
    return add_member(world.circle, Role(persona), name=f"{persona.title()} A").user


def _propose(world: World, db) -> None:
    """The target's open proposal, made now so that a persona who votes has a say in it."""
    if world.agreed and world.proposal is None:
        world.proposal = plan_svc.propose(
            world.circle,
            world.target,
            "add_agreement",
            payload={"text": "We call Gran first (Circle A)"},
        )
        db.session.commit()


def _meetings(world: World, db, user=None) -> None:
    """The target's two meetings in circle A, made now so that they can invite the member
    persona (``user``): a poll, and one whose date the target fixed. The central person
    is invited as every central person is, the target as organiser."""
    if world.meeting is not None:
        return
    invite = []
    if user is not None:
        invite = [
            db.session.scalar(
                select(Membership.id).where(
                    Membership.user_id == user.id, Membership.circle_id == world.circle.id
                )
            )
        ]
    world.meeting = _meeting_of(world.circle, world.target, "Check-in (Circle A)", invite)
    world.fixed_meeting = _meeting_of(world.circle, world.target, "Review (Circle A)", invite)
    db.session.flush()
    meetings_svc.fix_date(world.fixed_meeting, world.target, world.fixed_meeting.options[0].id)
    # It has begun: a review can be recorded only once the meeting has started.
    world.fixed_meeting.starts_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.commit()
    world.option = world.meeting.options[1]


@pytest.fixture
def as_persona(db, world, add_member, client, login):
    """Sign ``client`` in as the persona; return the CSRF token to post with."""

    def make(persona: str) -> str:
        user = _persona_user(persona, world, db, add_member)
        _propose(world, db)
        _meetings(world, db, user if persona == "member" else None)
        if user is None:
            return csrf_from(client.get("/login"))
        login(client, user)
        return csrf_from(client.get("/account"))

    return make


INNER_IDS = {  # a route's inner id -> the World attribute it defaults to
    "member_id": "target",
    "invitation_id": "invitation",
    "message_id": "message",
    "commitment_id": "commitment",
    "agreement_id": "agreement",
    "condition_id": "condition",
    "proposal_id": "proposal",
    "completion_id": "completion",
    "number": "version_number",  # a version of the circle in the URL, not a global id
    "meeting_id": "meeting",
    "line_id": "line",
}
# Routes whose person is the one without internet, not the target.
ON_OFFLINE_MEMBER = {"offline.proxies", "invitations.take_place"}
# Routes that act on the fixed meeting rather than the poll.
ON_FIXED_MEETING = {
    "meetings.show",
    "meetings.ics",
    "meetings.ics_details",
    "meetings.reschedule",
    "meetings.review",
}
# Routes that act on a supporter (the helper) rather than the target.
ON_SUPPORTER = {"circles.member_supports"}


def _path(app, endpoint: str, method: str, circle_id: int, world: World, **ids) -> str:
    """The URL of ``endpoint`` for ``circle_id``; inner ids default to circle A's objects."""
    rule = next(
        r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods
    )
    values = {"circle_id": circle_id, **QUERY.get(endpoint, {})}
    for arg in rule.arguments - {"circle_id"}:
        if arg in ids:
            values[arg] = ids[arg]
        elif arg in INNER_IDS:
            fixed = arg == "meeting_id" and endpoint in ON_FIXED_MEETING
            offline = arg == "member_id" and endpoint in ON_OFFLINE_MEMBER
            helper = arg == "member_id" and endpoint in ON_SUPPORTER
            name = (
                "fixed_meeting"
                if fixed
                else "offline"
                if offline
                else "helper"
                if helper
                else INNER_IDS[arg]
            )
            value = getattr(world, name)
            values[arg] = value if isinstance(value, int) else value.id
        else:
            pytest.fail(f"{endpoint}: no sample value for <{arg}>; add it to INNER_IDS")
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


def _form(endpoint: str, world: World) -> dict[str, str]:
    class Ids(dict):  # looked up only when a form uses it (a draft may lose its item)
        def __missing__(self, name):
            return FORM_IDS[name](world)

    return {
        key.format_map(Ids()): value.format_map(Ids())
        for key, value in POST_DATA.get(endpoint, {}).items()
    }


def _request(client, method: str, path: str, token: str, endpoint: str, world: World):
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token, **_form(endpoint, world)})


def _snapshot(db) -> tuple:
    """Everything a circle-scoped action could change, read straight from the database."""
    rows = lambda *cols: db.session.execute(select(*cols).order_by(cols[0])).all()  # noqa: E731
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (
        rows(
            Circle.id,
            Circle.title,
            Circle.question,
            Circle.language,
            Circle.timezone,
            Circle.professionals_read_chat,
            Circle.presence_enabled,
            Circle.handed_over_at,
        ),
        rows(
            Membership.id,
            Membership.status,
            Membership.role,
            Membership.is_plan_keeper,
            Membership.in_followup_group,
            Membership.replaces_membership_id,
            Membership.user_id,
            Membership.offline,
            Membership.supports_id,
        ),
        rows(membership_proxies.c.membership_id, membership_proxies.c.proxy_id),
        rows(Invitation.id, Invitation.token_hash, Invitation.revoked_at, Invitation.redeemed_at),
        rows(Message.id, Message.body, Message.edited_at, Message.deleted_at),
        rows(
            SupportLine.id,
            SupportLine.message_seq,
            SupportLine.supporter_read_seq,
            SupportLine.member_read_seq,
        ),
        rows(LineMessage.id, LineMessage.body, LineMessage.deleted_at),
        count(MessageRevision),
        count(CircleEvent),
        count(ReentryToken),
        rows(Plan.circle_id, Plan.version, Plan.evaluation_date),
        rows(
            Commitment.id,
            Commitment.what,
            Commitment.other_assignees,
            Commitment.active,
            Commitment.help_requested_at,
        ),
        count(commitment_assignees),
        count(ChecklistItem),
        rows(Completion.id, Completion.undone_at),
        rows(Agreement.id, Agreement.text, Agreement.active),
        rows(Condition.id, Condition.text, Condition.active),
        count(PlanVersion),
        rows(Proposal.id, Proposal.status),
        rows(ProposalVote.id, ProposalVote.answer, ProposalVote.answered_at),
        count(Acceptance),
        rows(Meeting.id, Meeting.title, Meeting.status, Meeting.starts_at, Meeting.sequence),
        count(MeetingOption),
        count(MeetingInvitee),
        rows(MeetingAnswer.id, MeetingAnswer.membership_id, MeetingAnswer.answer),
        count(MeetingReview),
        count(CommitmentReview),
        rows(
            CalendarFeed.id,
            CalendarFeed.token_hash,
            CalendarFeed.show_titles,
            CalendarFeed.revoked_at,
        ),
    )


def _missing_circle_id(world: World) -> int:
    return max(world.circle.id, world.other.id) + 1000


def _login_next(response) -> str:
    """The ``next`` of a redirect to the login page (asserting that it is one)."""
    assert response.status_code == 302
    loc = urlsplit(response.headers["Location"])
    assert loc.path == "/login", response.headers["Location"]
    return parse_qs(loc.query)["next"][0]


def _comparable_headers(app, response) -> list[tuple[str, object]]:
    """The headers, with the time taken out: no Date, and a refreshed session cookie
    compared by its decoded content and attributes, not its timestamped signature."""
    out = []
    for k, v in response.headers.items():
        if k.lower() == "date":
            continue
        if k.lower() == "set-cookie" and v.startswith(app.config["SESSION_COOKIE_NAME"] + "="):
            value, _, attrs = v.partition(";")
            serializer = app.session_interface.get_signing_serializer(app)
            content = serializer.loads(value.split("=", 1)[1])
            attrs = [a.strip() for a in attrs.split(";") if not a.strip().startswith("Expires=")]
            out.append((k, repr((sorted(content.items()), attrs))))
            continue
        out.append((k, v))
    return sorted(out)


def _without_csrf(response) -> str:
    """The page without its CSRF tokens (signed with the time): in forms, and on pages
    with live updates in a meta tag and a data attribute."""
    return re.sub(
        r'((?:name="csrf_token"[^>]*? value|name="csrf-token" content|data-csrf)=")'
        r'[^"]*"',
        r'\1"',
        response.get_data(as_text=True),
    )


def _ids(cases) -> list[str]:
    return ["-".join(c) for c in cases]


# --- Every route is classified -----------------------------------------------------


def test_every_circle_route_is_in_the_matrix(app):
    routes = {(r.endpoint, m) for r, m in _rules(app) if _circle_scoped(r)}
    missing = routes - MATRIX.keys()
    stale = MATRIX.keys() - routes
    assert not missing, f"circle-scoped routes missing from MATRIX: {sorted(missing)}"
    assert not stale, f"MATRIX lists routes that do not exist: {sorted(stale)}"
    for key, expected in MATRIX.items():
        assert set(expected) == set(PERSONAS), f"{key}: every persona needs an answer"
        assert all(expected[p] == HIDDEN for p in NO_ACCESS), key
        assert expected["anonymous"] == LOGIN, key


def test_every_other_route_is_classified(app):
    routes = {(r.endpoint, m) for r, m in _rules(app) if not _circle_scoped(r)}
    missing = routes - PUBLIC_ROUTES.keys()
    stale = PUBLIC_ROUTES.keys() - routes
    assert not missing, f"routes missing from PUBLIC_ROUTES: {sorted(missing)}"
    assert not stale, f"PUBLIC_ROUTES lists routes that do not exist: {sorted(stale)}"
    # No other door to circle data: a rule taking an object id is always circle-scoped.
    for rule, _m in _rules(app):
        if not _circle_scoped(rule):
            assert not any(a.endswith("_id") for a in rule.arguments), rule.rule


@pytest.mark.parametrize("endpoint,method", sorted(PUBLIC_ROUTES), ids=_ids(sorted(PUBLIC_ROUTES)))
def test_anonymous_on_top_level_routes(app, client, endpoint, method):
    path, status, location = PUBLIC_ROUTES[(endpoint, method)]
    matched, _args = app.url_map.bind("localhost").match(path, method=method)
    assert matched == endpoint, f"{path} is {matched}, not {endpoint}"
    token = csrf_from(client.get("/login"))
    data = {"csrf_token": token}
    if endpoint == "pages.set_language":
        data["language"] = "en"
    resp = client.get(path) if method == "GET" else client.post(path, data=data)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    if location == LOGIN_REDIRECT:
        assert _login_next(resp) == path
    elif location is not None:
        assert resp.headers["Location"] == location


# --- The matrix --------------------------------------------------------------------


def _check(app, db, client, world, token, persona, endpoint, method, expected) -> str | None:
    """Send the request as ``persona``; what went wrong, or None."""
    path = _path(app, endpoint, method, world.circle.id, world)
    before = _snapshot(db)
    resp = _request(client, method, path, token, endpoint, world)
    where = f"{method} {path} ({endpoint}) as {persona}"
    if resp.status_code != expected.status:
        return (
            f"{where}: got {resp.status_code}, want {expected!r}\n    "
            + resp.get_data(as_text=True)[:300]
        )
    location = urlsplit(resp.headers.get("Location", ""))
    if expected.login and (
        location.path != "/login" or parse_qs(location.query).get("next") != [path]
    ):
        return f"{where}: not the login page coming back here: {resp.headers['Location']}"
    if not expected.login and resp.status_code == 302 and location.path == "/login":
        return f"{where}: sent to the login page"
    changed = _snapshot(db) != before
    if changed != expected.changes:
        return f"{where} ({expected!r}): data {'changed' if changed else 'unchanged'}"
    return None


QUIET = {p: [k for k in sorted(MATRIX) if not MATRIX[k][p].changes] for p in PERSONAS}
ACTIONS = [(e, m, p) for (e, m) in sorted(MATRIX) for p in PERSONAS if MATRIX[(e, m)][p].changes]


@pytest.mark.parametrize("persona", PERSONAS)
def test_matrix(app, db, client, world, as_persona, persona):
    """Every request that must change nothing (pages, refusals), one after the other."""
    token = as_persona(persona)
    errors = [
        err
        for endpoint, method in QUIET[persona]
        if (
            err := _check(
                app,
                db,
                client,
                world,
                token,
                persona,
                endpoint,
                method,
                MATRIX[(endpoint, method)][persona],
            )
        )
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("endpoint,method,persona", ACTIONS, ids=_ids(ACTIONS))
def test_matrix_action(app, db, client, world, as_persona, endpoint, method, persona):
    """Every allowed action, each in a world of its own: it really happens."""
    token = as_persona(persona)
    err = _check(
        app,
        db,
        client,
        world,
        token,
        persona,
        endpoint,
        method,
        MATRIX[(endpoint, method)][persona],
    )
    assert err is None, err


@pytest.mark.parametrize("world", ["draft"], indirect=True)
@pytest.mark.parametrize(
    "persona", ["professional", "member", "supporter", "central", "coordinator"]
)
def test_plan_draft(app, db, client, world, as_persona, persona):
    """Before the plan is agreed only the coordinator and central persons enter it, and
    they change it directly (no proposals); members and supporters suggest (a proposal
    each, the draft unchanged); recording the agreement makes version 1."""
    token = as_persona(persona)
    errors = [
        err
        for endpoint, method in DRAFT_ROUTES
        if (
            err := _check(
                app,
                db,
                client,
                world,
                token,
                persona,
                endpoint,
                method,
                DRAFT_MATRIX[(endpoint, method)][persona],
            )
        )
    ]
    assert not errors, "\n".join(errors)
    suggested = DRAFT_SUGGESTIONS if persona in ("member", "supporter") else 0
    proposals = select(func.count()).select_from(Proposal)
    assert db.session.scalar(proposals) == 1 + suggested  # B's, and the suggestions
    plan = db.session.scalar(select(Plan).where(Plan.circle_id == world.circle.id))
    if persona in ("central", "coordinator"):
        assert plan.version == 1 and plan.evaluation_date == date(2031, 3, 1)
        assert not db.session.get(Commitment, world.commitment.id).active
        assert not db.session.get(Agreement, world.agreement.id).active
        version = db.session.scalar(
            select(PlanVersion).where(PlanVersion.circle_id == world.circle.id)
        )
        assert [c["what"] for c in version.snapshot["commitments"]] == ["Walk the dog on Sundays"]
    else:
        assert plan.version == 0 and plan.evaluation_date is None


def test_assignees_and_the_plan_keeper_tick(app, db, new_client, login, world, add_member):
    """Beyond the matrix (whose personas are nobody's assignee): the commitment's own
    person ticks and asks for help; a plain member may do neither until made plan keeper;
    only the assignees ask for help."""
    tick = _path(app, "plan.tick", "POST", world.circle.id, world)
    help_ = _path(app, "plan.help_flag", "POST", world.circle.id, world)
    step = {"occurrence": f"item:{world.item.id}"}

    def browser(membership):
        b = login(new_client(), membership.user)
        return b, csrf_from(b.get("/account"))

    def standing():
        return (
            db.session.execute(
                select(Completion.by_id).where(
                    Completion.commitment_id == world.commitment.id,
                    Completion.occurrence == step["occurrence"],
                    Completion.undone_at.is_(None),
                )
            )
            .scalars()
            .all()
        )

    keeper = add_member(world.circle, Role.MEMBER, name="Keeper A")
    b, t = browser(keeper)
    before = _snapshot(db)
    assert b.post(tick, data={"csrf_token": t, **step}).status_code == 403
    assert b.post(help_, data={"csrf_token": t, "clear": "1"}).status_code == 403
    assert b.post(help_, data={"csrf_token": t}).status_code == 302  # "only the assignees"
    assert _snapshot(db) == before

    a, ta = browser(world.target)
    assert a.post(help_, data={"csrf_token": ta, "clear": "1"}).status_code == 302
    assert db.session.get(Commitment, world.commitment.id).help_requested_at is None
    assert a.post(help_, data={"csrf_token": ta}).status_code == 302
    assert db.session.get(Commitment, world.commitment.id).help_requested_at is not None
    assert a.post(tick, data={"csrf_token": ta, **step}).status_code == 302
    assert standing() == [world.target.id]
    mine = db.session.scalar(select(Completion.id).where(Completion.by_id == world.target.id))
    undo = _path(app, "plan.undo", "POST", world.circle.id, world, completion_id=mine)
    assert b.post(undo, data={"csrf_token": t}).status_code == 302  # not the keeper's tick
    assert standing() == [world.target.id]
    assert a.post(undo, data={"csrf_token": ta}).status_code == 302
    assert standing() == []

    svc.set_flags(world.circle, world.central, keeper, plan_keeper=True, followup=False)
    db.session.commit()
    assert b.post(tick, data={"csrf_token": t, **step}).status_code == 302
    assert standing() == [keeper.id]


def test_my_commitments_are_only_my_own(app, db, new_client, login, world):
    """/me/commitments lists the commitments I am assigned to, in every circle where I
    am still active; nobody else's."""

    def page(membership) -> str:
        resp = login(new_client(), membership.user).get("/me/commitments")
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    a, b = "Shopping for Sam (Circle A)", "Shopping for Sam (Circle B)"
    assert a in page(world.target) and b not in page(world.target)
    assert b in page(world.other_member) and a not in page(world.other_member)
    for someone in (world.central, world.coordinator, world.professional, world.other_central):
        text = page(someone)
        assert a not in text and b not in text, someone.display_name
    # Someone who was removed no longer sees what they had taken on there.
    membership_svc.remove_member(world.circle, world.central, world.target)
    db.session.commit()
    assert a not in page(world.target)


# --- A circle that is not yours looks like one that does not exist -----------------


@pytest.mark.parametrize("persona", NO_ACCESS)
def test_not_yours_is_byte_identical_to_missing(app, db, client, world, as_persona, persona):
    token = as_persona(persona)
    before = _snapshot(db)
    for endpoint, method in sorted(MATRIX):
        existing = _path(app, endpoint, method, world.circle.id, world)
        missing = _path(app, endpoint, method, _missing_circle_id(world), world)

        a = _request(client, method, existing, token, endpoint, world)
        b = _request(client, method, missing, token, endpoint, world)

        assert a.status_code == b.status_code == 404, f"{method} {existing}"
        assert a.get_data() == b.get_data(), f"{method} {existing}"
        assert _comparable_headers(app, a) == _comparable_headers(app, b), f"{method} {existing}"
    assert _snapshot(db) == before


@pytest.mark.parametrize("persona", NO_ACCESS)
def test_head_is_as_hidden_as_get(app, client, world, as_persona, persona):
    as_persona(persona)
    for endpoint, method in sorted(MATRIX):
        if method == "GET":
            a = client.head(_path(app, endpoint, "HEAD", world.circle.id, world))
            b = client.head(_path(app, endpoint, "HEAD", _missing_circle_id(world), world))
            assert a.status_code == b.status_code == 404, endpoint
            assert _comparable_headers(app, a) == _comparable_headers(app, b), endpoint


def test_anonymous_redirect_is_the_same_for_missing_circles(app, client, world, as_persona):
    token = as_persona("anonymous")
    for endpoint, method in sorted(MATRIX):
        existing = _path(app, endpoint, method, world.circle.id, world)
        missing = _path(app, endpoint, method, _missing_circle_id(world), world)

        a = _request(client, method, existing, token, endpoint, world)
        b = _request(client, method, missing, token, endpoint, world)

        assert _login_next(a) == existing
        assert _login_next(b) == missing
        # The only difference is the circle id inside ``next``.
        swap = (str(_missing_circle_id(world)), str(world.circle.id))
        assert a.headers["Location"] == b.headers["Location"].replace(*swap), existing
        assert a.get_data(as_text=True) == b.get_data(as_text=True).replace(*swap), existing


# --- Ids from another circle under your own circle's URL ---------------------------

FOREIGN_ID_ROUTES = sorted(
    (e, m)
    for (e, m) in MATRIX
    if e
    in {
        "circles.remove_member",
        "circles.member_flags",
        "circles.member_supports",
        "circles.sheet",
        "invitations.reentry",
        "invitations.take_place",
        "offline.proxies",
        "invitations.reissue",
        "invitations.revoke",
        "chat.edit",
        "chat.delete",
        "chat.versions",
        "lines.show",
        "lines.send",
        "plan.history",
        "plan.edit_commitment",
        "plan.remove_commitment",
        "plan.tick",
        "plan.help_flag",
        "plan.edit_agreement",
        "plan.remove_agreement",
        "plan.undo",
        "plan.answer",
        "plan.withdraw",
        "plan.remove_condition",
        "meetings.show",
        "meetings.answers",
        "meetings.fix",
        "meetings.reschedule",
        "meetings.cancel",
        "meetings.ics",
        "meetings.ics_details",
        "meetings.review",
    }
)
# A version number counts the versions of the circle in the URL: /c/A/plan/versions/1 is
# always A's first version, so there is no other circle's number to try.
PER_CIRCLE_NUMBERS = {("plan.version", "GET")}


def test_foreign_id_routes_cover_every_route_with_an_inner_id(app):
    with_ids = {
        (r.endpoint, m) for r, m in _rules(app) if _circle_scoped(r) and r.arguments - {"circle_id"}
    }
    assert with_ids == set(FOREIGN_ID_ROUTES) | PER_CIRCLE_NUMBERS


@pytest.mark.parametrize("actor", ["central", "coordinator", "professional_in_both"])
def test_ids_from_another_circle_are_not_found(app, db, client, login, world, as_persona, actor):
    """Someone of circle A uses circle B's member, invitation, message, commitment,
    agreement, condition, proposal, tick or meeting id under /c/A/...: 404, the same page
    as for an id that does not exist, and B is untouched. ``professional_in_both`` is
    active in both circles (and set B's condition)."""
    if actor == "professional_in_both":
        as_persona("anonymous")  # the world as every test has it (A's open proposal)
        login(client, world.professional.user)
        token = csrf_from(client.get("/account"))
    else:
        token = as_persona(actor)
    foreign = {
        "member_id": world.other_member.id,
        "invitation_id": world.other_invitation.id,
        "message_id": world.other_message.id,
        "commitment_id": world.other_commitment.id,
        "agreement_id": world.other_agreement.id,
        "condition_id": world.other_condition.id,
        "proposal_id": world.other_proposal.id,
        "completion_id": world.other_completion.id,
        "meeting_id": world.other_meeting.id,
        "line_id": world.other_line.id,
    }
    nowhere = {k: 10_000_000 for k in foreign}
    before = _snapshot(db)

    for endpoint, method in FOREIGN_ID_ROUTES:
        where = f"{method} {endpoint} as {actor}"
        there = _path(app, endpoint, method, world.circle.id, world, **foreign)
        nothing = _path(app, endpoint, method, world.circle.id, world, **nowhere)
        a = _request(client, method, there, token, endpoint, world)
        b = _request(client, method, nothing, token, endpoint, world)
        # Routes a professional may not use at all (chat closed, managing people) may refuse
        # before looking at the id: 403 whatever the id, which tells nothing either.
        refused = actor == "professional_in_both" and not endpoint.startswith("plan.")
        status = b.status_code if refused and b.status_code == 403 else 404
        assert a.status_code == b.status_code == status, where
        # (A 403 page has the language switcher: a link back to its own URL, and a CSRF
        # token, signed with the time.)
        assert _without_csrf(a) == _without_csrf(b).replace(nothing, there), where
        assert b"Said by Member B" not in a.get_data(), where
        assert b"Said by Helper" not in a.get_data(), where
        assert b"(Circle B)" not in a.get_data(), where
        assert _snapshot(db) == before, where
    # A version number that circle A does not have: the same 404.
    a = client.get(_path(app, "plan.version", "GET", world.circle.id, world, number=99))
    b = client.get(_path(app, "plan.history", "GET", world.circle.id, world, **nowhere))
    assert a.status_code == b.status_code == 404 and a.get_data() == b.get_data()

    member = db.session.get(Membership, world.other_member.id)
    assert member.status == MembershipStatus.ACTIVE
    assert not member.is_plan_keeper and not member.in_followup_group
    assert db.session.get(Invitation, world.other_invitation.id).revoked_at is None
    assert db.session.get(Message, world.other_message.id).deleted_at is None
    commitment = db.session.get(Commitment, world.other_commitment.id)
    assert commitment.active and commitment.help_requested_at is not None
    assert db.session.get(Agreement, world.other_agreement.id).active
    assert db.session.get(Condition, world.other_condition.id).active
    assert db.session.get(Completion, world.other_completion.id).undone_at is None
    proposal = db.session.get(Proposal, world.other_proposal.id)
    assert proposal.status == ProposalStatus.OPEN
    assert [v.answer for v in sorted(proposal.votes, key=lambda v: v.membership_id)] == [
        None,
        "consent",
    ]  # Central B has not answered; Member B proposed
    _assert_meeting_b_untouched(db, world)


def _assert_meeting_b_untouched(db, world: World) -> None:
    meeting = db.session.get(Meeting, world.other_meeting.id)
    assert (meeting.status, meeting.starts_at, meeting.sequence) == ("poll", None, 0)
    assert db.session.execute(
        select(MeetingAnswer.membership_id, MeetingAnswer.option_id, MeetingAnswer.answer)
    ).all() == [(world.other_member.id, world.other_option.id, "yes")]
    assert db.session.scalar(select(func.count()).select_from(MeetingReview)) == 0


def test_meeting_form_ids_from_another_circle_change_nothing_there(
    app, db, client, world, as_persona
):
    """Ids of circle B carried in a form to circle A's meeting routes: B's option to fix
    A's poll or to answer it, B's people as those present at A's review. Each answers
    exactly as an id that does not exist would, and B is untouched. (Fixing with a time
    that is not one of the poll's is not a 404 but the poll again, saying "Please choose
    one of the times", the same for both.)"""
    token = as_persona("central")
    base = f"/c/{world.circle.id}/meetings"
    cases = [  # (path, form with B's id, form with an id nobody has)
        (
            f"{base}/{world.meeting.id}/fix",
            {"option": world.other_option.id},
            {"option": 10_000_000},
        ),
        (
            f"{base}/{world.meeting.id}/answers",
            {f"answer-{world.other_option.id}": "no"},
            {"answer-10000000": "no"},
        ),
        (
            f"{base}/{world.fixed_meeting.id}/review",
            {"present": world.other_central.id, f"decide-{world.other_proposal.id}": "accept"},
            {"present": 10_000_000, "decide-10000000": "accept"},
        ),
    ]
    before = _snapshot(db)
    for path, theirs, nobodys in cases:
        a = client.post(path, data={"csrf_token": token, **theirs})
        page_a = client.get(a.headers["Location"])
        b = client.post(path, data={"csrf_token": token, **nobodys})
        page_b = client.get(b.headers["Location"])
        assert a.status_code == b.status_code == 302, path
        assert a.headers["Location"] == b.headers["Location"], path
        assert page_a.status_code == page_b.status_code == 200, path
        assert _without_csrf(page_a) == _without_csrf(page_b), path
        assert b"(Circle B)" not in page_a.get_data(), path
        assert _snapshot(db) == before, path
    # Inviting B's member to a new meeting of A: the meeting is made, without them.
    resp = client.post(
        f"{base}/new",
        data={"csrf_token": token, **POST_DATA["meetings.new"], "invitees": world.other_member.id},
    )
    assert resp.status_code == 302
    made = db.session.scalar(select(Meeting).where(Meeting.title == "Check-in (matrix)"))
    assert made.circle_id == world.circle.id
    assert world.other_member.id not in {i.membership_id for i in made.invitees}
    _assert_meeting_b_untouched(db, world)
    proposal = db.session.get(Proposal, world.other_proposal.id)
    assert proposal.status == ProposalStatus.OPEN


def test_meeting_flags_beyond_the_matrix(app, db, new_client, login, world, as_persona, add_member):
    """The flags the personas do not have. The organiser (the target, in the follow-up
    group) manages their own meetings. Someone put in the follow-up group or made plan
    keeper later may propose meetings but not manage another's; the plan keeper may
    record the review; neither answers a poll they were not invited to."""
    as_persona("anonymous")  # the world as every test has it (the meetings made)

    def browser(membership):
        b = login(new_client(), membership.user)
        return b, csrf_from(b.get("/account"))

    base = f"/c/{world.circle.id}/meetings"
    poll, fixed = f"{base}/{world.meeting.id}", f"{base}/{world.fixed_meeting.id}"
    followup = add_member(world.circle, Role.MEMBER, name="Followup A")
    keeper = add_member(world.circle, Role.SUPPORTER, name="Keeper A")
    svc.set_flags(world.circle, world.central, followup, plan_keeper=False, followup=True)
    svc.set_flags(world.circle, world.central, keeper, plan_keeper=True, followup=False)
    db.session.commit()
    review = {"present": world.central.id}
    before = _snapshot(db)
    for someone in (followup, keeper):
        b, t = browser(someone)
        assert b.get(f"{base}/new").status_code == 200, someone.display_name
        for path, data in (
            (f"{poll}/fix", {"option": world.option.id}),
            (f"{poll}/cancel", {}),
            (f"{poll}/answers", {f"answer-{world.option.id}": "yes"}),
            (f"{fixed}/reschedule", {"starts_at": "2031-07-01T19:00"}),
        ):
            assert b.post(path, data={"csrf_token": t, **data}).status_code == 403, path
        if someone is followup:
            assert b.post(f"{fixed}/review", data={"csrf_token": t, **review}).status_code == 403
        assert _snapshot(db) == before, someone.display_name
    assert b.post(f"{fixed}/review", data={"csrf_token": t, **review}).status_code == 302
    assert db.session.scalar(select(MeetingReview.recorded_by_id)) == keeper.id

    a, ta = browser(world.target)
    assert (
        a.post(
            f"{poll}/answers", data={"csrf_token": ta, f"answer-{world.option.id}": "maybe"}
        ).status_code
        == 302
    )
    assert (
        a.post(f"{poll}/fix", data={"csrf_token": ta, "option": world.option.id}).status_code == 302
    )
    meeting = db.session.get(Meeting, world.meeting.id)
    assert meeting.status == "fixed" and meeting.starts_at == world.option.starts_at
    assert a.post(f"{poll}/cancel", data={"csrf_token": ta}).status_code == 302
    assert db.session.get(Meeting, world.meeting.id).status == "cancelled"


def test_my_meetings_are_only_my_own(app, db, new_client, login, world, as_persona):
    """/me/meetings lists the meetings I am invited to, in every circle where I am still
    active; nobody else's."""
    as_persona("anonymous")  # the world as every test has it (the meetings made)

    def page(membership) -> str:
        resp = login(new_client(), membership.user).get("/me/meetings")
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    a, b = "(Circle A)", "(Circle B)"
    for invited in (world.target, world.central):
        text = page(invited)
        assert "Check-in (Circle A)" in text and "Review (Circle A)" in text
        assert b not in text, invited.display_name
    assert "Follow-up (Circle B)" in page(world.other_member)
    assert a not in page(world.other_member)
    for someone in (world.coordinator, world.professional):  # in A, not invited
        text = page(someone)
        assert a not in text and b not in text, someone.display_name
    membership_svc.remove_member(world.circle, world.central, world.target)
    db.session.commit()
    assert a not in page(world.target)


def test_feed_token_revoked_or_invented_is_the_same_404(
    app, db, client, new_client, world, as_persona
):
    """A calendar link that was replaced or stopped answers exactly like a token nobody
    ever had: the same 404, byte for byte. While it works it holds only the meetings its
    owner is invited to."""
    token = as_persona("central")

    def settings(action: str):
        resp = client.post("/account/calendar", data={"csrf_token": token, "action": action})
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    def link(action: str) -> str:
        found = re.search(r"http://localhost(/calendar/[A-Za-z0-9_-]{43}\.ics)", settings(action))
        assert found, "no calendar link on the page"
        return found.group(1)

    anon = new_client()
    first = link("renew")
    feed = anon.get(first)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert world.fixed_meeting.uid in feed.get_data(as_text=True)  # Central A is invited
    assert world.other_meeting.uid not in feed.get_data(as_text=True)
    second = link("renew")  # a new link: the first stops working
    assert anon.get(second).status_code == 200
    settings("revoke")
    invented = f"/calendar/{secrets.token_urlsafe(32)}.ics"
    before = _snapshot(db)
    for gone in (first, second):
        a, b = anon.get(gone), anon.get(invented)
        assert a.status_code == b.status_code == 404, gone
        assert a.get_data() == b.get_data(), gone
        # (Only the rate limit's remaining count, per address, goes down between the two.)
        drop = ("x-ratelimit-remaining", "x-ratelimit-reset", "retry-after")
        assert [h for h in _comparable_headers(app, a) if h[0].lower() not in drop] == [
            h for h in _comparable_headers(app, b) if h[0].lower() not in drop
        ], gone
    assert _snapshot(db) == before


# --- Sockets -----------------------------------------------------------------------
#
# Socket events are classified per namespace. For each, the answer per persona:
# "accepted"/"refused" for connect, else the ack's outcome: "ok" or the error code.
# Anonymous sockets are refused at connect, so they never reach an event ("refused").

REFUSED = "refused"


def _socket_row(
    *,
    professional,
    member,
    supporter,
    central,
    coordinator,
    professional_chat=None,
    no_access="not_found",
) -> dict[str, str]:
    return {
        "anonymous": REFUSED,
        "outsider": no_access,
        "removed": no_access,
        "handed_over": no_access,
        "professional": professional,
        "professional_chat": professional if professional_chat is None else professional_chat,
        "member": member,
        "supporter": supporter,
        "central": central,
        "coordinator": coordinator,
    }


def _socket_chat(ok: str = "ok", *, central: str | None = None) -> dict[str, str]:
    return _socket_row(
        professional="forbidden",
        professional_chat=ok,
        member=ok,
        supporter=ok,
        central=central or ok,
        coordinator=ok,
    )


def _everyone_signed_in(answer: str) -> dict[str, str]:
    return _socket_row(
        professional=answer,
        member=answer,
        supporter=answer,
        central=answer,
        coordinator=answer,
        no_access=answer,
    )


_NOBODY = {
    p: "not_found" for p in ("professional", "member", "supporter", "central", "coordinator")
}

# Not an event a client sends: Socket.IO calls it when a socket goes away. It only
# forgets that socket's own state (see test_socket_disconnect_event_touches_only_itself).
SERVER_ONLY = "server-only"

SOCKET_MATRIX: dict[str, dict[str, dict[str, str] | str]] = {
    "/": {
        # Connect carries no circle: it only joins the socket's user and login-session
        # rooms, so any signed-in person (with the page's CSRF token) is accepted.
        "connect": {"anonymous": REFUSED, **{p: "accepted" for p in PERSONAS if p != "anonymous"}},
        "disconnect": SERVER_ONLY,
        "*": _everyone_signed_in("unknown_event"),
        "chat:join": _socket_chat(),
        # Leaving a room needs no access: the answer is the same for every circle id.
        "chat:leave": _everyone_signed_in("ok"),
        "chat:send": _socket_chat(),
        "chat:edit": _socket_chat("invalid"),  # the target's message: not theirs to edit
        "chat:delete": _socket_chat("invalid", central="ok"),
        "chat:history": _socket_chat(),
        "chat:read": _socket_chat(),
        # Everyone in the circle follows the plan live, professionals included (but that
        # must not open the chat to them: test_plan_join_does_not_open_the_chat).
        "plan:join": _socket_row(
            professional="ok", member="ok", supporter="ok", central="ok", coordinator="ok"
        ),
        # The private line of "Helper A" and the target (issue 14): no persona is one of
        # the two, so every one gets what a missing line gets.
        "line:join": _socket_row(**_NOBODY),
        "line:leave": _everyone_signed_in("ok"),  # as chat:leave: needs no access
        "line:send": _socket_row(**_NOBODY),
        "line:history": _socket_row(**_NOBODY),
        "line:read": _socket_row(**_NOBODY),
        # One's own unread count; the payload names nobody (tests/test_news.py).
        "news:count": _everyone_signed_in("ok"),
    },
}

# What each event is sent with (``{circle}`` / ``{message}`` filled in per test).
SOCKET_PAYLOADS: dict[str, dict] = {
    "*": {"circle_id": "{circle}"},
    "chat:join": {"circle_id": "{circle}"},
    "chat:leave": {"circle_id": "{circle}"},
    "chat:send": {"circle_id": "{circle}", "client_id": "matrix-socket-0001", "body": "Hi"},
    "chat:edit": {"circle_id": "{circle}", "message_id": "{message}", "body": "Changed"},
    "chat:delete": {"circle_id": "{circle}", "message_id": "{message}"},
    "chat:history": {"circle_id": "{circle}", "before_seq": 2},
    "chat:read": {"circle_id": "{circle}", "seq": 1},
    "line:join": {"circle_id": "{circle}", "line_id": "{line}"},
    "line:leave": {"circle_id": "{circle}", "line_id": "{line}"},
    "line:send": {
        "circle_id": "{circle}",
        "line_id": "{line}",
        "client_id": "matrix-socket-0002",
        "body": "Hi",
    },
    "line:history": {"circle_id": "{circle}", "line_id": "{line}", "before_seq": 2},
    "line:read": {"circle_id": "{circle}", "line_id": "{line}", "seq": 1},
    "plan:join": {"circle_id": "{circle}"},
    "news:count": {"circle_id": "{circle}"},
}
SOCKET_CHANGES = {"chat:send", "chat:delete"}  # an "ok" here must change the database


def _fill(payload: dict, circle_id: int, message_id: int, line_id: int | None = None) -> dict:
    values = {"{circle}": circle_id, "{message}": message_id, "{line}": line_id}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}


def _event_name(event: str) -> str:
    return "matrix:no-such-event" if event == "*" else event


def test_every_socket_event_is_in_the_matrix(app):
    server = socketio.server
    registered = {ns: set(events) for ns, events in server.handlers.items()}
    listed = {ns: set(events) for ns, events in SOCKET_MATRIX.items()}
    assert registered == listed, "socket events and SOCKET_MATRIX differ"
    assert not server.namespace_handlers, "class-based namespaces are not in SOCKET_MATRIX"
    for ns, events in SOCKET_MATRIX.items():
        for event, expected in events.items():
            if expected == SERVER_ONLY:
                continue
            assert set(expected) == set(PERSONAS), f"{ns} {event}: every persona needs an answer"
            if event != "connect":
                assert event in SOCKET_PAYLOADS, f"{event}: add a payload to SOCKET_PAYLOADS"


class _Socket:
    """A Socket.IO test client on ``client``'s cookies. Each call runs in its own app
    context, like a real server: the handlers commit or remove their own db session."""

    def __init__(self, app, db, client, auth):
        self.app, self.db = app, db
        db.session.commit()
        with app.app_context():
            self.sc = socketio.test_client(app, flask_test_client=client, auth=auth)
        db.session.rollback()

    @property
    def connected(self) -> bool:
        return self.sc.is_connected()

    def rooms(self) -> set[str]:
        manager = socketio.server.manager
        sid = manager.sid_from_eio_sid(self.sc.eio_sid, "/")
        return set(manager.get_rooms(sid, "/")) - {sid}

    def emit(self, event: str, *args):
        self.db.session.commit()
        with self.app.app_context():
            ack = self.sc.emit(event, *args, callback=True)
        self.db.session.rollback()
        return ack

    def received(self) -> list[dict]:
        """What the server sent this socket since the last call (not acks)."""
        with self.app.app_context():
            return self.sc.get_received()

    def close(self):
        if self.sc.is_connected():
            with self.app.app_context():
                self.sc.disconnect()


@pytest.fixture
def open_socket(app, db):
    opened = []

    def open_(client, token):
        sock = _Socket(app, db, client, {"csrf": token} if token else None)
        opened.append(sock)
        return sock

    yield open_
    for sock in opened:
        sock.close()


def _outcome(ack) -> str:
    assert isinstance(ack, dict), ack
    return "ok" if ack.get("ok") else ack["error"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_socket_connect(client, world, as_persona, open_socket, persona):
    sock = open_socket(client, as_persona(persona))
    assert ("accepted" if sock.connected else REFUSED) == SOCKET_MATRIX["/"]["connect"][persona]
    if sock.connected:
        # Connecting joins no circle, only the rooms the server uses to reach this
        # person's sockets (to disconnect them on logout, removal, password change).
        rooms = sock.rooms()
        assert rooms and all(r.startswith(("user:", "login:")) for r in rooms), rooms


def test_socket_connect_needs_the_csrf_token(client, world, as_persona, open_socket):
    """A signed-in browser tricked into opening a socket from another page has the
    cookie but not the page's token: refused."""
    token = as_persona("member")
    assert not open_socket(client, None).connected
    assert not open_socket(client, token[:-2] + "xx").connected
    assert open_socket(client, token).connected


def test_socket_connect_refused_with_a_signed_out_cookie(
    client, new_client, world, as_persona, open_socket
):
    """A copy of the session cookie stops opening sockets once its owner signs out."""
    token = as_persona("member")
    stolen = new_client()
    stolen.set_cookie("kring_session", client.get_cookie("kring_session").value)
    assert open_socket(stolen, token).connected
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not open_socket(stolen, token).connected


# Every event but connect, in SOCKET_MATRIX's order: each persona sends them one after
# the other on one socket (chat:delete, which removes the target's message, comes after
# chat:edit, which must refuse to change it).
SOCKET_EVENTS = [
    event
    for event, expected in SOCKET_MATRIX["/"].items()
    if event != "connect" and expected != SERVER_ONLY
]


def _refill(sock) -> None:
    """A full per-socket token bucket (tests/test_security_ratelimit.py tests the limit)."""
    sid = socketio.server.manager.sid_from_eio_sid(sock.sc.eio_sid, "/")
    bucket = SOCKETS[sid].bucket
    bucket.tokens = bucket.burst


@pytest.mark.parametrize("persona", PERSONAS)
def test_socket_event(db, client, world, as_persona, open_socket, persona):
    sock = open_socket(client, as_persona(persona))
    if persona == "anonymous":
        assert {SOCKET_MATRIX["/"][e][persona] for e in SOCKET_EVENTS} == {REFUSED}
        assert not sock.connected
        return
    assert sock.connected
    errors = []
    for event in SOCKET_EVENTS:
        expected = SOCKET_MATRIX["/"][event][persona]
        before = _snapshot(db)
        ack = sock.emit(
            _event_name(event),
            _fill(SOCKET_PAYLOADS[event], world.circle.id, world.message.id, world.line.id),
        )
        changed = _snapshot(db) != before
        if _outcome(ack) != expected:
            errors.append(f"{event} as {persona}: {ack}, want {expected}")
        elif changed != (expected == "ok" and event in SOCKET_CHANGES):
            errors.append(f"{event} as {persona}: data {'changed' if changed else 'unchanged'}")
        elif expected != "ok" and "Said by Target A" in str(ack):
            errors.append(f"{event} as {persona}: refused, but shows the message: {ack}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("persona", NO_ACCESS)
def test_socket_not_yours_is_identical_to_missing(
    db, client, world, as_persona, open_socket, persona
):
    sock = open_socket(client, as_persona(persona))
    before = _snapshot(db)
    for event in SOCKET_EVENTS:
        payload = SOCKET_PAYLOADS[event]
        _refill(sock)  # two events each, quicker than a person: not the rate limit's test
        a = sock.emit(
            _event_name(event), _fill(payload, world.circle.id, world.message.id, world.line.id)
        )
        b = sock.emit(
            _event_name(event),
            _fill(payload, _missing_circle_id(world), world.message.id, world.line.id),
        )
        assert a == b, event
    assert _snapshot(db) == before
    assert not any(r.startswith(("circle:", "plan:")) for r in sock.rooms())


@pytest.mark.parametrize("event", ["chat:edit", "chat:delete"])
def test_socket_message_ids_from_another_circle_are_not_found(
    db, client, world, as_persona, open_socket, event
):
    sock = open_socket(client, as_persona("central"))
    before = _snapshot(db)
    a = sock.emit(event, _fill(SOCKET_PAYLOADS[event], world.circle.id, world.other_message.id))
    b = sock.emit(event, _fill(SOCKET_PAYLOADS[event], world.circle.id, 10_000_000))
    assert a == b == {"ok": False, "error": "not_found"}
    assert _snapshot(db) == before


def test_plan_join_does_not_open_the_chat(
    app, db, client, new_client, login, world, as_persona, open_socket
):
    """A professional may follow the plan live while the chat is closed to them; joining
    the plan must not bring them the chat's messages or who is in the chat."""
    chat_svc.set_presence_enabled(world.circle, world.central, True)
    db.session.commit()
    pro = open_socket(client, as_persona("professional"))
    assert pro.emit("chat:join", {"circle_id": world.circle.id}) == {
        "ok": False,
        "error": "forbidden",
    }
    assert pro.emit("plan:join", {"circle_id": world.circle.id}) == {"ok": True}
    pro.received()

    family = login(new_client(), world.target.user)
    target = open_socket(family, csrf_from(family.get("/account")))
    assert target.emit("chat:join", {"circle_id": world.circle.id})["ok"]
    assert target.emit(
        "chat:send",
        {"circle_id": world.circle.id, "client_id": "leak-0001", "body": "Only for the family"},
    )["ok"]
    plan_svc.tick(world.circle, world.central, world.commitment, f"item:{world.item.id}")
    db.session.commit()

    got = pro.received()
    assert [e["name"] for e in got] == ["plan:event"], got
    assert "Only for the family" not in str(got) and "Target A" not in str(got)


def test_socket_disconnect_sent_by_a_client_is_ignored(
    client, new_client, login, world, as_persona, open_socket
):
    """A client may emit an event named "disconnect" itself; it must not reach the
    disconnect handler (which would drop the socket's state while it stays open)."""
    mine = open_socket(client, as_persona("member"))
    other_client = login(new_client(), world.central.user)
    theirs = open_socket(other_client, csrf_from(other_client.get("/account")))
    join = {"circle_id": world.circle.id}
    assert theirs.emit("chat:join", join)["ok"]
    mine.emit("disconnect", "forged")
    assert mine.connected and mine.emit("chat:join", join)["ok"]
    assert theirs.emit("chat:join", join)["ok"]


def test_socket_connect_sent_by_a_client_does_not_refill_its_rate_limit(
    client, world, as_persona, open_socket
):
    """Re-running the connect handler as an event (with a valid token as its "auth")
    used to give the socket a fresh rate-limit bucket: unlimited sends."""
    token = as_persona("member")
    sock = open_socket(client, token)
    read = {"circle_id": world.circle.id, "seq": 0}
    for _ in range(200):
        if sock.emit("chat:read", read).get("error") == "rate_limited":
            break
    else:
        pytest.fail("never rate limited")
    sid = socketio.server.manager.sid_from_eio_sid(sock.sc.eio_sid, "/")
    state = SOCKETS[sid]
    assert sock.emit("connect", "forged-environ", {"csrf": token}) is False
    assert SOCKETS[sid] is state
    allowed = 0
    while sock.emit("chat:read", read).get("ok") and allowed < 40:
        allowed += 1
    assert allowed < 20  # only what trickled back in meanwhile, not a fresh burst


@pytest.mark.parametrize("persona", PERSONAS)
def test_acting_for_someone_beyond_the_matrix(db, client, world, as_persona, persona):
    """Issue 14: "Oma A" (without internet) named the central person to answer for her.
    Only they may consent in her name; everyone else gets what the matrix gives a
    refusal (the one 404 outside the circle, 403 inside), and nothing changes. Nobody
    may tick for the target, who named nobody."""
    membership_svc.set_proxies(world.circle, world.central, world.offline, [world.central.id])
    db.session.commit()
    token = as_persona(persona)
    before = _snapshot(db)
    r = client.post(
        f"/c/{world.circle.id}/plan/proposals/{world.proposal.id}/answer",
        data={"csrf_token": token, "answer": "consent", "for_member": str(world.offline.id)},
    )
    expected = {"anonymous": 302, "outsider": 404, "removed": 404, "handed_over": 404}
    assert r.status_code == expected.get(persona, 302 if persona == "central" else 403)
    if persona == "anonymous":
        assert _login_next(r)
    vote = db.session.scalar(
        select(ProposalVote).where(
            ProposalVote.proposal_id == world.proposal.id,
            ProposalVote.membership_id == world.offline.id,
        )
    )
    if persona == "central":
        assert (vote.answer, vote.acted_by_id) == ("consent", world.central.id)
        tick = client.post(
            f"/c/{world.circle.id}/plan/commitments/{world.commitment.id}/tick",
            data={
                "csrf_token": token,
                "occurrence": f"item:{world.item.id}",
                "for_member": str(world.target.id),
            },
        )
        assert tick.status_code == 403
    else:
        assert vote.answer is None
        assert _snapshot(db) == before
