"""Kring as an app: the manifest, the service worker, and a person's devices for push.

The device routes are attacked as a stranger would: another person's device cannot be
seen or removed (its id answers like one that does not exist), a forged post without
the page's token adds nothing, and a subscription that points the server anywhere but
a push service over https (an address inside our network, plain http) is refused.
"""

from __future__ import annotations

import base64
import os
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from portal.models import PushSubscription
from portal.security import CSP

ANDROID_CHROME = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile"
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE_SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Safari/604.1"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subscription(name: str = "abc", host: str = "fcm.googleapis.com") -> dict:
    """What PushManager.subscribe gives a browser: an address and two keys."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": f"https://{host}/fcm/send/{name}-{b64(os.urandom(8))}",
        "p256dh": b64(point),
        "auth": b64(os.urandom(16)),
    }


def _token(browser) -> str:
    html = browser.get("/account").get_data(as_text=True)
    return re.search(r'data-csrf="([^"]+)"', html).group(1)


def _add(browser, sub: dict, ua: str = ANDROID_CHROME, token: str | None = None):
    data = {**sub, "csrf_token": token if token is not None else _token(browser)}
    return browser.post("/account/devices", data=data, headers={"User-Agent": ua})


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(PushSubscription))


@pytest.fixture
def two(new_client, login, make_user):
    """Anna and Bob, each signed in in their own browser."""
    anna, bob = make_user("Anna"), make_user("Bob")
    return (anna, login(new_client(), anna)), (bob, login(new_client(), bob))


# --- Manifest and service worker ------------------------------------------------------------


def test_the_manifest_makes_kring_installable(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    resp = client.get("/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    m = resp.get_json()
    assert (m["name"], m["start_url"], m["scope"], m["display"]) == (
        "Kring",
        "/",
        "/",
        "standalone",
    )
    assert m["theme_color"] == "#1d5c4d"  # --brand in kring.css
    css = client.get("/static/css/kring.css").get_data(as_text=True)
    assert f"--brand: {m['theme_color']};" in css
    sizes = {i["sizes"] for i in m["icons"]}
    assert {"192x192", "512x512", "any"} <= sizes
    for icon in m["icons"]:
        got = client.get(icon["src"])
        assert got.status_code == 200 and got.mimetype == icon["type"], icon
        if icon["type"] == "image/png":
            png = got.get_data()
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            assert f"{width}x{height}" == icon["sizes"]


def test_the_service_worker_is_served_from_the_root_and_caches_nothing(client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert (
        "no-store" in resp.headers["Cache-Control"] or "no-cache" in resp.headers["Cache-Control"]
    )
    js = resp.get_data(as_text=True)
    # Never a cache of private pages: no fetch handler, no Cache Storage at all.
    assert '"fetch"' not in js and "'fetch'" not in js and "onfetch" not in js
    assert "caches" not in js and "cache.put" not in js
    # Content-free: the notification shows the title and opens /notifications.
    assert '"News in Kring"' in js and '"/notifications"' in js
    assert "body:" not in js  # no text under the title


def test_the_csp_allows_our_worker_and_manifest_and_nothing_more(client):
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert csp == CSP
    rules = dict(rule.split(" ", 1) for rule in csp.split("; "))
    assert rules["worker-src"] == "'self'" and rules["manifest-src"] == "'self'"
    assert rules["script-src"] == "'self'" and rules["default-src"] == "'self'"
    assert rules["connect-src"] == "'self'" and rules["object-src"] == "'none'"
    assert "unsafe" not in csp


# --- Devices ------------------------------------------------------------------------------


def test_a_device_is_added_listed_and_removed(db, two):
    (anna, browser), _ = two
    resp = _add(browser, subscription())
    assert resp.status_code == 201 and resp.get_json() == {"ok": True}
    device = db.session.scalars(select(PushSubscription)).one()
    assert (device.user_id, device.label) == (anna.id, "Chrome on Android")
    page = browser.get("/account").get_data(as_text=True)
    assert "This device will now tell you when there is news." in page
    assert "Chrome on Android" in page and "Tell me on this device" in page
    assert f'name="device" value="{device.id}"' in page
    resp = browser.post(
        "/account/devices/remove", data={"device": device.id, "csrf_token": _token(browser)}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/account#devices"
    assert _count(db) == 0
    assert "This device no longer gets news from Kring." in browser.get("/account").get_data(
        as_text=True
    )


def test_labels_name_the_browser_and_the_system(app):
    from portal.services.devices import label_for

    with app.test_request_context():
        assert label_for(ANDROID_CHROME) == "Chrome on Android"
        assert label_for(WINDOWS_FIREFOX) == "Firefox on Windows"
        assert label_for(IPHONE_SAFARI) == "Safari on iPhone"
        assert label_for("") == "A browser"
        assert label_for("x" * 5000) == "A browser"


def test_nobody_sees_or_removes_another_persons_device(db, two):
    (anna, anna_browser), (bob, bob_browser) = two
    assert _add(anna_browser, subscription("anna"), ua=WINDOWS_FIREFOX).status_code == 201
    annas = db.session.scalars(select(PushSubscription)).one()

    # Bob's page lists only his own devices: none.
    page = bob_browser.get("/account").get_data(as_text=True)
    assert "Firefox on Windows" not in page and 'name="device"' not in page

    # Removing Anna's device by its id: the same 404 as an id that does not exist.
    token = _token(bob_browser)
    theirs = bob_browser.post(
        "/account/devices/remove", data={"device": annas.id, "csrf_token": token}
    )
    missing = bob_browser.post(
        "/account/devices/remove", data={"device": annas.id + 1000, "csrf_token": token}
    )
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_data() == missing.get_data()
    for junk in ("-1", "abc", str(2**63), ""):
        resp = bob_browser.post(
            "/account/devices/remove", data={"device": junk, "csrf_token": token}
        )
        assert resp.status_code in (302, 404), junk
    assert _count(db) == 1

    # What Bob adds is his, never Anna's: there is no field to name a person.
    sub = subscription("bob")
    assert _add(bob_browser, {**sub, "user_id": anna.id}).status_code == 201
    bobs = db.session.scalars(
        select(PushSubscription).where(PushSubscription.endpoint == sub["endpoint"])
    ).one()
    assert bobs.user_id == bob.id
    assert db.session.scalar(select(func.count()).where(PushSubscription.user_id == anna.id)) == 1


def test_without_the_pages_token_or_signed_out_nothing_is_added(db, two, client):
    (_anna, browser), _ = two
    assert _add(browser, subscription(), token="forged").status_code == 400
    resp = browser.post("/account/devices", data=subscription())
    assert resp.status_code == 400
    # Signed out: off to the login page (the token comes from the login page's form).
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    resp = client.post("/account/devices", data={**subscription(), "csrf_token": token})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert _count(db) == 0


BAD_ENDPOINTS = [
    "http://fcm.googleapis.com/fcm/send/abc",  # not https
    "https://127.0.0.1:6379/",  # a machine of ours: the server must not post there
    "https://localhost/admin",
    "https://10.0.0.5/push",
    "https://fcm.googleapis.com.evil.example/x",  # looks like a push service, is not
    "https://evilfcm.googleapis.com/x",
    "https://user:pw@fcm.googleapis.com/fcm/send/abc",
    "https://fcm.googleapis.com:99999/x",
    "https://fcm.googleapis.com/" + "a" * 1000,  # too long
    "javascript:alert(1)",
    "",
]


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_an_address_that_is_not_a_push_service_is_refused(db, two, endpoint):
    (_anna, browser), _ = two
    resp = _add(browser, {**subscription(), "endpoint": endpoint})
    assert resp.status_code == 400
    assert resp.get_json()["message"].startswith("This browser gave us something")
    assert _count(db) == 0


def test_the_known_push_services_are_accepted(db, two):
    (_anna, browser), _ = two
    for host in ("fcm.googleapis.com", "updates.push.services.mozilla.com",
                 "web.push.apple.com", "wns2-db5p.notify.windows.com"):  # fmt: skip
        assert _add(browser, subscription(host=host)).status_code == 201, host
    assert _count(db) == 4


def _bad_keys() -> list[dict]:
    good = subscription()
    not_on_curve = b"\x04" + b"\x01" * 64
    return [
        {"p256dh": good["p256dh"][:-4]},  # too short
        {"p256dh": b64(not_on_curve)},  # 65 bytes, but not a point of P-256
        {"p256dh": good["p256dh"] + "AAAA"},  # too long
        {"p256dh": "!!" + good["p256dh"][2:]},  # not base64url
        {"auth": b64(os.urandom(15))},
        {"auth": b64(os.urandom(32))},
        {"auth": "a+b/" * 5 + "aa"},  # base64, not base64url
        {"auth": ""},
    ]


@pytest.mark.parametrize("bad", _bad_keys())
def test_keys_of_the_wrong_kind_or_size_are_refused(db, two, bad):
    (_anna, browser), _ = two
    assert _add(browser, {**subscription(), **bad}).status_code == 400
    assert _count(db) == 0


def test_a_person_has_at_most_a_few_devices(app, db, two):
    (_anna, browser), _ = two
    app.config["PUSH_MAX_DEVICES"] = 3
    for i in range(3):
        assert _add(browser, subscription(str(i))).status_code == 201
    resp = _add(browser, subscription("one-too-many"))
    assert resp.status_code == 400 and "remove one first" in resp.get_json()["message"]
    assert _count(db) == 3


def test_a_shared_browser_belongs_to_the_last_person_who_switched_it_on(db, two):
    """One browser has one push address for Kring: when Bob switches push on where Anna
    had, the news there is Bob's, and Anna no longer sees the device in her list."""
    (anna, anna_browser), (bob, bob_browser) = two
    sub = subscription()
    assert _add(anna_browser, sub).status_code == 201
    assert _add(bob_browser, sub).status_code == 201
    device = db.session.scalars(select(PushSubscription)).one()
    assert device.user_id == bob.id
    assert "Chrome on Android" not in anna_browser.get("/account").get_data(as_text=True)


def test_the_devices_section_says_plainly_what_needs_javascript(db, two):
    (_anna, browser), _ = two
    html = browser.get("/account").get_data(as_text=True)
    assert '<script src="/static/js/push.js"></script>' in html
    # The button waits hidden for push.js; without it, the words say why.
    assert re.search(r"<button[^>]*data-push-button[^>]*hidden", html)
    assert "open this page in a browser that runs JavaScript" in html
    assert "None yet." in html
    key = re.search(r'data-key="([^"]+)"', html).group(1)
    assert len(base64.urlsafe_b64decode(key + "=")) == 65
