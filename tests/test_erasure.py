"""Leave, and be forgotten (issue 13): ``/account/delete`` and ``services/erasure.py``.

A member with a distinctive name, username and email takes part in everything that
stores a name (the plan and its versions, a meeting review, the history, the chat with
an edit and a mention, an invitation, a supporter named after them, news, a calendar
feed, a push device, a mail waiting for them), then erases their account. Afterwards
no row of any table, and on SQLite no byte of the database file or its write-ahead
log, holds any of the three; the family sees "a former member", and the plan keeper
and central person hear that a commitment needs a new person.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.models import (
    CalendarFeed,
    Commitment,
    Meeting,
    MeetingReview,
    Membership,
    MembershipStatus,
    Message,
    MessageRevision,
    Notification,
    OutboxMail,
    PlanVersion,
    PushSubscription,
    Role,
    User,
)
from portal.models.privacy import SignIn
from portal.services import chat as chat_svc
from portal.services import circles as circle_svc
from portal.services import erasure
from portal.services import plan as plan_svc
from portal.services.meetings import MeetingData, propose_meeting
from portal.services.schedule import Schedule
from portal.tokens import hash_token
from tests import plan_data
from tests.conftest import ON_POSTGRES, PASSWORD, csrf_from

NAME = "Zyxwq Erasable"
CIRCLE_NAME = "Zyxwq Auntie"  # what the circle calls them, typed into the invitation
USERNAME = "zyxwqerasable"
EMAIL = "zyxwq@example.org"
SECRETS = (NAME, CIRCLE_NAME, USERNAME, EMAIL)


def _everything_with(circle, make_user, add_member):
    """A circle where the person to erase (``zyx``) has left their name everywhere."""
    coord = next(m for m in circle.memberships if m.role == Role.COORDINATOR)
    oma = add_member(circle, role="central", name="Oma")
    keeper = add_member(circle, name="Kees")
    keeper.is_plan_keeper = True
    user = make_user(NAME, username=USERNAME, email=EMAIL)
    zyx = add_member(circle, name=CIRCLE_NAME, user=user)
    # Someone supports them (named by the name the circle knows).
    add_member(circle, role="supporter", name="Piet", supporter_of=CIRCLE_NAME)
    when = Schedule(kind="weekly", start=date(2030, 1, 7), weekdays=frozenset({0}))
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Bring Sam to football", assignee_ids=[zyx.id], checker_id=zyx.id, schedule=when
        ),
    )
    plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Call the school",
            assignee_ids=[oma.id],
            checker_name=CIRCLE_NAME,
            schedule=Schedule(kind="once", start=date(2030, 2, 1)),
        ),
    )
    plan_svc.record_agreement(circle, coord, [oma.id, zyx.id, keeper.id])
    # A version from before versions carried ids: names only.
    _db.session.add(
        PlanVersion(
            circle_id=circle.id,
            number=99,
            reason="agreed",
            snapshot={
                "commitments": [
                    {
                        "id": 1,
                        "what": "x",
                        "who": [CIRCLE_NAME, "Oma"],
                        "checked_by": CIRCLE_NAME,
                        "checklist": [],
                        "when": {
                            "kind": "once",
                            "start": "2030-01-01",
                            "end": None,
                            "weekdays": [],
                            "interval": 1,
                        },
                    }
                ],
                "conditions": [{"id": 1, "text": "y", "set_by": CIRCLE_NAME}],
                "agreements": [],
            },
            agreed_by=["Oma", CIRCLE_NAME],
        )
    )
    soon = datetime.now(UTC) + timedelta(days=3)
    meeting = propose_meeting(
        circle,
        oma,
        MeetingData("Is it working?", "", "", "", 60, [soon, soon + timedelta(days=1)]),
    )
    _db.session.add(
        MeetingReview(meeting_id=meeting.id, recorded_by_id=oma.id, present=["Oma", CIRCLE_NAME])
    )
    _db.session.commit()
    sent, _ = chat_svc.send_message(ChatSeat.of(zyx), secrets.token_hex(8), "Hello, I am here")
    msg = _db.session.get(Message, sent["id"])
    chat_svc.edit_message(circle, zyx, msg, "Hello from me, see you soon")
    chat_svc.send_message(ChatSeat.of(oma), secrets.token_hex(8), f"Thank you @{USERNAME}!")
    _db.session.add_all(
        [
            CalendarFeed(user_id=user.id, token_hash=hash_token(secrets.token_hex(8))),
            PushSubscription(
                user_id=user.id,
                endpoint="https://push.example/zyx",
                p256dh="k",
                auth="a",
                label="Phone",
            ),
            OutboxMail(to=EMAIL, subject="Hi", body=f"Dear {NAME}", dedupe_key="zyx-1"),
            SignIn(user_id=user.id),
        ]
    )
    _db.session.commit()
    return {
        "coord": coord,
        "oma": oma,
        "keeper": keeper,
        "zyx": zyx,
        "commitment": c,
        "message": msg,
    }


def _erase_via_web(client, password=PASSWORD, delete_messages=False):
    page = client.get("/account/delete")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page), "password": password}
    if delete_messages:
        data["delete_messages"] = "y"
    return client.post("/account/delete", data=data)


def _rows_holding(secrets_):
    """(table, secret, row) for every row of every table whose values mention one."""
    found = []
    with _db.engine.connect() as conn:
        for table in _db.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                text = str(tuple(row)).casefold()
                found += [(table.name, s, row) for s in secrets_ if s.casefold() in text]
    return found


def test_erasure_leaves_no_trace_in_any_table_or_file(
    app, client, new_client, make_circle, make_user, add_member, login, socket_client
):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    assert {s for _t, s, _r in _rows_holding(SECRETS)} == set(SECRETS)  # the test sees them
    user = w["zyx"].user
    login(client, user)
    socket = socket_client(user, http=client)
    assert socket.is_connected()
    stolen = client.get_cookie("kring_session").value

    resp = _erase_via_web(client)
    assert resp.status_code == 200
    assert "Your account is deleted" in resp.get_data(as_text=True)

    assert _rows_holding(SECRETS) == []
    # The socket they had open is closed; their cookie and a copy of it are dead.
    assert not socket.is_connected()
    assert client.get("/account").status_code == 302
    thief = new_client()
    thief.set_cookie("kring_session", stolen)
    assert thief.get("/account").status_code == 302
    # They cannot sign in, by their old username, email or any other name.
    for login_name in (USERNAME, EMAIL, f"{erasure.ERASED_PREFIX}{user.id}"):
        page = new_client().get("/login")
        b = new_client()
        page = b.get("/login")
        r = b.post(
            "/login",
            data={"login": login_name, "password": PASSWORD, "csrf_token": csrf_from(page)},
        )
        assert r.status_code == 200 and "do not match" in r.get_data(as_text=True)
    shell = _db.session.get(User, user.id)
    assert shell.erased_at is not None and shell.email is None and shell.name == ""
    for model in (CalendarFeed, PushSubscription, SignIn, Notification):
        assert not _db.session.scalars(select(model).where(model.user_id == user.id)).all()
    zyx = _db.session.get(Membership, w["zyx"].id)
    assert zyx.status == MembershipStatus.LEFT and zyx.display_name == "a former member"

    if not ON_POSTGRES:
        path = _db.engine.url.database
        for suffix in ("", "-wal"):
            try:
                raw = open(path + suffix, "rb").read()
            except FileNotFoundError:
                continue
            for s in SECRETS:
                assert s.encode() not in raw, (suffix, s)


def test_the_family_sees_a_former_member_everywhere(
    client, new_client, make_circle, make_user, add_member, login
):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    _erase_via_web(login(client, w["zyx"].user))
    oma = login(new_client(), w["oma"].user)
    chat = oma.get(f"/c/{circle.id}/chat").get_data(as_text=True)
    assert "a former member" in chat and "Hello from me" in chat
    assert "@former-member" in chat
    plan = oma.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "a former member" in plan and "needs a new person" in plan
    for page in ("versions/1", "versions/99"):
        html = oma.get(f"/c/{circle.id}/plan/{page}").get_data(as_text=True)
        assert "a former member" in html, page
    history = oma.get(f"/c/{circle.id}/history").get_data(as_text=True)
    assert "invited a former member" in history and "a former member left" in history
    reviews = oma.get(f"/c/{circle.id}/meetings").get_data(as_text=True)
    assert "Present: Oma, a former member" in reviews
    printed = oma.get(f"/c/{circle.id}/plan/print").get_data(as_text=True)
    assert "needs a new person" in printed
    for text in (chat, plan, history, reviews, printed):
        assert not any(s in text for s in SECRETS)


def test_plan_keeper_and_central_person_hear_that_a_commitment_needs_a_new_person(
    client, new_client, make_circle, make_user, add_member, login
):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    before = _db.session.get(Commitment, w["commitment"].id)
    assignees = [m.id for m in before.assignees]
    _erase_via_web(login(client, w["zyx"].user))
    told = _db.session.scalars(select(Notification).where(Notification.kind == "needs_person"))
    assert sorted(n.user_id for n in told) == sorted([w["oma"].user_id, w["keeper"].user_id])
    # The plan is not changed by itself: the commitment is still theirs.
    after = _db.session.get(Commitment, w["commitment"].id)
    assert after.active and [m.id for m in after.assignees] == assignees
    news = login(new_client(), w["keeper"].user).get("/notifications").get_data(as_text=True)
    assert "needs a new person" in news


def test_delete_messages_empties_texts_and_earlier_versions(
    client, make_circle, make_user, add_member, login
):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    mid = w["message"].id
    assert _db.session.scalars(
        select(MessageRevision).where(MessageRevision.message_id == mid)
    ).all()
    _erase_via_web(login(client, w["zyx"].user), delete_messages=True)
    mine = _db.session.scalars(select(Message).where(Message.author_id == w["zyx"].id)).all()
    assert mine and all(m.body == "" and m.deleted_at is not None for m in mine)
    assert not _db.session.scalars(
        select(MessageRevision).where(MessageRevision.message_id == mid)
    ).all()
    # The numbering is kept: the others' message still follows theirs.
    seqs = _db.session.scalars(select(Message.seq).where(Message.circle_id == circle.id)).all()
    assert sorted(seqs) == [1, 2]


def test_by_default_messages_stay(client, make_circle, make_user, add_member, login):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    _erase_via_web(login(client, w["zyx"].user))
    msg = _db.session.get(Message, w["message"].id)
    assert msg.deleted_at is None and msg.body.startswith("Hello from me")


def test_wrong_password_changes_nothing_and_says_so(
    client, make_circle, make_user, add_member, login
):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    resp = _erase_via_web(login(client, w["zyx"].user), password="not my password")
    assert resp.status_code == 400
    assert "That is not your current password." in resp.get_data(as_text=True)
    user = _db.session.get(User, w["zyx"].user_id)
    assert user.erased_at is None and user.username == USERNAME
    assert client.get("/account").status_code == 200  # still signed in


def test_no_password_or_no_csrf_erases_nothing(client, make_circle, add_member, login):
    circle, _ = make_circle()
    m = add_member(circle, name="Anna")
    login(client, m.user)
    page = client.get("/account/delete")
    assert client.post("/account/delete", data={"csrf_token": csrf_from(page)}).status_code == 400
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 400
    assert _db.session.get(User, m.user_id).erased_at is None


def test_nobody_can_erase_someone_else(client, make_circle, add_member, login):
    """There is no id to change: the form erases the signed-in person, with their own
    password. Someone else's password, or an id in the form, does nothing."""
    circle, _ = make_circle()
    anna = add_member(circle, name="Anna")
    bert = add_member(circle, role="central", name="Bert")
    login(client, bert.user)
    page = client.get("/account/delete")
    resp = client.post(
        "/account/delete",
        data={"csrf_token": csrf_from(page), "password": PASSWORD, "user_id": anna.user_id},
    )
    assert resp.status_code == 200
    assert _db.session.get(User, anna.user_id).erased_at is None
    assert _db.session.get(User, bert.user_id).erased_at is not None


def test_the_password_check_is_rate_limited(client, make_circle, add_member, login):
    circle, _ = make_circle()
    m = add_member(circle, name="Anna")
    login(client, m.user)
    page = client.get("/account/delete")
    codes = [
        client.post(
            "/account/delete", data={"csrf_token": csrf_from(page), "password": f"guess{i}"}
        ).status_code
        for i in range(30)
    ]
    assert 429 in codes
    assert _db.session.get(User, m.user_id).erased_at is None


def test_the_last_central_person_can_still_be_forgotten(client, make_circle, add_member, login):
    """Leaving would be refused (invite another central person first); erasing is not:
    the circle goes on without them, and the organisation can invite a new one."""
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    circle_svc.hand_over(circle, coord)
    _db.session.commit()
    resp = _erase_via_web(login(client, sanne.user))
    assert resp.status_code == 200
    m = _db.session.get(Membership, sanne.id)
    assert m.status == MembershipStatus.LEFT and m.stored_name == ""


def test_leaving_one_circle_takes_the_name_off_the_invitation(
    client, make_circle, add_member, login
):
    from portal.models import Invitation

    circle, _ = make_circle()
    m = add_member(circle, name="Anna Leaves")
    login(client, m.user)
    page = client.get(f"/c/{circle.id}/leave")
    client.post(f"/c/{circle.id}/leave", data={"csrf_token": csrf_from(page)})
    inv = _db.session.scalar(select(Invitation).where(Invitation.membership_id == m.id))
    assert inv.name == "" and inv.email is None
    # The family keeps the name where it needs it: the membership (the chat, versions).
    assert _db.session.get(Membership, m.id).display_name == "Anna Leaves"


@pytest.mark.sqlite_only  # an SQLite pragma
def test_sqlite_connections_overwrite_what_they_delete(app):
    with _db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_a_meeting_is_untouched_apart_from_the_name(
    client, make_circle, make_user, add_member, login
):
    circle, _ = make_circle()
    w = _everything_with(circle, make_user, add_member)
    _erase_via_web(login(client, w["zyx"].user))
    meeting = _db.session.scalar(select(Meeting).where(Meeting.circle_id == circle.id))
    review = _db.session.scalar(select(MeetingReview).where(MeetingReview.meeting_id == meeting.id))
    assert review.present == ["Oma", ""]
    v = _db.session.scalar(
        select(PlanVersion).where(PlanVersion.circle_id == circle.id, PlanVersion.number == 1)
    )
    c = next(x for x in v.snapshot["commitments"] if x["what"] == "Bring Sam to football")
    assert c["who"] == [""] and c["checked_by"] == "" and c["who_ids"] == [w["zyx"].id]
    assert sorted(v.agreed_by) == sorted(["", "Kees", "Oma"])


def test_the_organisation_can_erase_someone_who_cannot_sign_in(
    app, make_circle, make_user, add_member, caplog
):
    """``kring erase-account USERNAME``: for a person who asked by letter or phone. It
    does what /account/delete does, and its output and log name only the account id."""
    from click.testing import CliRunner

    circle, _ = make_circle()
    _everything_with(circle, make_user, add_member)
    _db.session.commit()
    user_id = _db.session.scalar(select(User.id).where(User.username == USERNAME))
    runner = CliRunner()
    result = runner.invoke(app.cli, ["kring", "erase-account", "nobody-here", "--yes"])
    assert result.exit_code != 0 and "No such account" in result.output
    with caplog.at_level("INFO", logger="portal.services.erasure"):
        result = runner.invoke(app.cli, ["kring", "erase-account", USERNAME, "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"erased account {user_id}"
    _db.session.expire_all()
    assert _rows_holding([NAME, USERNAME, EMAIL, CIRCLE_NAME]) == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"erased account {user_id}" in logged
    for secret in (NAME, USERNAME, EMAIL, CIRCLE_NAME):
        assert secret not in logged and secret not in result.output
    again = runner.invoke(app.cli, ["kring", "erase-account", USERNAME, "--yes"])
    assert again.exit_code != 0


def test_a_review_forgets_exactly_the_erased_person_among_two_of_the_same_name(
    make_circle, make_user, add_member
):
    """Reviews keep who was there by membership id beside the names: when one of two
    people called "Sam" erases their account, only their place in the review empties."""
    from portal.services import meetings as meetings_svc

    circle, _ = make_circle()
    central = add_member(circle, role="central", name="Oma")
    sam_a = add_member(circle, name="Sam")
    sam_b = add_member(circle, name="Sam")
    soon = datetime.now(UTC) + timedelta(days=3)
    meeting = propose_meeting(
        circle, central, MeetingData("Check-in", "", "", "", 60, [soon, soon + timedelta(days=1)])
    )
    _db.session.commit()
    meetings_svc.fix_date(meeting, central, meeting.options[0].id)
    meeting.starts_at = datetime.now(UTC) - timedelta(hours=1)
    _db.session.commit()
    meetings_svc.record_review(
        circle, meeting, central, present_ids=[sam_b.id, central.id, sam_a.id],
        verdicts={}, decisions={}, next_evaluation=None,
    )  # fmt: skip
    _db.session.commit()
    review = _db.session.scalar(select(MeetingReview).where(MeetingReview.meeting_id == meeting.id))
    assert review.present == ["Oma", "Sam", "Sam"]
    assert review.present_ids == [central.id, sam_a.id, sam_b.id]
    erasure.erase_account(sam_b.user)
    _db.session.commit()
    _db.session.expire_all()
    review = _db.session.get(MeetingReview, review.id)
    assert review.present == ["Oma", "Sam", ""]


@pytest.mark.sqlite_only  # SQLite's write-ahead log
def test_the_checkpoint_after_an_erasure_never_blocks_the_server(app):
    """A reader (an export streaming) holds the log: the checkpoint tries without
    SQLite's blocking busy wait (it would stop every socket under gevent), gives up
    after its patience, and empties the log once the reader is gone."""
    import os
    import sqlite3
    import time

    from portal.extensions import forget_old_pages

    reader = sqlite3.connect(_db.engine.url.database)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM users").fetchone()  # a read snapshot is held
    _db.session.execute(User.__table__.insert().values(
        name="x", username="checkpoint-writer", password_hash="!",
        created_at=datetime.now(UTC), password_changed_at=datetime.now(UTC),
    ))  # fmt: skip
    _db.session.commit()
    started = time.monotonic()
    assert forget_old_pages(patience=0.3) is False
    assert time.monotonic() - started < 2  # not SQLite's 5-second busy wait
    reader.rollback()
    reader.close()
    assert forget_old_pages(patience=0.3) is True
    wal = _db.engine.url.database + "-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
