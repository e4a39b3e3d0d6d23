"""Web Push for real: a push service on 127.0.0.1 receives what ``portal.push.run`` sends.

The test plays the browser: it makes the device's ECDH key pair and auth secret, as
``PushManager.subscribe`` does, and DECRYPTS each push it receives with them
(``http_ece``, RFC 8291), so the encryption is checked end to end. The push service
checks the VAPID signature (RFC 8292) against the server's public key, as a real one
does. It speaks HTTPS with a certificate made for the test (requests trusts it through
REQUESTS_CA_BUNDLE), because Kring only posts to https addresses.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from py_vapid import Vapid
from sqlalchemy import func, select

from portal import push
from portal.models import Notification, PushDelivery, PushSubscription, Role
from portal.services import devices
from portal.services import notifications as news

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- The push service ------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("push-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Received:
    path: str
    headers: dict  # names in lower case
    body: bytes


@dataclass
class PushService:
    origin: str
    received: list[Received] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # path -> status (default 201)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def to(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/push/{name}"]


@pytest.fixture
def service(app, certificate, monkeypatch):
    cert_file, key_file = certificate
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            svc: PushService = holder["service"]
            time.sleep(svc.delay)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with svc.lock:
                svc.received.append(Received(self.path, headers, body))
                status = svc.answers.get(self.path, 201)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    holder["service"] = svc = PushService(origin=f"https://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    app.config["PUSH_SERVICE_HOSTS"] = ["127.0.0.1"]
    yield svc
    server.shutdown()
    server.server_close()


# --- The browser ---------------------------------------------------------------------------


@dataclass
class Browser:
    """A device's push keys, as PushManager.subscribe makes them."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def _device(db, service, user, name: str, ua: str = "Mozilla/5.0 (Linux; Android 14) Chrome/131"):
    browser = Browser.new()
    devices.add_device(
        user,
        endpoint=service.endpoint(name),
        p256dh=browser.p256dh,
        auth=b64(browser.auth),
        user_agent=ua,
        now=NOW,
    )
    db.session.commit()
    return browser


def _circle_with_news(db, make_circle, add_member, *names):
    """A circle in which Anna mentions each of ``names``: one news line each."""
    circle, _ = make_circle("Circle around Jip")
    anna = add_member(circle, Role.CENTRAL, "Anna Secretname")
    people = [add_member(circle, Role.MEMBER, n) for n in names]
    news.notify(people, "mention", ref_id=1, actor=anna, now=NOW - dt.timedelta(minutes=5))
    db.session.commit()
    return circle, anna, people


def _check_vapid(app, received: Received, service: PushService) -> dict:
    """What a push service checks: the VAPID token is signed by the key it names, that
    key is the server's, and its claims name this push service and the operator."""
    auth = received.headers["authorization"]
    assert auth.startswith("vapid t=")
    assert Vapid.verify(auth), "the VAPID signature does not verify"
    parts = dict(p.split("=", 1) for p in auth.split(" ", 1)[1].split(","))
    assert parts["k"] == push.public_key()
    claims_b64 = parts["t"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    assert claims["aud"] == service.origin
    assert claims["sub"] == app.config["VAPID_SUBJECT"]
    assert claims["exp"] > time.time()
    return claims


# --- Tests -----------------------------------------------------------------------------------


def test_a_push_is_signed_encrypted_and_says_only_news_in_kring(
    app, db, service, make_circle, add_member
):
    _c, _anna, (ben,) = _circle_with_news(db, make_circle, add_member, "Ben Hiddenname")
    phone = _device(db, service, ben.user, "ben-phone")
    laptop = _device(db, service, ben.user, "ben-laptop")

    assert push.run(NOW) == 2
    for name, browser in (("ben-phone", phone), ("ben-laptop", laptop)):
        (got,) = service.to(name)
        _check_vapid(app, got, service)
        assert got.headers["content-encoding"] == "aes128gcm"
        assert got.headers["topic"] == push.TOPIC  # a newer push replaces an unfetched one
        assert int(got.headers["ttl"]) == app.config["PUSH_TTL_SECONDS"]
        # The circle, the names, the kind: none of it is in the push, even encrypted.
        for secret in (b"Jip", b"Anna", b"Secretname", b"Hiddenname", b"mention"):
            assert secret not in got.body
        assert browser.decrypt(got.body) == {"title": "News in Kring"}
    # Encrypted to each device: the other device's keys cannot read it.
    with pytest.raises(Exception):  # noqa: B017  (http_ece raises a bare exception type)
        laptop.decrypt(service.to("ben-phone")[0].body)

    line = db.session.scalars(select(Notification).where(Notification.user_id == ben.user_id)).one()
    assert line.pushed_at == NOW
    sent = db.session.scalars(select(PushDelivery)).all()
    assert len(sent) == 2 and all(d.sent_at == NOW for d in sent)

    # Nothing new: the next run sends nothing. New news: one push more per device.
    assert push.run(NOW + dt.timedelta(minutes=1)) == 0
    assert len(service.received) == 2
    news.notify([ben], "help", ref_id=2, now=NOW + dt.timedelta(minutes=2))
    db.session.commit()
    assert push.run(NOW + dt.timedelta(minutes=3)) == 2
    assert len(service.to("ben-phone")) == 2


def test_the_payload_is_in_the_persons_language(app, db):
    assert json.loads(push.payload("en")) == {"title": "News in Kring"}
    for lang in ("nl", "fr"):
        body = json.loads(push.payload(lang))
        assert list(body) == ["title"] and 0 < len(body["title"]) <= 60


def test_only_visible_unread_news_of_people_with_a_device_is_pushed(
    app, db, service, make_circle, add_member
):
    circle, _anna, (ben, cas, dirk, eva) = _circle_with_news(
        db, make_circle, add_member, "Ben", "Cas", "Dirk", "Eva"
    )
    for m in (ben, cas, dirk):
        _device(db, service, m.user, f"phone-{m.id}")
    cas.muted = True  # muted the circle after the news came
    news.mark_read(dirk.user_id)  # read it already
    db.session.commit()
    assert push.run(NOW) == 1
    assert [r.path for r in service.received] == [f"/push/phone-{ben.id}"]
    # Eva has no device: her line waits, unpushed, in case she adds one today.
    eva_line = db.session.scalars(select(Notification).where(Notification.user_id == eva.user_id))
    assert eva_line.one().pushed_at is None
    _device(db, service, eva.user, "phone-eva")
    assert push.run(NOW + dt.timedelta(minutes=1)) == 1
    # ... but not news older than a day, when she adds a device later.
    news.notify([eva], "help", ref_id=3, now=NOW)
    db.session.commit()
    assert push.run(NOW + dt.timedelta(hours=25)) == 0


def test_410_or_404_from_the_push_service_forgets_the_device(
    app, db, service, make_circle, add_member
):
    _c, _anna, (ben,) = _circle_with_news(db, make_circle, add_member, "Ben")
    _device(db, service, ben.user, "gone")
    _device(db, service, ben.user, "unknown")
    _device(db, service, ben.user, "fine")
    service.answers["/push/gone"] = 410
    service.answers["/push/unknown"] = 404
    assert push.run(NOW) == 1
    left = db.session.scalars(select(PushSubscription.endpoint)).all()
    assert left == [service.endpoint("fine")]
    assert db.session.scalar(select(func.count()).select_from(PushDelivery)) == 1


def test_a_failed_push_is_tried_again_later_then_given_up(
    app, db, service, make_circle, add_member, caplog, monkeypatch
):
    _c, _anna, (ben, cas) = _circle_with_news(db, make_circle, add_member, "Ben", "Cas")
    ben_phone = _device(db, service, ben.user, "ben")
    _device(db, service, cas.user, "cas")
    service.answers["/push/ben"] = 500
    service.answers["/push/cas"] = 503

    assert push.run(NOW) == 0
    assert len(service.to("ben")) == 1
    ben_push = db.session.scalars(
        select(PushDelivery).join(PushSubscription).where(PushSubscription.user_id == ben.user_id)
    ).one()
    assert ben_push.sent_at is None and ben_push.attempts == 1
    assert ben_push.next_try_at == NOW + dt.timedelta(minutes=1)
    assert ben_push.last_error == "HTTP 500"

    # Too soon: nothing is tried. After the pause: tried again, the next pause is longer.
    assert push.run(NOW + dt.timedelta(seconds=30)) == 0
    assert len(service.to("ben")) == 1
    assert push.run(NOW + dt.timedelta(minutes=1)) == 0
    assert len(service.to("ben")) == 2
    db.session.refresh(ben_push)
    assert ben_push.next_try_at == NOW + dt.timedelta(minutes=3)

    # The push service is back for Ben: sent, once.
    service.answers["/push/ben"] = 201
    assert push.run(NOW + dt.timedelta(minutes=3)) == 1
    assert ben_phone.decrypt(service.to("ben")[-1].body) == {"title": "News in Kring"}
    assert push.run(NOW + dt.timedelta(minutes=30)) == 0
    assert len(service.to("ben")) == 3

    # Cas's keeps failing: after a day it is given up, with a line in the log.
    tries_before = len(service.to("cas"))
    # Alembic's logging setup (the test schema is built by the migrations) switches
    # off the loggers that existed before it; a real sender run does not migrate.
    monkeypatch.setattr(push.log, "disabled", False)
    with caplog.at_level(logging.WARNING, logger="portal.push"):
        assert push.run(NOW + dt.timedelta(hours=24, minutes=1)) == 0
    assert len(service.to("cas")) == tries_before  # not tried any more
    assert "given up" in caplog.text
    cas_push = db.session.scalars(
        select(PushDelivery).join(PushSubscription).where(PushSubscription.user_id == cas.user_id)
    ).one()
    assert cas_push.claim == push.GIVEN_UP and cas_push.sent_at is None
    assert push.run(NOW + dt.timedelta(hours=30)) == 0
    assert len(service.to("cas")) == tries_before


def test_a_push_service_that_does_not_answer_is_a_failure_like_any_other(
    app, db, service, make_circle, add_member
):
    _c, _anna, (ben,) = _circle_with_news(db, make_circle, add_member, "Ben")
    _device(db, service, ben.user, "ben")
    # The device's service has gone away (nobody listens there any more).
    db.session.execute(
        PushSubscription.__table__.update().values(endpoint="https://127.0.0.1:9/push/ben")
    )
    db.session.commit()
    assert push.run(NOW) == 0
    delivery = db.session.scalars(select(PushDelivery)).one()
    assert delivery.sent_at is None and delivery.last_error
    assert delivery.next_try_at == NOW + dt.timedelta(minutes=1)


def test_a_run_that_died_mid_way_leaves_its_pushes_to_the_next_after_the_lease(
    app, db, service, make_circle, add_member
):
    _c, _anna, (ben,) = _circle_with_news(db, make_circle, add_member, "Ben")
    _device(db, service, ben.user, "ben")
    push.record(NOW)
    assert len(push._claim(NOW)) == 1  # claimed, then the process died before sending
    assert push.run(NOW + dt.timedelta(minutes=1)) == 0  # still someone else's
    lease = app.config["PUSH_CLAIM_LEASE_SECONDS"]
    assert push.run(NOW + dt.timedelta(seconds=lease)) == 1
    assert len(service.to("ben")) == 1


def test_recording_twice_makes_each_push_once(app, db, service, make_circle, add_member):
    _c, _anna, (ben,) = _circle_with_news(db, make_circle, add_member, "Ben")
    _device(db, service, ben.user, "ben")
    assert push.record(NOW) == 1
    assert push.record(NOW) == 0  # the lines are marked: nothing new to record
    # A run that recorded the batch but crashed before marking would record the same
    # key again: the unique key keeps it one push.
    db.session.execute(Notification.__table__.update().values(pushed_at=None))
    db.session.commit()
    push.record(NOW)
    assert db.session.scalar(select(func.count()).select_from(PushDelivery)) == 1


@pytest.mark.postgres_only
def test_two_runs_at_once_push_each_device_once(
    app, db, service, make_circle, add_member, monkeypatch
):
    names = [f"Person {i}" for i in range(6)]
    _c, _anna, people = _circle_with_news(db, make_circle, add_member, *names)
    for m in people:
        for k in range(2):
            _device(db, service, m.user, f"{m.id}-{k}")
    service.delay = 0.02  # the runs overlap while they send ...
    monkeypatch.setattr(push, "CHUNK", 2)  # ... and take turns claiming small chunks
    db.session.rollback()
    barrier = threading.Barrier(2)
    counts: list = [None, None]

    def one_run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                counts[i] = push.run(NOW)
            except BaseException as e:  # reported below
                counts[i] = e

    threads = [threading.Thread(target=one_run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == 12, counts
    paths = sorted(r.path for r in service.received)
    assert len(paths) == 12 and len(set(paths)) == 12, paths
    assert db.session.scalar(select(func.count()).select_from(PushDelivery)) == 12


# --- VAPID keys ------------------------------------------------------------------------------


def test_vapid_key_is_made_once_and_kept_private(app, tmp_path):
    path = tmp_path / "instance" / "vapid.pem"
    app.config["VAPID_KEY_FILE"] = str(path)
    app.extensions.pop("kring_vapid", None)
    first = push.public_key()
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert len(base64.urlsafe_b64decode(first + "=")) == 65
    app.extensions.pop("kring_vapid", None)
    assert push.public_key() == first  # read back, not made again
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_vapid_keys_from_the_environment(app):
    key = Vapid()
    key.generate_keys()
    raw = key.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = b64(
        key.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    app.config.update(VAPID_PRIVATE_KEY=b64(raw), VAPID_PUBLIC_KEY=public)
    app.extensions.pop("kring_vapid", None)
    assert push.public_key() == public
    other = Vapid()
    other.generate_keys()
    app.config["VAPID_PUBLIC_KEY"] = b64(
        other.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    app.extensions.pop("kring_vapid", None)
    with pytest.raises(RuntimeError, match="does not belong"):
        push.public_key()
    app.extensions.pop("kring_vapid", None)


def test_a_push_failure_in_the_log_never_names_the_device_address():
    """A device's push address is a secret capability; a connection error's text names
    it (requests puts the URL in its message). The log keeps the status or the class."""
    address_error = (
        "ConnectionError: HTTPSConnectionPool(host='fcm.googleapis.com', port=443): Max "
        "retries exceeded with url: /fcm/send/dQw4w9WgXcQ-secret-device-token"
    )
    assert push._for_log(address_error) == "ConnectionError"
    assert push._for_log("HTTP 503") == "HTTP 503"
