"""The notification run and its email (issue 12), against a real SMTP server.

An ``aiosmtpd`` server on 127.0.0.1 receives what ``portal.notifier.run`` sends, so
these tests see what a mailbox would: recipients, language, headers, both parts. The
clock is ``now``, moved by the tests; nothing sleeps.

Attacks performed: a one-click unsubscribe link opened by a mail scanner (GET must
change nothing), a token changed to name someone else or another kind, a token signed
for another purpose, two runs at once (PostgreSQL), a mail server that refuses mail.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from itsdangerous import URLSafeSerializer
from sqlalchemy import select, update

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.mail import send_pending
from portal.models import (
    Commitment,
    MembershipStatus,
    Notification,
    NotificationSwitch,
    OutboxMail,
    Role,
    User,
)
from portal.models.types import utcnow
from portal.notifier import run
from portal.services import chat, closing
from portal.services import meetings as meetings_svc
from portal.services import notifications as news
from portal.services import plan as plan_svc
from portal.services.reminders import at_local, local_day, zone
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import ON_POSTGRES
from tests.live_server import free_port

AMS = zone("Europe/Amsterdam")
TITLE = "Kring rond Zeldzaam"
SECRET = "Geheimzinnige boodschap over Sam"
TASK = "Medicijnen ophalen bij de apotheek"
NAMES = ("Zonnebloem", "Appelboom", "Kersenpit")


class Mailbox:
    """What the SMTP server received, and over how many connections."""

    def __init__(self):
        self.messages = []
        self.peers: set = set()
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        self.peers.add(session.peer)
        if self.refuse:
            return "451 Please try again later"
        msg = message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address):
        return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture
def smtp(app):
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False)
    yield box
    controller.stop()


@pytest.fixture
def family(db, make_circle, add_member):
    """A circle with an agreed plan: Anna (central, French), Ben (member, English, in
    Amsterdam), Cor (member, no address). Ben has a one-off commitment due 2027-03-28."""
    circle, coord = make_circle(TITLE)
    anna = add_member(circle, Role.CENTRAL, "Anna Zonnebloem")
    ben = add_member(circle, Role.MEMBER, "Ben Appelboom")
    cor = add_member(circle, Role.MEMBER, "Cor Kersenpit")
    ben.user.email = "ben@example.org"
    ben.user.locale = "en"
    ben.user.timezone = "Europe/Amsterdam"
    anna.user.email = "anna@example.org"
    anna.user.locale = "fr"
    task = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what=TASK,
            assignee_ids=[ben.id],
            schedule=Schedule(kind="once", start=date(2027, 3, 28)),
        ),
    )
    plan_svc.record_agreement(circle, coord, [anna.id, ben.id])
    _no_news(db)
    return circle, coord, anna, ben, cor, task


def _no_news(db) -> None:
    """Joining, opening a poll, fixing a date make news of their own
    (tests/test_news_recipients.py), which would add digests here: start from none."""
    db.session.execute(db.delete(Notification))
    db.session.commit()


def _send(db, member, text=SECRET):
    chat.send_message(ChatSeat.of(member), secrets.token_hex(8), text)
    db.session.commit()


def _morning(days=1, hour=7, minute=5):
    """``hour``:``minute`` in Amsterdam, ``days`` after today there."""
    return at_local(local_day(utcnow(), AMS) + timedelta(days=days), hour, AMS) + timedelta(
        minutes=minute
    )


def _news_at(db, when):
    """Unread news came at ``when`` (the chat stamps the real clock; the tests' runs
    happen later)."""
    db.session.execute(
        update(Notification).where(Notification.read_at.is_(None)).values(updated_at=when)
    )
    db.session.commit()


def _run(db, now):
    counts = run(now)
    db.session.rollback()
    return counts


def _everything(msg) -> str:
    parts = [msg["Subject"]]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def _stop_url(msg) -> str:
    m = re.fullmatch(r"<(http://localhost(/email/stop/[^>]+))>", msg["List-Unsubscribe"].strip())
    assert m, msg["List-Unsubscribe"]
    return m.group(2)


def _no_content(msg):
    text = _everything(msg)
    for secret in (SECRET, TASK, TITLE, "Zeldzaam", *NAMES):
        assert secret not in text


# --- The digest ----------------------------------------------------------------------------


def test_digest_counts_without_content_in_both_parts_and_the_persons_language(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    ben.user.direct_email = False  # digest only: the question waits for the digest
    db.session.commit()
    for _ in range(5):
        _send(db, anna)
    news.notify([ben], "consent", ref_id=1, actor=anna)
    db.session.commit()

    _run(db, _morning())
    assert [rcpt for rcpt, _m in smtp.messages] == [["ben@example.org"]]
    (msg,) = smtp.to("ben@example.org")
    assert msg["Subject"] == "There are 5 new messages and 1 question for you in Kring"
    assert msg["Content-Language"] == "en"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _stop_url(msg).startswith("/email/stop/")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "5 new messages and 1 question for you" in plain
    assert "5 new messages and 1 question for you" in html
    assert '<html lang="en">' in html
    assert "http://localhost/notifications" in plain
    assert "does not show messages, names or what was planned" in plain
    assert plain.count("http://localhost/account") == 1  # the settings link in the footer
    assert _stop_url(msg) in plain and _stop_url(msg) in html
    _no_content(msg)
    # The lines are counted as emailed; a second run that morning sends nothing more.
    mine = select(Notification).where(Notification.user_id == ben.user_id)
    assert [n.emailed_at is not None for n in db.session.scalars(mine)] == [True, True]
    _run(db, _morning(minute=30))
    assert len(smtp.messages) == 1


def test_email_and_its_unsubscribe_page_speak_the_persons_language(db, smtp, family, new_client):
    _circle, _coord, anna, ben, _cor, _task = family
    ben.user.locale = "nl"  # as chosen on /account, or as recorded when he joined
    db.session.commit()
    for _ in range(5):
        _send(db, anna)
    _run(db, _morning())
    (msg,) = smtp.to("ben@example.org")
    assert msg["Content-Language"] == "nl"
    assert "5 nieuwe berichten" in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert '<html lang="nl">' in html and "5 nieuwe berichten" in html
    page = new_client().get(_stop_url(msg))
    assert '<html lang="nl">' in page.get_data(as_text=True)


def test_digest_goes_at_the_first_run_after_seven_and_not_when_nothing_is_new(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    _send(db, anna)
    _run(db, _morning(hour=6, minute=59))
    assert smtp.messages == []
    _run(db, _morning(hour=7, minute=0))
    assert len(smtp.to("ben@example.org")) == 1
    # Later that day: something new, but the next digest is tomorrow after seven.
    _send(db, anna)
    _news_at(db, _morning(hour=17, minute=59))
    _run(db, _morning(hour=18))
    _run(db, _morning(days=2, hour=6, minute=59))
    assert len(smtp.to("ben@example.org")) == 1
    _run(db, _morning(days=2, hour=7, minute=1))
    assert len(smtp.to("ben@example.org")) == 2
    # Nothing new the day after: no empty digest.
    _run(db, _morning(days=3, hour=7, minute=1))
    assert len(smtp.to("ben@example.org")) == 2


def test_weekly_digest_comes_on_monday_morning(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    ben.user.digest_period = "weekly"
    db.session.commit()
    _send(db, anna)
    today = local_day(utcnow(), AMS)
    monday = today + timedelta(days=7 - today.weekday())
    days = (monday - today).days
    for d in range(1, days):
        _run(db, _morning(days=d, hour=9))
    assert smtp.messages == []
    _run(db, _morning(days=days, hour=7, minute=2))
    assert len(smtp.to("ben@example.org")) == 1


def test_circle_titles_only_where_the_person_opted_in_and_never_message_text(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    ben.email_names = True
    db.session.commit()
    _send(db, anna)
    _run(db, _morning())
    (msg,) = smtp.to("ben@example.org")
    text = _everything(msg)
    assert TITLE in text and "1 new message" in text
    assert SECRET not in text and "Zonnebloem" not in text and TASK not in text


def test_nothing_for_muted_circles_people_gone_closed_chats_or_without_an_address(
    db, smtp, family, add_member
):
    circle, coord, anna, ben, cor, _task = family
    ben.muted = True
    gone = add_member(circle, Role.MEMBER, "Dirk Kersenpit")
    gone.user.email = "dirk@example.org"
    coord.user.email = "coordinator@example.org"
    pro = add_member(circle, Role.PROFESSIONAL, "Els Kersenpit")
    pro.user.email = "els@example.org"
    _no_news(db)
    _send(db, anna)
    # A chat line that reached a professional while the chat is closed to them (as if
    # written before it closed): never emailed.
    news.notify([pro], "mention", ref_id=1, actor=anna)
    gone.status = MembershipStatus.LEFT
    coord.status = MembershipStatus.HANDED_OVER
    db.session.commit()
    _run(db, _morning())
    assert smtp.messages == []


def test_notification_mail_is_not_dropped_by_the_form_cap(db, smtp, family, app):
    _circle, _coord, anna, ben, _cor, _task = family
    app.config["MAIL_PER_ADDRESS_PER_HOUR"] = 0
    _send(db, anna)
    _run(db, _morning())
    assert len(smtp.to("ben@example.org")) == 1


# --- Direct calls ----------------------------------------------------------------------------


def test_direct_calls_are_batched_and_at_most_one_per_quarter_hour(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    news.notify([ben], "mention", ref_id=1, actor=anna)
    news.notify([ben], "mention", ref_id=2, actor=anna)
    news.notify([ben], "help", ref_id=3, actor=anna)
    db.session.commit()
    t0 = utcnow() + timedelta(minutes=1)
    _run(db, t0)
    (msg,) = smtp.to("ben@example.org")
    assert msg["Subject"] == "There are 2 mentions of you and 1 call for help in Kring"
    _no_content(msg)
    news.notify([ben], "mention", ref_id=4, actor=anna)
    db.session.commit()
    _run(db, t0 + timedelta(minutes=14, seconds=59))
    assert len(smtp.to("ben@example.org")) == 1  # the quarter hour is not over
    _run(db, t0 + timedelta(minutes=15))
    assert len(smtp.to("ben@example.org")) == 2
    assert "1 mention of you" in smtp.to("ben@example.org")[1]["Subject"]


def test_digest_only_people_get_no_direct_email(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    ben.user.direct_email = False
    db.session.commit()
    news.notify([ben], "mention", ref_id=1, actor=anna)
    db.session.commit()
    _run(db, utcnow() + timedelta(minutes=1))
    assert smtp.messages == []


# --- Reminders and the clock ----------------------------------------------------------------


def test_commitment_reminder_the_day_before_and_that_morning(db, smtp, family):
    _circle, _coord, _anna, ben, _cor, task = family
    ams = AMS
    _run(db, at_local(date(2027, 3, 27), 6, ams) + timedelta(minutes=59))
    assert smtp.messages == []
    _run(db, at_local(date(2027, 3, 27), 7, ams))
    _run(db, at_local(date(2027, 3, 27), 12, ams))
    (before,) = smtp.to("ben@example.org")
    assert "due tomorrow" in before["Subject"]
    _no_content(before)
    # The in-app line comes on the day itself, once.
    _run(db, at_local(date(2027, 3, 28), 0, ams) + timedelta(minutes=1))
    _run(db, at_local(date(2027, 3, 28), 7, ams) + timedelta(minutes=3))
    due = db.session.scalars(select(Notification).where(Notification.kind == "due")).all()
    assert [(n.user_id, n.ref_id, n.data) for n in due] == [
        (ben.user_id, task.id, {"day": "2027-03-28"})
    ]
    subjects = [m["Subject"] for m in smtp.to("ben@example.org")]
    assert any("due today" in s for s in subjects)
    assert sum("due" in s and "Kring" not in s for s in subjects) == 2
    # Switched off by its own switch: nothing more of this kind.
    db.session.add(NotificationSwitch(user_id=ben.user_id, channel="email", kind="remind_due"))
    db.session.commit()
    db.session.execute(update(OutboxMail).values(dedupe_key=OutboxMail.dedupe_key + ":old"))
    db.session.commit()
    count = len(smtp.messages)
    _run(db, at_local(date(2027, 3, 28), 9, ams))
    assert sum("due" in m["Subject"] for m in smtp.messages[count:]) == 0


def test_a_missed_turn_makes_one_line_and_one_reminder(db, smtp, family, add_member):
    circle, coord, _anna, ben, _cor, _task = family
    # A weekly Saturday turn, agreed by consent later: put it straight into the live plan.
    from portal.services.plan import entries

    data = plan_svc.CommitmentData(
        what=TASK,
        assignee_ids=[ben.id],
        schedule=Schedule(kind="weekly", start=date(2027, 1, 2), weekdays=frozenset({5})),
    )
    entries.apply_change(circle, "add_commitment", None, data.to_payload())
    c = plan_data._newest(Commitment, circle)
    db.session.commit()
    sunday = date(2027, 3, 28)
    for hour in (6, 8, 12):
        _run(db, at_local(sunday, hour, AMS))
    missed = db.session.scalars(
        select(Notification).where(Notification.kind == "missed", Notification.ref_id == c.id)
    ).all()
    assert [n.data for n in missed] == [{"day": "2027-03-27"}]
    reminders = [m for m in smtp.to("ben@example.org") if "regularly" in m["Subject"]]
    assert len(reminders) == 1
    _no_content(reminders[0])


def _meeting(circle, organiser, invitee, times, deadline=None):
    data = meetings_svc.MeetingData(
        title="Evaluatie bij " + NAMES[0],
        purpose=SECRET,
        place="",
        video_link="",
        duration_minutes=60,
        options=times,
        deadline=deadline,
        invitee_ids=[invitee.id],
    )
    return meetings_svc.propose_meeting(circle, organiser, data)


@pytest.mark.parametrize(
    "day, day_before_utc, two_hours_utc",
    [
        # Summer time starts that night: 19:00 CEST is 17:00 UTC; the day before, 19:00
        # CET is 18:00 UTC (23 hours earlier).
        (date(2027, 3, 28), datetime(2027, 3, 27, 18, 0, tzinfo=UTC),
         datetime(2027, 3, 28, 15, 0, tzinfo=UTC)),
        # Summer time ends that night: 19:00 CET is 18:00 UTC; the day before, 19:00
        # CEST is 17:00 UTC (25 hours earlier).
        (date(2027, 10, 31), datetime(2027, 10, 30, 17, 0, tzinfo=UTC),
         datetime(2027, 10, 31, 16, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_meeting_reminders_follow_the_wall_clock_across_daylight_saving(
    db, smtp, family, day, day_before_utc, two_hours_utc
):
    circle, _coord, anna, ben, _cor, _task = family
    starts = at_local(day, 19, AMS)
    meeting = _meeting(circle, anna, ben, [starts, starts + timedelta(days=1)])
    db.session.flush()
    meetings_svc.fix_date(meeting, anna, meeting.options[0].id)
    _no_news(db)
    one = timedelta(minutes=1)

    def meeting_mails(box):  # (his commitment is due on 2027-03-28 too)
        return [m for m in box.to("ben@example.org") if "meeting" in m["Subject"]]

    _run(db, day_before_utc - one)
    assert meeting_mails(smtp) == []
    _run(db, day_before_utc)
    _run(db, two_hours_utc - one)
    (first,) = meeting_mails(smtp)
    assert "19:00" in first["Subject"]
    _no_content(first)
    _run(db, two_hours_utc)
    _run(db, starts - one)
    _run(db, starts + one)
    mails = meeting_mails(smtp)
    assert len(mails) == 2
    assert "19:00" in mails[1]["Subject"] and "soon" in mails[1]["Subject"]


def test_poll_reminders_for_those_who_did_not_answer(db, smtp, family):
    circle, _coord, anna, ben, _cor, _task = family
    anna.user.email = None  # only Ben's mailbox matters here
    opened = utcnow()
    deadline = opened + timedelta(days=5)
    times = [opened + timedelta(days=10), opened + timedelta(days=11)]
    meeting = _meeting(circle, anna, ben, times, deadline)
    _no_news(db)
    _run(db, opened + timedelta(days=1, hours=23))
    assert smtp.messages == []
    _run(db, opened + timedelta(days=2, minutes=1))
    _run(db, opened + timedelta(days=3))
    assert len(smtp.to("ben@example.org")) == 1
    assert "choose the dates" in smtp.to("ben@example.org")[0]["Subject"]
    _run(db, deadline - timedelta(hours=23))
    assert len(smtp.to("ben@example.org")) == 2
    assert "closes on" in smtp.to("ben@example.org")[1]["Subject"]
    _no_content(smtp.to("ben@example.org")[1])
    # Someone who answered is not reminded.
    meetings_svc.set_answers(meeting, ben, {meeting.options[0].id: "yes"})
    db.session.commit()
    db.session.execute(update(OutboxMail).values(dedupe_key=OutboxMail.dedupe_key + ":old"))
    db.session.commit()
    _run(db, deadline - timedelta(hours=22))
    assert len(smtp.to("ben@example.org")) == 2


# --- Unsubscribe --------------------------------------------------------------------------------


def _digest_for_ben(db, smtp, family):
    _circle, _coord, anna, ben, _cor, _task = family
    _send(db, anna)
    _run(db, _morning())
    (msg,) = smtp.to("ben@example.org")
    return msg, ben


def test_one_click_unsubscribe_works_without_cookie_and_get_changes_nothing(
    db, smtp, family, new_client
):
    msg, ben = _digest_for_ben(db, smtp, family)
    url = _stop_url(msg)
    scanner = new_client()
    page = scanner.get(url)
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    assert 'method="post"' in page.get_data(as_text=True)
    assert db.session.get(User, ben.user_id).digest_period == "daily"  # a scanner's GET

    # The mail client's one-click POST: no cookie, no CSRF token, no redirect.
    mail_client = new_client()
    done = mail_client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "Set-Cookie" not in done.headers
    assert "stopped" in done.get_data(as_text=True)
    assert db.session.get(User, ben.user_id).digest_period == "off"
    assert mail_client.post(url).status_code == 200  # twice is once

    _send(db, family[2])
    _news_at(db, _morning(hour=12))
    _run(db, _morning(days=2))
    assert len(smtp.to("ben@example.org")) == 1


def test_each_kind_has_its_own_link(db, app, family, new_client):
    from portal.services.unsubscribe import make_token

    _circle, _coord, _anna, ben, _cor, _task = family
    with app.test_request_context():
        token = make_token(ben.user_id, "remind_meeting")
    assert new_client().post(f"/email/stop/{token}").status_code == 200
    off = db.session.scalars(
        select(NotificationSwitch.kind).where(NotificationSwitch.user_id == ben.user_id)
    ).all()
    assert off == ["remind_meeting"]
    assert db.session.get(User, ben.user_id).digest_period == "daily"
    assert db.session.get(User, ben.user_id).direct_email is True


def test_a_token_cannot_be_changed_to_reach_someone_else(db, app, smtp, family, new_client):
    msg, ben = _digest_for_ben(db, smtp, family)
    cor = family[4]
    token = _stop_url(msg).rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    forged = URLSafeSerializer("x").dump_payload([cor.user_id, "digest"]).decode()
    other_kind = URLSafeSerializer("x").dump_payload([ben.user_id, "direct"]).decode()
    for bad in (
        f"{forged}.{signature}",  # Ben's signature on Cor's id
        f"{other_kind}.{signature}",  # Ben's signature on another kind
        URLSafeSerializer(app.config["SECRET_KEY"], salt="another-purpose").dumps(
            [cor.user_id, "digest"]
        ),  # signed with the app's key, but for something else
        URLSafeSerializer("guessed-key", salt="kring-email-unsubscribe").dumps(
            [cor.user_id, "digest"]
        ),
    ):
        for method in ("get", "post"):
            resp = getattr(new_client(), method)(f"/email/stop/{bad}")
            assert resp.status_code == 404
    assert db.session.get(User, cor.user_id).digest_period == "daily"
    assert db.session.get(User, ben.user_id).direct_email is True
    # Ben's own token, replayed, still changes only Ben.
    assert new_client().post(f"/email/stop/{token}").status_code == 200
    assert new_client().post(f"/email/stop/{token}").status_code == 200
    assert db.session.get(User, ben.user_id).digest_period == "off"
    assert db.session.get(User, cor.user_id).digest_period == "daily"
    assert payload  # the token has a payload part and a signature part


# --- Sending -----------------------------------------------------------------------------------


def test_one_smtp_connection_per_run(db, smtp, family, add_member):
    circle, _coord, anna, ben, _cor, _task = family
    for n in range(3):
        m = add_member(circle, Role.MEMBER, f"Extra {n}")
        m.user.email = f"extra{n}@example.org"
    _no_news(db)
    _send(db, anna)
    _run(db, _morning())
    assert len(smtp.messages) == 4  # Ben and three extras (nothing is new to Anna)
    assert len(smtp.peers) == 1


def test_a_refused_mail_is_retried_with_back_off_and_given_up_after_a_day(db, smtp, family, caplog):
    smtp.refuse = True
    _circle, _coord, anna, ben, _cor, _task = family
    _send(db, anna)
    t0 = _morning()
    _run(db, t0)
    row = db.session.scalars(select(OutboxMail)).one()
    assert (row.attempts, row.sent_at, row.failed_at) == (1, None, None)
    assert row.next_try_at == t0 + timedelta(seconds=30)
    assert send_pending(now=t0 + timedelta(seconds=29)) == 0
    db.session.rollback()
    assert db.session.scalars(select(OutboxMail)).one().attempts == 1  # not due yet
    send_pending(now=t0 + timedelta(seconds=30))
    db.session.rollback()
    row = db.session.scalars(select(OutboxMail)).one()
    assert row.attempts == 2 and row.next_try_at == t0 + timedelta(seconds=90)
    logging.getLogger("portal.mail").disabled = False  # Alembic's logging setup turns it off
    with caplog.at_level(logging.ERROR, logger="portal.mail"):
        send_pending(now=t0 + timedelta(hours=24, minutes=1))
    db.session.rollback()
    row = db.session.scalars(select(OutboxMail)).one()
    assert row.failed_at is not None and row.sent_at is None
    assert any("given up" in r.getMessage() for r in caplog.records)
    smtp.refuse = False
    assert send_pending(now=t0 + timedelta(hours=26)) == 0
    assert smtp.messages == []


def test_the_command_takes_now(app, db, smtp, family):
    _circle, _coord, anna, _ben, _cor, _task = family
    _send(db, anna)
    when = _morning().isoformat()
    result = app.test_cli_runner().invoke(args=["kring", "send-notifications", "--now", when])
    assert result.exit_code == 0, result.output
    assert "digest=1" in result.output and "sent=1" in result.output
    bad = app.test_cli_runner().invoke(args=["kring", "send-notifications", "--now", "soon"])
    assert bad.exit_code != 0


@pytest.mark.postgres_only
def test_two_runs_at_once_send_each_email_once(app, db, smtp, family, add_member):
    circle, _coord, anna, ben, _cor, _task = family
    assert ON_POSTGRES
    for n in range(6):
        m = add_member(circle, Role.MEMBER, f"Extra {n}")
        m.user.email = f"extra{n}@example.org"
    _no_news(db)
    _send(db, anna)
    news.notify([ben], "mention", ref_id=1, actor=anna)
    db.session.commit()
    now = _morning()
    start = threading.Barrier(2)
    errors = []

    def one_run():
        try:
            with app.app_context():
                start.wait()
                run(now)
                _db.session.remove()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    got = sorted((rcpt[0], m["Subject"]) for rcpt, m in smtp.messages)
    assert len(got) == len(set(got)) == 8  # 7 digests, and Ben's direct call
    assert len(smtp.to("ben@example.org")) == 2


def test_a_closed_circle_reminds_nobody_of_commitments_or_polls(db, smtp, family):
    """A closed circle is read-only: nothing in it can be ticked or answered, so the
    clock makes no "due" line and no reminder for it (the same run as the two tests
    above, with the circle closed)."""
    circle, _coord, anna, ben, _cor, _task = family
    opened = utcnow()
    times = [opened + timedelta(days=10), opened + timedelta(days=11)]
    _meeting(circle, anna, ben, times, opened + timedelta(days=5))
    closing.close_circle(circle, None)
    db.session.commit()
    _no_news(db)
    _run(db, at_local(date(2027, 3, 27), 7, AMS))
    _run(db, at_local(date(2027, 3, 28), 7, AMS) + timedelta(minutes=3))
    _run(db, opened + timedelta(days=2, minutes=1))
    assert [m["Subject"] for m in smtp.to("ben@example.org")] == []
    assert (
        db.session.scalars(
            select(Notification).where(Notification.kind.in_(("due", "missed")))
        ).all()
        == []
    )
