"""Push to the phone, in a real browser, as far as a browser without internet can go.

What is real here: the manifest link and file, the service worker registering at /sw.js
with scope "/", push.js asking for permission and subscribing with the page's VAPID key,
the subscription posted with the CSRF token and listed under "Devices that tell you",
Remove, and the worker's answer to a push (delivered through Chromium's DevTools, so the
real "push" handler runs and shows its notification).

What cannot be tested here, and why: headless Chromium cannot reach a real push service
(no internet; Chromium's own push goes through Google's servers), so
``PushManager.subscribe`` is replaced by a stand-in that hands back a subscription with
real keys; what a push service does with Kring's request is tested in
tests/test_push.py, with a push service of our own that decrypts it. A click on the
shown notification ("notificationclick" opens /notifications) needs a notification
on a screen to click, which headless Chromium does not have.
"""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from .conftest import Person
from .test_foundation import join

pytestmark = pytest.mark.e2e


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _stand_in_push_manager(p: Person) -> str:
    """Replace PushManager's subscribe with one that needs no push service; returns the
    endpoint it will hand out."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    endpoint = f"https://fcm.googleapis.com/fcm/send/e2e-{_b64(os.urandom(9))}"
    sub = {"endpoint": endpoint, "keys": {"p256dh": _b64(point), "auth": _b64(os.urandom(16))}}
    p.page.add_init_script(
        """(sub => {
          if (!window.PushManager) return;
          PushManager.prototype.getSubscription = async () => null;
          PushManager.prototype.subscribe = async function (options) {
            sessionStorage.setItem("askedKey",
              JSON.stringify(Array.from(new Uint8Array(options.applicationServerKey))));
            return { endpoint: sub.endpoint, options, toJSON: () => sub,
                     unsubscribe: async () => true };
          };
        })(SUBSCRIPTION);""".replace("SUBSCRIPTION", json.dumps(sub))
    )
    return endpoint


def _deliver_push(p: Person, origin: str, payload: str) -> None:
    """Hand the service worker a push, as the browser does when one arrives."""
    cdp = p.context.new_cdp_session(p.page)
    registrations: dict[str, tuple[str, bool]] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.update(
            (r["registrationId"], (r.get("scopeURL", ""), r.get("isDeleted", False)))
            for r in e["registrations"]
        ),
    )
    cdp.send("ServiceWorker.enable")
    # The browser is shared by the whole session: other tests' servers (other ports)
    # have registered the worker too. Only this server's count, and under load the
    # browser may take a while to report it: wait for it (up to 10 s).
    deadline = time.monotonic() + 10
    while True:
        p.page.wait_for_timeout(100)
        live = [
            rid
            for rid, (scope, deleted) in registrations.items()
            if not deleted and scope.startswith(origin + "/")
        ]
        if live or time.monotonic() > deadline:
            break
    assert live, f"no service worker registration reported for {origin}"
    # Every registration of this origin gets the push; the test reads this person's.
    for rid in live:
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": rid, "data": payload},
        )


def test_switch_on_push_on_this_device_and_remove_it(live_server, person):
    _circle_id, url = live_server.create_circle("Circle around Jip", "Noor")
    noor = person("Noor")
    noor.context.grant_permissions(["notifications"], origin=live_server.url)
    endpoint = _stand_in_push_manager(noor)
    join(noor, url, username="noor-push")
    page = noor.page

    # Installable: every page links the manifest, which names Kring and its icons.
    manifest = page.locator('link[rel="manifest"]').get_attribute("href")
    got = page.request.get(manifest)
    assert got.ok and got.headers["content-type"].startswith("application/manifest+json")
    assert got.json()["name"] == "Kring"

    page.goto("/account")
    section = page.locator("section#devices")
    expect(section.get_by_role("heading", name="News on your phone")).to_be_visible()
    expect(section.get_by_text("None yet.")).to_be_visible()
    # The worker registers at /sw.js for the whole site.
    scope, script = page.evaluate(
        "navigator.serviceWorker.ready.then(r => [r.scope, r.active.scriptURL])"
    )
    assert scope == live_server.url + "/" and script == live_server.url + "/sw.js"

    section.get_by_role("button", name="Tell me on this device").click()
    expect(
        page.get_by_role("status").filter(has_text="This device will now tell you")
    ).to_be_visible()
    row = section.locator("li.row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Chrome on Linux")
    expect(row.locator("time")).to_be_visible()
    # push.js subscribed with the server's VAPID key (the page's data-key).
    key = base64.urlsafe_b64decode(section.get_attribute("data-key") + "=")
    asked = bytes(json.loads(page.evaluate("sessionStorage.getItem('askedKey')")))
    assert len(key) == 65 and asked == key
    noor.screenshot("push-devices")

    # A push arrives: the worker shows "News in Kring" and nothing else.
    _deliver_push(noor, live_server.url, json.dumps({"title": "News in Kring"}))
    shown = _shown_notifications(page)
    assert shown == [{"title": "News in Kring", "body": "", "tag": "kring-news"}]
    # A push that tries to say more is still shown as the plain title.
    _deliver_push(noor, live_server.url, json.dumps({"title": "x" * 200, "body": "secret"}))
    page.wait_for_timeout(300)
    shown = page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(ns => ns.map(n => [n.title, n.body]))"
    )
    assert shown == [["News in Kring", ""]]

    section.get_by_role("button", name="Remove Chrome on Linux").click()
    expect(page.get_by_role("status").filter(has_text="no longer gets news")).to_be_visible()
    expect(section.get_by_text("None yet.")).to_be_visible()
    assert endpoint  # handed to the server once, never shown on the page
    assert endpoint not in page.content()


def _shown_notifications(page, timeout: float = 10.0) -> list[dict]:
    """The notifications the worker shows, once there is one (the worker handles the
    push on its own time; under load that can take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = page.evaluate(
            "navigator.serviceWorker.ready.then(r => r.getNotifications())"
            ".then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag})))"
        )
        if shown or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(100)
