"""Web Push to people's phones: "News in Kring", and nothing more.

``run(now)`` is called by the sender run (``flask --app app kring send-notifications``),
never in a request. It works in two steps, each safe when two runs overlap:

1. **Record.** One conditional ``UPDATE`` marks every unread, visible news line of the
   last day that was not pushed yet as pushed (``pushed_at``), for people with a
   device, and hands back the lines it marked: a line is marked by one run only. In
   the same transaction, one ``PushDelivery`` per device of each of those people is
   recorded, its key naming the person, the batch (their highest line id) and the
   device (unique; ``ON CONFLICT DO NOTHING``).
2. **Send.** Deliveries due are taken in chunks by one conditional ``UPDATE`` each
   (a claim with a lease), sent with ``pywebpush`` (VAPID, RFC 8292; the payload
   encrypted to the device, RFC 8291) and marked sent. A push service answering 404
   or 410 means the device is gone: its row is deleted. Any other failure is tried
   again by a later run, after 1, 2, 4 ... minutes (at most an hour), and given up
   after PUSH_GIVE_UP_HOURS with a line in the log. A run that dies mid-way leaves
   its claims to expire; the next run sends them (at least once, never lost).

The payload is ``{"title": "News in Kring"}`` in the person's language: nothing about
which circle, who or what (a phone's lock screen is not private). The service worker
(static/js/sw.js) shows that title only and opens /notifications.

VAPID keys: VAPID_PRIVATE_KEY / VAPID_PUBLIC_KEY from the environment, or a key pair
made once and kept in VAPID_KEY_FILE (instance/vapid_private.pem, mode 0600).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.extensions import db
from portal.models import Circle, Membership, Notification, PushDelivery, PushSubscription, User
from portal.services import ServiceError
from portal.services.devices import check_endpoint
from portal.services.notifications import visible_lines

log = logging.getLogger(__name__)

GIVEN_UP = "given up"  # PushDelivery.claim of a push no run will try again
CHUNK = 100  # deliveries claimed at a time
TIMEOUT = 10  # seconds for one push service to answer
TOPIC = "kring-news"  # a newer push replaces one the phone has not fetched yet
GONE = (404, 410)
REFUSED = "not a push service"  # an address the device checks refuse today: forgotten


# --- VAPID keys ---------------------------------------------------------------------


def vapid() -> Vapid:
    """The server's VAPID key (made and kept once, see the module docstring)."""
    key = current_app.extensions.get("kring_vapid")
    if key is None:
        key = _load_vapid(current_app.config)
        current_app.extensions["kring_vapid"] = key
    return key


def public_key() -> str:
    """The application server key a browser subscribes with (base64url, 65 bytes)."""
    point = vapid().public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(point)


def _load_vapid(config) -> Vapid:
    private, public = config["VAPID_PRIVATE_KEY"], config["VAPID_PUBLIC_KEY"]
    if private or public:
        if not (private and public):
            raise RuntimeError("Set both VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY, or neither.")
        key = Vapid.from_string(private)
        made = key.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        if b64urlencode(made) != public.strip().rstrip("="):
            raise RuntimeError("VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY.")
        return key
    return _key_file(Path(config["VAPID_KEY_FILE"]))


def _key_file(path: Path) -> Vapid:
    """Read the key kept in ``path``, or make it: written to a private temporary file
    first and linked into place, so two processes starting at once agree on one key and
    nobody ever reads half a file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Vapid()
        key.generate_keys()
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_pem())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            tmp.unlink()
    return Vapid.from_file(str(path))


# --- The run ------------------------------------------------------------------------


def run(now: datetime) -> int:
    """Record what is new and send what is due; return how many pushes went out."""
    record(now)
    _give_up_stale(now)
    sent = 0
    with requests.Session() as http:
        http.max_redirects = 0  # a push service does not redirect; go nowhere else
        while chunk := _claim(now):
            sent += _send_chunk(http, chunk, now)
    return sent


def _insert(conn):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def record(now: datetime) -> int:
    """Step 1 (see the module docstring); commits. Returns the deliveries recorded."""
    since = now - timedelta(hours=current_app.config["PUSH_GIVE_UP_HOURS"])
    pending = [
        Notification.pushed_at.is_(None),
        Notification.read_at.is_(None),
        Notification.updated_at >= since,
    ]
    lines = (
        select(Notification.id)
        .join(Membership, Membership.user_id == Notification.user_id)
        .join(Circle, Circle.id == Notification.circle_id)
        .where(
            *pending,
            visible_lines(),
            select(PushSubscription.id)
            .where(PushSubscription.user_id == Notification.user_id)
            .exists(),
        )
        .correlate(None)  # a subquery of its own, not tied to the UPDATE's table
    )
    marked = db.session.execute(
        update(Notification)
        .where(*pending, Notification.id.in_(lines))
        .values(pushed_at=now)
        .returning(Notification.user_id, Notification.id)
        .execution_options(synchronize_session=False)
    ).all()
    batch: dict[int, int] = defaultdict(int)
    for user_id, line_id in marked:
        batch[user_id] = max(batch[user_id], line_id)
    rows = [
        {"subscription_id": sub_id, "key": f"{user_id}:{batch[user_id]}:{sub_id}",
         "created_at": now, "attempts": 0}
        for sub_id, user_id in db.session.execute(
            select(PushSubscription.id, PushSubscription.user_id).where(
                PushSubscription.user_id.in_(list(batch))
            )
        )
    ]  # fmt: skip
    if rows:
        conn = db.session.connection()
        stmt = _insert(conn)(PushDelivery.__table__).on_conflict_do_nothing(index_elements=["key"])
        conn.execute(stmt, rows)
    db.session.commit()
    return len(rows)


def _unfinished():
    return [
        PushDelivery.sent_at.is_(None),
        or_(PushDelivery.claim.is_(None), PushDelivery.claim != GIVEN_UP),
    ]


def _give_up_stale(now: datetime) -> None:
    """Pushes older than PUSH_GIVE_UP_HOURS that are not being sent: no use any more."""
    cutoff = now - timedelta(hours=current_app.config["PUSH_GIVE_UP_HOURS"])
    given_up = db.session.execute(
        update(PushDelivery)
        .where(
            *_unfinished(),
            PushDelivery.created_at < cutoff,
            or_(PushDelivery.next_try_at.is_(None), PushDelivery.next_try_at <= now),
        )
        .values(claim=GIVEN_UP, next_try_at=None)
        .returning(PushDelivery.id, PushDelivery.attempts, PushDelivery.last_error)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    for delivery_id, attempts, error in given_up:
        log.warning(
            "push %s given up after %s tries in %s hours: %s",
            delivery_id,
            attempts,
            current_app.config["PUSH_GIVE_UP_HOURS"],
            _for_log(error) if error else "never sent",
        )


@dataclass
class _Push:
    id: int
    claim: str
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    locale: str
    attempts: int
    created_at: datetime


def _claim(now: datetime) -> list[_Push]:
    """Take up to CHUNK due deliveries for this run (a lease: another run may take them
    over once it ends); commits."""
    token = secrets.token_hex(16)
    due = (
        select(PushDelivery.id)
        .where(
            *_unfinished(),
            or_(PushDelivery.next_try_at.is_(None), PushDelivery.next_try_at <= now),
        )
        .order_by(PushDelivery.id)
        .limit(CHUNK)
        # PostgreSQL: pass over the chunk another run is claiming right now and take
        # the next (SQLite has one writer at a time and no such clause). A CTE, so it
        # runs once, not again for each row the UPDATE looks at.
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    lease = now + timedelta(seconds=current_app.config["PUSH_CLAIM_LEASE_SECONDS"])
    ids = (
        db.session.execute(
            update(PushDelivery)
            .add_cte(due)
            .where(
                PushDelivery.id.in_(select(due.c.id)),
                *_unfinished(),
                or_(PushDelivery.next_try_at.is_(None), PushDelivery.next_try_at <= now),
            )
            .values(claim=token, next_try_at=lease, attempts=PushDelivery.attempts + 1)
            .returning(PushDelivery.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    pushes = [
        _Push(d.id, token, s.id, s.endpoint, s.p256dh, s.auth, locale or "en", d.attempts,
              d.created_at)
        for d, s, locale in db.session.execute(
            select(PushDelivery, PushSubscription, User.locale)
            .join(PushSubscription, PushSubscription.id == PushDelivery.subscription_id)
            .join(User, User.id == PushSubscription.user_id)
            .where(PushDelivery.id.in_(ids))
            .order_by(PushDelivery.id)
        )
    ]  # fmt: skip
    db.session.commit()
    return pushes


def payload(locale: str) -> str:
    """What a phone receives: the title only, in the person's language."""
    with force_locale(locale):
        return json.dumps({"title": _("News in Kring")}, ensure_ascii=False)


def _send_one(http: requests.Session, push: _Push) -> int | str | None:
    """None when sent; the status code or the failure otherwise. The address is checked
    again here, as when it was added: a device stored under older or looser rules (or
    PUSH_SERVICE_HOSTS changed since) is never posted to."""
    try:
        check_endpoint(push.endpoint)
    except ServiceError:
        return REFUSED
    try:
        webpush(
            {"endpoint": push.endpoint, "keys": {"p256dh": push.p256dh, "auth": push.auth}},
            data=payload(push.locale),
            vapid_private_key=vapid(),
            # A fresh dict each time: pywebpush writes the push service's origin into it.
            vapid_claims={"sub": current_app.config["VAPID_SUBJECT"]},
            ttl=current_app.config["PUSH_TTL_SECONDS"],
            headers={"Topic": TOPIC, "Urgency": "normal"},
            requests_session=http,
            timeout=TIMEOUT,
        )
    except WebPushException as e:
        return e.status_code or str(e.message)[:200]
    except Exception as e:  # noqa: BLE001 (one bad device must not stop everyone's pushes)
        return f"{type(e).__name__}: {e}"[:200]
    return None


def _send_chunk(http: requests.Session, chunk: list[_Push], now: datetime) -> int:
    """Send each push of ``chunk``, then write down how it went in a few statements
    for the whole chunk (only a failed push that will be tried again has its own);
    commits."""
    results = [(push, _send_one(http, push)) for push in chunk]
    sent = [push for push, failure in results if failure is None]
    # Gone (404/410), or an address the device checks refuse today: forget the device.
    forget = (*GONE, REFUSED)
    gone = [push.subscription_id for push, failure in results if failure in forget]
    if sent:
        db.session.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_([p.id for p in sent]), PushDelivery.claim == chunk[0].claim)
            .values(sent_at=now, claim=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(PushSubscription)
            .where(PushSubscription.id.in_({p.subscription_id for p in sent}))
            .values(last_sent_at=now)
            .execution_options(synchronize_session=False)
        )
    if gone:
        # The browser unsubscribed, or the person uninstalled: forget the device.
        db.session.execute(
            delete(PushSubscription)
            .where(PushSubscription.id.in_(gone))
            .execution_options(synchronize_session=False)
        )
    for push, failure in results:
        if failure is not None and failure not in forget:
            mine = [PushDelivery.id == push.id, PushDelivery.claim == push.claim]
            db.session.execute(
                update(PushDelivery).where(*mine).values(**_retry(push, now, failure))
            )
    db.session.commit()
    return len(sent)


def _for_log(error: str) -> str:
    """What a log line may say of a failed push: the HTTP status or the error's class.
    The rest of an exception's text can hold the device's push address (a requests
    error names the URL), which is a secret capability like a token."""
    return error if error.startswith("HTTP ") else error.split(":", 1)[0][:60]


def _retry(push: _Push, now: datetime, failure: int | str) -> dict:
    """A failed push: again after 1, 2, 4 ... minutes (at most an hour), or given up."""
    error = f"HTTP {failure}" if isinstance(failure, int) else failure
    give_up = now - push.created_at >= timedelta(hours=current_app.config["PUSH_GIVE_UP_HOURS"])
    if give_up:
        log.warning("push %s given up after %s tries: %s", push.id, push.attempts, _for_log(error))
        return {"claim": GIVEN_UP, "next_try_at": None, "last_error": error}
    pause = timedelta(minutes=min(2 ** max(push.attempts - 1, 0), 60))
    return {"claim": None, "next_try_at": now + pause, "last_error": error}
