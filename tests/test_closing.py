# ruff: noqa: F811 (the access matrix's fixtures, imported)
"""Closing a circle (issue 13): a central person closes it, everyone is told, it is
read-only over HTTP and the socket until reopened, and the purge run deletes its
content for good after the retention period. Idle circles ask first, then close.
The clock is moved by passing ``now``; nothing sleeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from portal import purge
from portal.models import (
    AccessLogEntry,
    Circle,
    CircleEvent,
    Commitment,
    Completion,
    Condition,
    Invitation,
    Meeting,
    MeetingOption,
    Membership,
    MembershipStatus,
    Message,
    MessageRevision,
    Notification,
    OutboxMail,
    Plan,
    PlanVersion,
    Proposal,
    ProposalVote,
    Role,
)
from portal.models.plan import commitment_assignees
from portal.services import chat as chat_svc
from portal.services import closing
from portal.services import plan as plan_svc
from tests.conftest import csrf_from
from tests.test_access_matrix import (  # noqa: F401 (fixtures)
    MATRIX,
    _form,
    _path,
    _snapshot,
    as_persona,
    world,
)

CLOSED_PAGE = "This circle is closed"
# POSTs a closed circle still takes (``@views.open_when_closed``).
OPEN_WHEN_CLOSED = {"circles.leave", "circles.reopen"}


def _close(db, circle, central):
    closing.close_circle(circle, central)
    db.session.commit()


def _post(client, path, token, data=None):
    return client.post(path, data={"csrf_token": token, **(data or {})})


# --- Closing and reopening --------------------------------------------------------------


def test_a_central_person_closes_everyone_is_told_and_may_reopen(
    app, db, client, make_circle, add_member, login
):
    circle, coordinator = make_circle()
    central = add_member(circle, Role.CENTRAL, name="Mira")
    member = add_member(circle, Role.MEMBER, name="Joe")
    pro = add_member(circle, Role.PROFESSIONAL, name="Ellen")
    login(client, central.user)
    page = client.get(f"/c/{circle.id}/close")
    assert page.status_code == 200
    assert "deleted for good" in page.get_data(as_text=True)
    resp = _post(client, f"/c/{circle.id}/close", csrf_from(page))
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Circle, circle.id).closed_at is not None
    told = db.session.scalars(
        select(Notification.user_id).where(
            Notification.circle_id == circle.id, Notification.kind == "closing"
        )
    ).all()
    # Everyone active but the one who closed it; professionals and the coordinator too.
    assert sorted(told) == sorted([member.user_id, pro.user_id, coordinator.user_id])
    assert (
        db.session.scalar(
            select(CircleEvent.kind)
            .where(CircleEvent.circle_id == circle.id)
            .order_by(CircleEvent.id.desc())
        )
        == "closed"
    )
    # Every page says so, and offers the exports.
    home = client.get(f"/c/{circle.id}").get_data(as_text=True)
    assert CLOSED_PAGE in home and f"/c/{circle.id}/export" in home and "/account/export" in home
    # Reopen: the circle is open again, everyone is told.
    page = client.get(f"/c/{circle.id}/close")
    assert "Open the circle again" in page.get_data(as_text=True)
    assert _post(client, f"/c/{circle.id}/reopen", csrf_from(page)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Circle, circle.id).closed_at is None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == "closing", Notification.user_id == member.user_id)
        )
        == 2
    )
    assert CLOSED_PAGE not in client.get(f"/c/{circle.id}").get_data(as_text=True)


def test_the_news_line_and_email_say_it_in_plain_words(
    app, db, client, make_circle, add_member, login
):
    circle, _ = make_circle("Circle around Sam")
    central = add_member(circle, Role.CENTRAL, name="Mira")
    member = add_member(circle, Role.MEMBER, name="Joe")
    _close(db, circle, central)
    login(client, member.user)
    news = client.get("/notifications").get_data(as_text=True)
    assert "Mira closed Circle around Sam" in news
    from portal.notice_mail import _phrase

    with app.test_request_context():
        assert _phrase("closing", 1) == "1 change about closing a circle"


def test_only_central_persons_close_and_closing_twice_is_refused(
    app, db, client, make_circle, add_member, login
):
    circle, coordinator = make_circle()
    central = add_member(circle, Role.CENTRAL)
    member = add_member(circle, Role.MEMBER)
    login(client, member.user)
    token = csrf_from(client.get("/account"))
    assert _post(client, f"/c/{circle.id}/close", token).status_code == 403
    from portal.services import Forbidden, ServiceError

    with pytest.raises(Forbidden):
        closing.close_circle(circle, coordinator)
    _close(db, circle, central)
    with pytest.raises(ServiceError):
        closing.close_circle(circle, central)
    db.session.rollback()
    assert (
        db.session.scalar(
            select(func.count()).select_from(CircleEvent).where(CircleEvent.kind == "closed")
        )
        == 1
    )


def test_every_write_is_refused_once_closed_and_reads_still_work(
    app,
    db,
    client,
    world,
    as_persona,
):
    """Every POST of the access matrix that the central person may make in an open
    circle answers "This circle is closed" once it is closed, and changes nothing."""
    token = as_persona("central")
    _close(db, world.circle, world.central)
    writes = sorted(
        (e, m)
        for (e, m), row in MATRIX.items()
        if m == "POST" and row["central"].changes and e not in OPEN_WHEN_CLOSED
    )
    assert len(writes) > 15
    errors = []
    for endpoint, method in writes:
        path = _path(app, endpoint, method, world.circle.id, world)
        before = _snapshot(db)
        resp = client.post(path, data={"csrf_token": token, **_form(endpoint, world)})
        if resp.status_code != 403 or CLOSED_PAGE not in resp.get_data(as_text=True):
            errors.append(f"{endpoint}: {resp.status_code}")
        elif _snapshot(db) != before:
            errors.append(f"{endpoint}: changed data")
    assert not errors, errors
    reads = sorted(e for (e, m), r in MATRIX.items() if m == "GET" and r["central"].status == 200)
    for endpoint in reads:
        path = _path(app, endpoint, "GET", world.circle.id, world)
        assert client.get(path).status_code == 200, endpoint


def test_outsiders_still_get_the_same_404(app, db, client, world, as_persona):
    token = as_persona("outsider")
    _close(db, world.circle, world.central)
    missing = max(world.circle.id, world.other.id) + 1000
    form = {"body": "x", "client_id": "outside-00001"}
    closed = _post(client, f"/c/{world.circle.id}/chat", token, form)
    nowhere = _post(client, f"/c/{missing}/chat", token, form)
    assert closed.status_code == nowhere.status_code == 404
    assert closed.get_data() == nowhere.get_data()
    assert client.get(f"/c/{world.circle.id}").get_data() == client.get(f"/c/{missing}").get_data()


def test_the_chat_page_has_no_message_box_and_the_socket_refuses(
    app, db, client, make_circle, add_member, login, socket_client
):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    anna = add_member(circle, Role.MEMBER)
    message = chat_svc.send_message(chat_svc_seat(anna), "before-close-01", "Before")[0]
    db.session.commit()
    sock = socket_client(anna.user)
    _close(db, circle, central)
    login(client, anna.user)
    page = client.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert "Before" in page and 'id="send-form"' not in page and CLOSED_PAGE in page
    assert sock.emit("chat:join", {"circle_id": circle.id})["ok"]  # reading still works
    sent = sock.emit(
        "chat:send", {"circle_id": circle.id, "client_id": "closed-000001", "body": "x"}
    )
    edit = sock.emit(
        "chat:edit", {"circle_id": circle.id, "message_id": message["id"], "body": "y"}
    )
    gone = sock.emit("chat:delete", {"circle_id": circle.id, "message_id": message["id"]})
    assert sent == edit == gone == {"ok": False, "error": "closed"}
    assert sock.emit("chat:read", {"circle_id": circle.id, "seq": 1})["ok"]
    db.session.expire_all()
    assert [m.body for m in db.session.scalars(select(Message))] == ["Before"]


def chat_svc_seat(m):
    from portal.access import ChatSeat

    return ChatSeat.of(m)


def test_a_send_still_costs_four_statements_with_the_closed_check(
    app, db, make_circle, add_member, socket_client
):
    """The closed check rides on the send's one access query (no statement of its own)."""
    from sqlalchemy import event

    circle, _ = make_circle()
    anna = add_member(circle)
    sock = socket_client(anna.user)
    assert sock.emit("chat:join", {"circle_id": circle.id})["ok"]
    circle_id = circle.id
    db.session.commit()
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        ack = sock.emit(
            "chat:send", {"circle_id": circle_id, "client_id": "count-000001", "body": "hi"}
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert ack["ok"], ack
    assert len(statements) <= 4, statements


def test_invitation_links_do_not_open_a_closed_circle(app, db, client, make_circle, add_member):
    from portal.access import can_use_invitation
    from portal.services import circles as circle_svc

    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    inv, _token = circle_svc.invite(circle, central, name="Late", role=Role.MEMBER)
    db.session.commit()
    assert can_use_invitation(inv)
    _close(db, circle, central)
    assert not can_use_invitation(inv)


def test_leaving_a_closed_circle_still_works(app, db, client, make_circle, add_member, login):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    member = add_member(circle, Role.MEMBER)
    _close(db, circle, central)
    login(client, member.user)
    page = client.get(f"/c/{circle.id}/leave")
    assert _post(client, f"/c/{circle.id}/leave", csrf_from(page)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Membership, member.id).status == MembershipStatus.LEFT


# --- The purge ---------------------------------------------------------------------------------


def _counts(db, circle_id: int) -> dict[str, int]:
    """Rows that belong to one circle, per table."""

    def n(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    commitments = select(Commitment.id).where(Commitment.circle_id == circle_id)
    messages = select(Message.id).where(Message.circle_id == circle_id)
    meetings = select(Meeting.id).where(Meeting.circle_id == circle_id)
    proposals = select(Proposal.id).where(Proposal.circle_id == circle_id)
    return {
        "messages": n(Message, Message.circle_id == circle_id),
        "revisions": n(MessageRevision, MessageRevision.message_id.in_(messages)),
        "plans": n(Plan, Plan.circle_id == circle_id),
        "commitments": n(Commitment, Commitment.circle_id == circle_id),
        "assignees": n(commitment_assignees, commitment_assignees.c.commitment_id.in_(commitments)),
        "completions": n(Completion, Completion.commitment_id.in_(commitments)),
        "conditions": n(Condition, Condition.circle_id == circle_id),
        "versions": n(PlanVersion, PlanVersion.circle_id == circle_id),
        "proposals": n(Proposal, Proposal.circle_id == circle_id),
        "votes": n(ProposalVote, ProposalVote.proposal_id.in_(proposals)),
        "meetings": n(Meeting, Meeting.circle_id == circle_id),
        "options": n(MeetingOption, MeetingOption.meeting_id.in_(meetings)),
        "notifications": n(Notification, Notification.circle_id == circle_id),
        "access_log": n(AccessLogEntry, AccessLogEntry.circle_id == circle_id),
        "invitations": n(Invitation, Invitation.circle_id == circle_id),
        "events": n(CircleEvent, CircleEvent.circle_id == circle_id),
        "names": n(Membership, Membership.circle_id == circle_id, Membership.stored_name != ""),
    }


def test_purge_deletes_a_closed_circle_for_good_after_the_retention_period(
    app,
    db,
    client,
    world,
    login,
    caplog,
):
    circle, other = world.circle, world.other
    _meeting = _open_proposal = None
    from datetime import date

    db.session.add(
        AccessLogEntry(
            circle_id=circle.id, membership_id=world.professional.id, page="plan", day=date.today()
        )
    )
    chat_svc.edit_message(circle, world.target, world.message, "Edited once")
    _open_proposal = plan_svc.propose(
        circle, world.target, "add_agreement", payload={"text": "We call Gran"}
    )
    db.session.commit()
    before = _counts(db, circle.id)
    assert all(
        before[k]
        for k in (
            "messages",
            "revisions",
            "commitments",
            "versions",
            "proposals",
            "votes",
            "completions",
            "conditions",
            "access_log",
            "invitations",
            "events",
            "names",
        )
    ), before
    other_before = _counts(db, other.id)
    title = circle.title
    _close(db, circle, world.central)
    closed_at = db.session.get(Circle, circle.id).closed_at

    # Not yet: the day before the retention period ends.
    assert purge.run(closed_at + timedelta(days=89))["purged"] == 0
    assert _counts(db, circle.id)["messages"] == before["messages"]

    caplog.set_level(logging.INFO, logger="portal.purge")
    assert purge.run(closed_at + timedelta(days=90, minutes=1))["purged"] == 1
    db.session.expire_all()
    after = _counts(db, circle.id)
    assert not any(after.values()), after
    assert _counts(db, other.id) == other_before  # the other circle is untouched
    shell = db.session.get(Circle, circle.id)
    assert shell.purged_at is not None and shell.title == "" and shell.question == ""
    log = caplog.text
    assert f"purged circle {circle.id}" in log and "messages=1" in log
    assert "Edited once" not in log and title not in log and "Target A" not in log

    # Idempotent: a second run finds nothing, and reopening is no longer possible.
    caplog.clear()
    assert purge.run(closed_at + timedelta(days=200))["purged"] == 0
    assert "purged circle" not in caplog.text
    # A former member's "My circles" page still works and names nothing.
    login(client, world.target.user)
    page = client.get("/circles")
    assert page.status_code == 200
    assert "a circle you were in" in page.get_data(as_text=True)
    assert title not in page.get_data(as_text=True)
    assert client.get(f"/c/{circle.id}").status_code == 404


def test_a_reopened_circle_is_not_purged(app, db, make_circle, add_member):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    _close(db, circle, central)
    closing.reopen_circle(circle, central)
    db.session.commit()
    later = datetime.now(UTC) + timedelta(days=365)
    assert purge.run(later)["purged"] == 0
    assert db.session.get(Circle, circle.id).purged_at is None


def test_the_command_line_runs_the_purge_with_a_moved_clock(app, db, make_circle, add_member):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    _close(db, circle, central)
    when = (datetime.now(UTC) + timedelta(days=91)).isoformat()
    result = CliRunner().invoke(app.cli, ["kring", "purge", "--now", when], obj=None)
    assert result.exit_code == 0, result.output
    assert "purged=1" in result.output
    db.session.expire_all()
    assert db.session.get(Circle, circle.id).purged_at is not None


# --- Idle circles --------------------------------------------------------------------------------


def test_an_idle_circle_asks_then_closes_after_sixty_days(
    app, db, client, make_circle, add_member, login
):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL, name="Mira")
    member = add_member(circle, Role.MEMBER)
    db.session.commit()
    start = datetime.now(UTC)
    # 17 months later: not idle long enough.
    assert purge.run(start + timedelta(days=17 * 31))["asked"] == 0
    asked_at = start + timedelta(days=18 * 31)
    assert purge.run(asked_at)["asked"] == 1
    assert purge.run(asked_at + timedelta(hours=1))["asked"] == 0  # asked once
    db.session.expire_all()
    assert db.session.get(Circle, circle.id).idle_asked_at is not None
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "closing")
    ).all()
    assert told == [central.user_id]  # central persons only
    login(client, central.user)
    home = client.get(f"/c/{circle.id}").get_data(as_text=True)
    assert "Is this circle still needed?" in home and "Keep this circle" in home
    # 59 days: still waiting. 61 days: closed by Kring, everyone told.
    assert purge.run(asked_at + timedelta(days=59))["closed"] == 0
    assert purge.run(asked_at + timedelta(days=61))["closed"] == 1
    db.session.expire_all()
    assert db.session.get(Circle, circle.id).closed_at is not None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == member.user_id, Notification.kind == "closing")
        )
        == 1
    )
    history = client.get(f"/c/{circle.id}/history").get_data(as_text=True)
    assert "Kring closed the circle" in history


def test_keep_it_clears_the_question(app, db, client, make_circle, add_member, login, new_client):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    member = add_member(circle, Role.MEMBER)
    asked_at = datetime.now(UTC) + timedelta(days=18 * 31)
    assert purge.run(asked_at)["asked"] == 1
    # A member cannot answer for the family's central persons.
    login(client, member.user)
    token = csrf_from(client.get("/account"))
    assert _post(client, f"/c/{circle.id}/keep", token).status_code == 403
    client = login(new_client(), central.user)
    page = client.get(f"/c/{circle.id}")
    assert _post(client, f"/c/{circle.id}/keep", csrf_from(page)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Circle, circle.id).idle_asked_at is None
    assert "Is this circle still needed?" not in client.get(f"/c/{circle.id}").get_data(
        as_text=True
    )
    # Sixty days on: nothing closes.
    counts = purge.run(asked_at + timedelta(days=61))
    assert (counts["asked"], counts["closed"], counts["purged"]) == (0, 0, 0)
    assert db.session.get(Circle, circle.id).closed_at is None


def test_activity_after_the_question_keeps_the_circle_open(app, db, make_circle, add_member):
    circle, _ = make_circle()
    central = add_member(circle, Role.CENTRAL)
    asked_at = datetime.now(UTC) + timedelta(days=18 * 31)
    assert purge.run(asked_at)["asked"] == 1
    msg, _ = chat_svc.send_message(chat_svc_seat(central), "late-0000001", "Still here")
    db.session.execute(
        Message.__table__.update()
        .where(Message.id == msg["id"])
        .values(created_at=asked_at + timedelta(days=3))
    )
    db.session.commit()
    assert purge.run(asked_at + timedelta(days=61))["closed"] == 0
    db.session.expire_all()
    circle = db.session.get(Circle, circle.id)
    assert circle.closed_at is None and circle.idle_asked_at is None


def test_mail_rows_are_forgotten_a_month_after_they_went_out(app, db):
    """A sent mail keeps its address and subject only until the purge run MAIL_KEEP_DAYS
    later; mail still waiting is never touched."""
    now = datetime.now(UTC)
    for key, sent, failed in (
        ("sent-long-ago", now - timedelta(days=31), None),
        ("given-up-long-ago", None, now - timedelta(days=31)),
        ("sent-last-week", now - timedelta(days=7), None),
        ("still-waiting", None, None),
    ):
        db.session.add(
            OutboxMail(
                to=f"{key}@example.org", subject="s", body="", dedupe_key=key,
                sent_at=sent, failed_at=failed,
            )
        )  # fmt: skip
    db.session.commit()
    assert purge.run(now)["mails_forgotten"] == 2
    left = set(db.session.scalars(select(OutboxMail.dedupe_key)))
    assert left == {"sent-last-week", "still-waiting"}
    assert purge.run(now)["mails_forgotten"] == 0
