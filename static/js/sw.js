// Kring's service worker, served as /sw.js so that it may show notifications for the
// whole site. It does push notifications and nothing else: it has no fetch handler, so
// it never sees, answers or stores a page. Every request goes to the network as if the
// worker were not there: a private page must never wait in a cache on a shared phone.
"use strict";

const TITLE = "News in Kring"; // when the push carries no (usable) title
const NEWS = "/notifications";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// The push carries {"title": "News in Kring"} in the person's language, and nothing
// else: no name, no circle, no text. Only a short string is ever shown.
function titleOf(data) {
  try {
    const body = data ? data.json() : null;
    if (body && typeof body.title === "string" && body.title.length > 0 && body.title.length <= 60) {
      return body.title;
    }
  } catch (e) {
    // not JSON: show the plain title
  }
  return TITLE;
}

self.addEventListener("push", (event) => {
  event.waitUntil(
    self.registration.showNotification(titleOf(event.data), {
      tag: "kring-news", // one notification for all news, however many pushes came
      icon: "/static/icons/icon-192.png",
      data: { url: NEWS },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(NEWS, self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window" });
      for (const client of windows) {
        try {
          await client.focus();
          await client.navigate(url);
          return;
        } catch (e) {
          // a window this worker does not control: open a new one below
        }
      }
      await self.clients.openWindow(url);
    })(),
  );
});
