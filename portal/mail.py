"""Outgoing email, through a transactional outbox.

A request never talks to a mail server. ``queue_mail`` adds a row to ``outbox_mail``
in the same transaction as its cause (a reset link, an email change), so a
rolled-back cause sends nothing and a slow or broken mail server cannot change what
a request answers. ``send_pending`` delivers what is waiting; it runs every few
seconds inside ``python app.py`` and on demand as ``flask --app app kring send-mail``
(cron, a systemd timer). Several runs at once are safe: each row is taken by one
conditional ``UPDATE`` that only one run can win, and marked sent by that run only.
A run that dies after sending but before marking the row sent leaves it to be sent
again after its lease (at least once, never lost).

Delivery: SMTP when MAIL_SERVER is set; otherwise one file per mail in
MAIL_OUTBOX_DIR (instance/outbox), so a developer can read it without any mail
server. Mail bodies may carry a secret link, so they are never written to the log.

No address gets more than MAIL_PER_ADDRESS_PER_HOUR mails (counted from the outbox
rows to it made in the last hour): beyond that a mail is dropped quietly and the
caller answers as usual, so nobody can fill someone's mailbox through a form.

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
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, update

from portal.extensions import db, socketio
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
    to: str, subject: str = "", body: str = "", *, dedupe_key: str, kind: str | None = None
) -> None:
    """Queue a mail in the current transaction (the caller commits).

    ``dedupe_key`` names the cause ("reset:<token id>"): a cause queues its mail once.
    With ``kind``, the sender builds the mail (see ``register_builder``). Beyond
    MAIL_PER_ADDRESS_PER_HOUR mails to ``to`` in the last hour, nothing is queued:
    the same statements run either way up to the insert, and the caller cannot tell.
    """
    exists = db.session.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == dedupe_key))
    if exists is not None:
        return
    lately = db.session.scalar(
        select(func.count())
        .select_from(OutboxMail)
        .where(OutboxMail.to == to, OutboxMail.created_at > utcnow() - timedelta(hours=1))
    )
    if lately >= current_app.config["MAIL_PER_ADDRESS_PER_HOUR"]:
        log.info("mail to one address dropped: over MAIL_PER_ADDRESS_PER_HOUR")
        return
    db.session.add(
        OutboxMail(
            to=to, subject=str(subject)[:200], body=str(body), dedupe_key=dedupe_key, kind=kind
        )
    )
    db.session.flush()


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
        OutboxMail.attempts < cfg["MAIL_MAX_ATTEMPTS"],
        (OutboxMail.next_try_at.is_(None)) | (OutboxMail.next_try_at <= now),
    )


def send_pending(limit: int = 100) -> int:
    """Send what is waiting; return how many mails went out.

    Never raises because a mail could not be sent: the row keeps its error, counts
    the try, and waits longer before the next one; after MAIL_MAX_ATTEMPTS it stays
    unsent for an operator to look at.
    """
    cfg = current_app.config
    ids = db.session.scalars(
        select(OutboxMail.id).where(*_pending(utcnow())).order_by(OutboxMail.id).limit(limit)
    ).all()
    db.session.commit()
    sent = 0
    for mail_id in ids:
        claim = secrets.token_hex(16)
        now = utcnow()
        # The claim: only one run's UPDATE finds the row still pending.
        row = db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, *_pending(now))
            .values(
                claim=claim,
                attempts=OutboxMail.attempts + 1,
                next_try_at=now + timedelta(seconds=cfg["MAIL_CLAIM_LEASE_SECONDS"]),
            )
            .returning(
                OutboxMail.to,
                OutboxMail.subject,
                OutboxMail.body,
                OutboxMail.attempts,
                OutboxMail.kind,
            )
        ).first()
        db.session.commit()
        if row is None:
            continue  # another run has it
        to, subject, body, attempts, kind = row
        try:
            if kind is not None:
                built = _build(mail_id, claim, kind, to)
                if built is None:
                    continue  # nothing to send (an address without an account)
                subject, body = built
            _deliver(mail_id, to, subject, body)
        except Exception as e:  # noqa: BLE001 (any failure: keep the row for later)
            db.session.rollback()
            wait = min(30 * 2 ** (attempts - 1), 3600)
            db.session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == mail_id, OutboxMail.claim == claim)
                .values(
                    claim=None,
                    next_try_at=utcnow() + timedelta(seconds=wait),
                    last_error=f"{type(e).__name__}: {e}"[:500],
                )
            )
            db.session.commit()
            log.warning("mail %s not sent (try %s): %s", mail_id, attempts, type(e).__name__)
            continue
        db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.claim == claim)
            # The body may hold a secret link: once sent, the database forgets it.
            .values(sent_at=utcnow(), last_error=None, body="")
        )
        db.session.commit()
        sent += 1
    return sent


def run_sender(app) -> None:
    """Send pending mail every MAIL_SEND_INTERVAL seconds, forever (``python app.py``
    runs it as a background task). A failure is logged and the loop goes on."""
    interval = app.config["MAIL_SEND_INTERVAL"]
    while True:
        with app.app_context():
            try:
                send_pending()
            except Exception:  # noqa: BLE001 (the database may be away for a moment)
                log.exception("the mail sender run failed")
                db.session.rollback()
            finally:
                db.session.remove()
        socketio.sleep(interval)


def _deliver(mail_id: int, to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    cfg = current_app.config
    if cfg["MAIL_SERVER"]:
        with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
            smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            smtp.send_message(msg)
        return
    outbox = current_app.extensions.get("kring_outbox")
    if outbox is not None:  # tests
        outbox.append(msg)
        return
    folder = Path(cfg["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    # Named by time and outbox id, so the names sort in sending order and never clash.
    name = f"{utcnow():%Y%m%d-%H%M%S}-{mail_id:06d}"
    path = folder / f"{name}.eml"
    if path.exists():
        path = folder / f"{name}-{secrets.token_hex(4)}.eml"
    with open(path, "xb") as f:
        f.write(bytes(msg))
    path.chmod(0o600)
