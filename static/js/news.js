// Kring: the live news badge in the header of every page of a signed-in person.
//
// The page opens one socket (window.Kring.socket, which the chat and plan pages use
// too). The server sends "news" {"op": "changed"} to all of the person's sockets when
// their news changes (a new line, or lines read in another tab); the badge then asks
// "news:count" and shows the answer. Without this file the badge is right as of the
// page load.
(function () {
  "use strict";
  const link = document.getElementById("news-link");
  if (!link || typeof io === "undefined") return;
  const count = document.getElementById("news-count");
  const d = link.dataset;
  let plural = null;
  try { plural = new Intl.PluralRules(d.locale || undefined); } catch (e) { /* old browser */ }

  const socket = io({ auth: { csrf: d.csrf }, transports: ["websocket", "polling"] });
  window.Kring = Object.assign(window.Kring || {}, { socket: socket });
  // Refused because the server could not reach its database for a moment: the client
  // library does not retry a refusal by itself, so try again a little later (the
  // other refusals, "unauthorized" and "csrf", stay final).
  socket.on("connect_error", (err) => {
    if (err && err.message === "unavailable") setTimeout(() => { if (!socket.connected) socket.connect(); }, 5000);
  });

  function show(n) {
    if (!Number.isInteger(n) || n < 0) return;
    count.textContent = String(n);
    count.hidden = n === 0;
    // Screen readers hear "News, 3 new" (the number alone is hidden from them); with
    // nothing new, just the link's own text. Words from our page, the number checked.
    const words = plural && plural.select(n) === "one" ? d.tOne : d.tOther;
    // (A hidden text, not aria-label: a label that differs from what is shown confuses
    // people who click by voice, and axe's label-content-name-mismatch says so.)
    const spoken = document.getElementById("news-words");
    if (spoken) spoken.textContent = n === 0 ? d.tNone : words.replace("{n}", String(n));
  }

  let asking = false;
  let again = false;
  function ask() {
    // Several changes at once (a burst of messages): one question at a time, and one
    // more after it if something changed meanwhile.
    if (asking) { again = true; return; }
    asking = true;
    socket.timeout(10000).emit("news:count", {}, (err, res) => {
      asking = false;
      if (!err && res && res.ok) show(res.count);
      if (again) { again = false; ask(); }
    });
  }

  // After every (re)connect: what changed while the socket was down.
  socket.on("connect", ask);
  socket.on("news", ask);
  // A tab coming back from the background may have slept through a reconnect.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && socket.connected) ask();
  });
})();
