// "Tell me on this device" on My account (templates/auth/_devices.html). It registers the
// service worker (/sw.js), asks the browser for permission, subscribes with the server's
// VAPID key and sends the subscription to Kring with the page's CSRF token. A file of its
// own: the CSP allows no inline script. What it says comes from the section's data-*
// attributes, already in the person's language.
"use strict";

(() => {
  const section = document.querySelector("[data-push]");
  if (!section) return;
  const status = section.querySelector("[data-push-status]");
  const button = section.querySelector("[data-push-button]");
  const say = (text) => {
    status.textContent = text || "";
    status.hidden = !text;
  };

  const supported =
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window;
  if (!supported) {
    say(section.dataset.unsupported);
    return;
  }
  // Registered on every visit to this page: the worker stays current, and Kring can
  // be installed as an app.
  const registered = navigator.serviceWorker.register("/sw.js", { scope: "/" });
  if (Notification.permission === "denied") {
    say(section.dataset.denied);
    return;
  }
  say("");
  button.hidden = false;

  function keyBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function sameKey(buffer, bytes) {
    if (!buffer) return false;
    const a = new Uint8Array(buffer);
    return a.length === bytes.length && a.every((b, i) => b === bytes[i]);
  }

  async function subscription(registration) {
    const key = keyBytes(section.dataset.key);
    let sub = await registration.pushManager.getSubscription();
    if (sub && !sameKey(sub.options && sub.options.applicationServerKey, key)) {
      await sub.unsubscribe(); // made with an older server key: it would not work
      sub = null;
    }
    return sub || registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }

  async function switchOn() {
    await registered;
    const registration = await navigator.serviceWorker.ready;
    if ((await Notification.requestPermission()) !== "granted") return section.dataset.denied;
    const json = (await subscription(registration)).toJSON();
    const body = new URLSearchParams({
      csrf_token: section.dataset.csrf,
      endpoint: json.endpoint || "",
      p256dh: (json.keys && json.keys.p256dh) || "",
      auth: (json.keys && json.keys.auth) || "",
    });
    const resp = await fetch(section.dataset.addUrl, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (resp.ok) return null;
    const answer = await resp.json().catch(() => ({}));
    return answer.message || section.dataset.failed;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    say(section.dataset.working);
    let problem;
    try {
      problem = await switchOn();
    } catch (e) {
      problem = section.dataset.failed;
    }
    if (problem === null) {
      window.location.reload(); // the list shows this device, with a word at the top
      return;
    }
    button.disabled = false;
    say(problem);
  });
})();
