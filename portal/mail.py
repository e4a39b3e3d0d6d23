"""Outgoing email, through a transactional outbox.

A request never talks to a mail server. ``queue_mail`` adds a row to ``outbox_mail``
in the same transaction as its cause (a reset link, an email change), so a
rolled-back cause sends nothing and a slow or broken mail server cannot change what
a request answers. ``send_pending`` delivers what is waiting; it runs every few
seconds inside ``python app.py`` and on demand as ``flask --app app kring send-mail``
(cron, a systemd timer). Several runs at once are safe: a run takes its rows with
one conditional ``UPDATE`` (each row is won by one run only) and marks them sent,
in one ``UPDATE`` every few seconds, by that run only. A run that dies after sending
but before marking leaves those rows to be sent again after their lease (at least
once, never lost). The statements of a run do not grow with the number of mails.

Delivery: SMTP when MAIL_SERVER is set; otherwise one file per mail in
MAIL_OUTBOX_DIR (instance/outbox), so a developer can read it without any mail
server. Mail bodies may carry a secret link, so they are never written to the log.

No address gets more than MAIL_PER_ADDRESS_PER_HOUR mails asked for through a form
(counted from the outbox rows to it made in the last hour): beyond that a mail is
dropped quietly and the caller answers as usual, so nobody can fill someone's mailbox
through a form. Notification email (``notice=True``, docs/notifications.md) has its
own, tighter limits and goes only to an account's confirmed address: it neither
counts here nor is dropped.

Each run sends over one SMTP connection (``Transport``). A failed mail is tried again
with back-off and given up, with a log line, MAIL_GIVE_UP_HOURS after it was queued.

Some mail is made by the sender, not by the request: ``queue_mail(kind=...)`` queues
an empty row, and ``send_pending`` asks the builder registered for that kind
(``register_builder``; the services register theirs at import) for its subject and
body, or for nothing to send. "Forgot password" works this way, so the request does
the same work for any address and only the sender looks the address up.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, case, func, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal import storage
from portal.extensions import BULK_INSERT, db, socketio
from portal.models import OutboxMail
from portal.models.types import utcnow

log = logging.getLogger(__name__)


# kind -> builder(to) returning (subject, body) to send, or None to send nothing.
# Called by the sender inside a request context for BASE_URL (so url_for works),
# in a transaction it commits together with the mail it builds.
Builder = Callable[[str], tuple[str, str] | None]
_builders: dict[str, Builder] = {}


def register_builder(kind: str, builder: Builder) -> None:
    _builders[kind] = builder


def queue_mail(
    to: str,
    subject: str = "",
    body: str = "",
    *,
    dedupe_key: str,
    kind: str | None = None,
    html: str | None = None,
    headers: dict | None = None,
    notice: bool = False,
) -> bool:
    """Queue a mail in the current transaction (the caller commits); True if queued.

    ``dedupe_key`` names the cause ("reset:<token id>"): a cause queues its mail once,
    even when two transactions try at the same moment (``INSERT ... ON CONFLICT DO
    NOTHING`` on the unique key, never check-then-insert). With ``kind``, the sender
    builds the mail (see ``register_builder``). ``html`` and ``headers`` travel with the
    row (a multipart mail, Content-Language, List-Unsubscribe).

    Mail asked for through a form is capped: beyond MAIL_PER_ADDRESS_PER_HOUR such mails
    to ``to`` in the last hour nothing is queued (the same statements run either way up
    to the insert, and the caller cannot tell). Notification mail (``notice=True``, made
    by the notification run) has its own limits and neither counts nor is dropped here.
    """
    if not notice:
        lately = db.session.scalar(
            select(func.count())
            .select_from(OutboxMail)
            .where(
                OutboxMail.to == to,
                OutboxMail.created_at > utcnow() - timedelta(hours=1),
                OutboxMail.notice.is_(False),
            )
        )
        if lately >= current_app.config["MAIL_PER_ADDRESS_PER_HOUR"]:
            log.info("mail to one address dropped: over MAIL_PER_ADDRESS_PER_HOUR")
            return False
    row = {
        "to": to,
        "subject": str(subject)[:200],
        "body": str(body),
        "dedupe_key": dedupe_key,
        "kind": kind,
        "html": html,
        "headers": headers,
        "notice": notice,
        "created_at": utcnow(),
    }
    return bool(queue_rows([row]))


def queue_rows(rows: list[dict]) -> set[str]:
    """Insert outbox rows (dicts of OutboxMail columns) in one statement, each at most
    once per ``dedupe_key``; return the keys that were new. No cap: the callers are
    ``queue_mail`` (which applied it) and the notification run."""

    if not rows:
        return set()
    conn = db.session.connection()
    table = OutboxMail.__table__
    insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
    insert = insert.on_conflict_do_nothing(index_elements=["dedupe_key"])
    stmt = insert.returning(table.c.dedupe_key).execution_options(**BULK_INSERT)
    return set(conn.execute(stmt, rows).scalars())


def _build(mail_id: int, claim: str, kind: str, to: str) -> tuple[str, str] | None:
    """Make the mail of a row queued with a ``kind`` and store it in the row, in one
    transaction with whatever the builder wrote (a reset token). Nothing to send: the
    row is marked done and None returned. A row whose kind has no builder stays for an
    operator (it raises, like a failed delivery)."""
    builder = _builders[kind]
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        built = builder(to)
        if built is None:
            values = {"sent_at": utcnow(), "body": "", "claim": None}
        else:
            subject, body = str(built[0])[:200], str(built[1])
            # Resolved: a later try (the server was down) sends this very mail again.
            values = {"subject": subject, "body": body, "kind": None}
        db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.claim == claim)
            .values(**values)
        )
        db.session.commit()
    return None if built is None else (subject, body)


def _pending(now):
    cfg = current_app.config
    return (
        OutboxMail.sent_at.is_(None),
        OutboxMail.failed_at.is_(None),
        OutboxMail.attempts < cfg["MAIL_MAX_ATTEMPTS"],
        (OutboxMail.next_try_at.is_(None)) | (OutboxMail.next_try_at <= now),
    )


def send_pending(limit: int = 100, *, now: datetime | None = None) -> int:
    """Send what is waiting over ONE connection to the mail server; return how many
    mails went out. ``now`` stands in for the clock (tests, catching up).

    The statements do not grow with the number of mails: one conditional ``UPDATE``
    claims up to ``limit`` rows for this run (a lease; of two runs at once each row is
    claimed by one), and what went out is written down in one ``UPDATE`` every
    MARK_SENT_SECONDS while sending (which also renews the lease of the rest) and once
    at the end. A run that dies mid-way leaves at most those last seconds of mail
    unmarked: it is sent again after the lease (at least once, never lost).

    Never raises because a mail could not be sent: the row keeps its error, counts
    the try, and waits longer before the next one (30 s, doubling, at most an hour);
    once MAIL_GIVE_UP_HOURS have passed since it was queued (or after
    MAIL_MAX_ATTEMPTS tries) it is given up with a log line and stays for an operator.
    """
    now = now or utcnow()
    claim, rows = _claim(limit, now)
    if not rows:
        return 0
    sent = 0
    started = marked = time.monotonic()
    transport = Transport(current_app.config)
    try:
        for row in rows:
            sent += _send_one(transport, claim, row, now)
            if time.monotonic() - marked >= MARK_SENT_SECONDS:
                marked = time.monotonic()
                _mark_sent(claim, row["id"], now + timedelta(seconds=marked - started))
    finally:
        transport.close()
    _mark_sent(claim, rows[-1]["id"], now)
    return sent


MARK_SENT_SECONDS = 30.0  # a run that dies resends at most this much of its mail
_COLUMNS = ("id", "to", "subject", "body", "attempts", "kind", "html", "headers", "created_at")


def _lease(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.config["MAIL_CLAIM_LEASE_SECONDS"])


def _claim(limit: int, now: datetime) -> tuple[str, list[dict]]:
    """Take up to ``limit`` pending rows for this run in one conditional UPDATE; commits.
    PostgreSQL: rows another run is claiming at this moment are passed over (SKIP
    LOCKED, in a CTE so it runs once); each row is claimed by one run only."""
    claim = secrets.token_hex(16)
    due = (
        select(OutboxMail.id)
        .where(*_pending(now))
        .order_by(OutboxMail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    rows = db.session.execute(
        update(OutboxMail)
        .add_cte(due)
        .where(OutboxMail.id.in_(select(due.c.id)), *_pending(now))
        .values(claim=claim, attempts=OutboxMail.attempts + 1, next_try_at=_lease(now))
        .returning(*(getattr(OutboxMail, c) for c in _COLUMNS))
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return claim, sorted((dict(zip(_COLUMNS, r, strict=True)) for r in rows), key=_by_id)


def _by_id(row: dict) -> int:
    return row["id"]


def _mark_sent(claim: str, upto: int, now: datetime) -> None:
    """One UPDATE: this run's rows up to id ``upto`` that are still claimed went out
    (a failed or empty row gave up its claim already); the rest get a fresh lease. The
    body may hold a secret link: once sent, the database forgets it."""
    done = OutboxMail.id <= upto
    stamp = OutboxMail.sent_at.type
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.claim == claim, OutboxMail.sent_at.is_(None))
        .values(
            sent_at=case((done, bindparam("sent", utcnow(), type_=stamp)), else_=null()),
            last_error=case((done, null()), else_=OutboxMail.last_error),
            body=case((done, ""), else_=OutboxMail.body),
            html=case((done, null()), else_=OutboxMail.html),
            next_try_at=case(
                (done, OutboxMail.next_try_at),
                else_=bindparam("lease", _lease(now), type_=stamp),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _send_one(transport: Transport, claim: str, row: dict, now: datetime) -> int:
    """Build if needed and deliver one claimed row; 1 if it went out (written down
    later by ``_mark_sent``)."""
    mail_id = row["id"]
    try:
        if row["kind"] is not None:
            built = _build(mail_id, claim, row["kind"], row["to"])
            if built is None:
                return 0  # nothing to send (an address without an account)
            row["subject"], row["body"] = built
        transport.send(mail_id, message(**{k: row[k] for k in _MESSAGE_FIELDS}))
    except Exception as e:  # noqa: BLE001 (any failure: keep the row for later)
        db.session.rollback()
        _failed(mail_id, claim, row, e, now)
        return 0
    return 1


def _failed(mail_id: int, claim: str, row: dict, error: Exception, now: datetime) -> None:
    """A try failed: wait longer before the next one, or give up after a day."""
    cfg = current_app.config
    attempts = row["attempts"]
    give_up = now - row["created_at"] >= timedelta(hours=cfg["MAIL_GIVE_UP_HOURS"])
    give_up = give_up or attempts >= cfg["MAIL_MAX_ATTEMPTS"]
    wait = min(30 * 2 ** (attempts - 1), 3600)
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.claim == claim)
        .values(
            claim=None,
            next_try_at=now + timedelta(seconds=wait),
            last_error=f"{type(error).__name__}: {error}"[:500],
            failed_at=now if give_up else None,
        )
    )
    db.session.commit()
    if give_up:
        log.error(
            "mail %s given up after %s tries since %s: %s",
            mail_id,
            attempts,
            f"{row['created_at']:%Y-%m-%d %H:%M}Z",
            type(error).__name__,
        )
    else:
        log.warning("mail %s not sent (try %s): %s", mail_id, attempts, type(error).__name__)


def run_sender(app) -> None:
    """Send pending mail every MAIL_SEND_INTERVAL seconds, forever (``python app.py``
    runs it as a background task). A failure is logged and the loop goes on."""
    run_every(app, app.config["MAIL_SEND_INTERVAL"], send_pending, "the mail sender run")


def run_every(app, interval: float, work: Callable[[], object], name: str) -> None:
    """Call ``work`` in an app context every ``interval`` seconds, forever; a failure
    is logged and the loop goes on (the database may be away for a moment)."""
    while True:
        with app.app_context():
            try:
                work()
            except Exception as e:  # noqa: BLE001
                if storage.unreachable(e):
                    storage.note(e, name)  # one line, not a traceback every round
                else:
                    log.exception("%s failed", name)
                storage.let_go()
            finally:
                db.session.remove()
        socketio.sleep(interval)


_MESSAGE_FIELDS = ("to", "subject", "body", "html", "headers")


def message(
    to: str, subject: str, body: str, html: str | None = None, headers: dict | None = None
) -> EmailMessage:
    """The mail as sent: plain text, plus an HTML alternative when there is one."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    # After the content: setting it clears every Content-* header (Content-Language).
    for name, value in (headers or {}).items():
        msg[name] = value
    return msg


class Transport:
    """Where one run's mail goes. With MAIL_SERVER: one SMTP connection (STARTTLS, or
    implicit TLS with MAIL_USE_SSL), opened at the first mail and kept for the whole
    run; a broken connection is dropped and the next mail opens a new one, but a server
    that cannot be reached is tried once per run. Without: one ``.eml`` file per mail
    in MAIL_OUTBOX_DIR (the tests collect them in a list instead)."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.smtp: smtplib.SMTP | None = None
        self.unreachable: Exception | None = None

    def send(self, mail_id: int, msg: EmailMessage) -> None:
        if not self.cfg["MAIL_SERVER"]:
            _write_file(mail_id, msg)
            return
        if self.unreachable is not None:
            raise self.unreachable
        if self.smtp is None:
            try:
                self.smtp = self._connect()
            except (OSError, smtplib.SMTPException) as e:
                self.unreachable = e
                raise
        try:
            self.smtp.send_message(msg)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        if cfg["MAIL_USE_SSL"]:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10)
        else:
            smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10)
        try:
            if cfg["MAIL_USE_TLS"] and not cfg["MAIL_USE_SSL"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _write_file(mail_id: int, msg: EmailMessage) -> None:
    outbox = current_app.extensions.get("kring_outbox")
    if outbox is not None:  # tests
        outbox.append(msg)
        return
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    # Named by time and outbox id, so the names sort in sending order and never clash.
    name = f"{utcnow():%Y%m%d-%H%M%S}-{mail_id:06d}"
    path = folder / f"{name}.eml"
    if path.exists():
        path = folder / f"{name}-{secrets.token_hex(4)}.eml"
    with open(path, "xb") as f:
        f.write(bytes(msg))
    path.chmod(0o600)
