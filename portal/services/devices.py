"""A person's devices for push: added from "Tell me on this device", listed, removed.

A device is what its browser's ``PushManager.subscribe`` gave back: the push service's
address for it (``endpoint``) and the two keys the payload is encrypted to (``p256dh``,
``auth``; RFC 8291). All three come from the browser, so they are checked here: the
address must be https on a known push service (``PUSH_SERVICE_HOSTS``: the sender
posts to it, so it must not point at a machine of ours), the keys must be base64url of
the right sizes, and ``p256dh`` a real point on P-256.

One browser has one address per site: when a second person switches push on in the
same browser, the device becomes theirs (the last one who asked gets the news there).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from portal.extensions import db
from portal.models import PushSubscription
from portal.models.types import utcnow
from portal.services import ServiceError

MAX_ENDPOINT = 1000  # the column's size
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# What an address may be made of (RFC 3986): no backslash, space, control character or
# anything else that one URL parser skips and another stops at. The check below reads
# the address with urllib.parse while the sender (requests, urllib3) reads it again:
# ``https://10.0.0.5\.push.apple.com/`` has the host "10.0.0.5\.push.apple.com" for
# the first and 10.0.0.5 for the second. A host is plain DNS labels.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
NOT_A_DEVICE = _l("This browser gave us something we cannot use. Please try again later.")


def devices(user_id: int) -> list[PushSubscription]:
    """The person's devices, the newest first."""
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user_id)
            .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
        )
    )


def b64url_bytes(text: str | None, size: int) -> bytes | None:
    """``text`` as base64url (padding optional) decoding to exactly ``size`` bytes."""
    if not text or len(text) > 2 * size or not _B64URL.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _host_allowed(host: str) -> bool:
    for allowed in current_app.config["PUSH_SERVICE_HOSTS"]:
        if allowed.startswith(".") and host.endswith(allowed):
            return True
        if host == allowed:
            return True
    return False


def check_endpoint(endpoint: str | None) -> str:
    """The push service address, or ServiceError: https, not too long, no user name or
    password in it, on a push service we know."""
    endpoint = (endpoint or "").strip()
    if not endpoint or len(endpoint) > MAX_ENDPOINT or not _URL_CHARS.fullmatch(endpoint):
        raise ServiceError(NOT_A_DEVICE)
    try:
        parts = urlsplit(endpoint)
        port = parts.port  # raises on a port that is not a number
        sent_to = parse_url(endpoint)  # where the sender will really connect
    except (ValueError, LocationParseError):
        raise ServiceError(NOT_A_DEVICE) from None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.username or parts.password or parts.fragment:
        raise ServiceError(NOT_A_DEVICE)
    if not _HOST.fullmatch(host) or (sent_to.host, sent_to.port) != (host, port):
        raise ServiceError(NOT_A_DEVICE)
    if not _host_allowed(host):
        raise ServiceError(NOT_A_DEVICE)
    return endpoint


def check_keys(p256dh: str | None, auth: str | None) -> tuple[str, str]:
    """The two keys, or ServiceError: the browser's public key (an uncompressed P-256
    point, 65 bytes) and its auth secret (16 bytes), both base64url."""
    point = b64url_bytes(p256dh, 65)
    secret = b64url_bytes(auth, 16)
    if point is None or secret is None:
        raise ServiceError(NOT_A_DEVICE)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise ServiceError(NOT_A_DEVICE) from None
    return p256dh.rstrip("="), auth.rstrip("=")


_BROWSERS = (  # the first that matches names the browser (order matters)
    ("SamsungBrowser/", "Samsung Internet"),
    ("Edg", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("Linux", "Linux"),
)


def label_for(user_agent: str | None) -> str:
    """A name a person recognises their device by: "Chrome on Android"."""
    ua = user_agent or ""
    browser = next((name for key, name in _BROWSERS if key in ua), None)
    system = next((name for key, name in _SYSTEMS if key in ua), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)[:80]
    return (browser or system or _("A browser"))[:80]


def add_device(
    user,
    *,
    endpoint: str | None,
    p256dh: str | None,
    auth: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> PushSubscription:
    """Remember a device of ``user`` (or take it over: see the module docstring)."""
    endpoint = check_endpoint(endpoint)
    p256dh, auth = check_keys(p256dh, auth)
    device = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint).with_for_update()
    )
    if device is None or device.user_id != user.id:
        _room_for_one_more(user.id)
    if device is None:
        device = PushSubscription(endpoint=endpoint)
        db.session.add(device)
    device.user_id = user.id
    device.p256dh, device.auth = p256dh, auth
    device.label = label_for(user_agent)
    device.created_at = now or utcnow()
    db.session.flush()
    return device


def _room_for_one_more(user_id: int) -> None:
    limit = current_app.config["PUSH_MAX_DEVICES"]
    held = db.session.scalar(
        select(func.count(PushSubscription.id)).where(PushSubscription.user_id == user_id)
    )
    if held >= limit:
        raise ServiceError(
            _(
                "You get news on %(count)d devices already. Please remove one first.",
                count=limit,
            )
        )


def remove_device(device: PushSubscription) -> None:
    """Forget a device (``access.access_device`` made sure it is the person's own)."""
    db.session.delete(device)
    db.session.flush()
