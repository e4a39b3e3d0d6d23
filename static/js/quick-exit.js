// Kring: "Leave quickly" (issue 14). The link in the header, or Escape pressed twice
// within a second, replaces this page with a neutral public page (QUICK_EXIT_URL, the
// link's href) through location.replace: this page leaves the tab's history, so Back
// does not show it. Without JavaScript the link simply goes there.
//
// Back could still reach an earlier Kring page of the same tab. So the tab remembers
// (sessionStorage, this tab only) that it left, and a Kring page reached with Back or
// Forward after that replaces itself at once, before it is drawn: this file is loaded
// in <head>. Opening Kring again any other way (typing it, a link, a reload) forgets it.
// Other Kring tabs of the browser are told (BroadcastChannel) and leave too.
(function () {
  "use strict";
  const KEY = "kring-left";
  const root = document.documentElement;

  // Every other Kring tab of this browser leaves with this one.
  const others = typeof BroadcastChannel === "function" ? new BroadcastChannel("kring-leave") : null;

  function leave(url, tell) {
    if (!url) return;
    root.classList.add("leaving");
    try { sessionStorage.setItem(KEY, url); } catch (e) { /* storage off: leave anyway */ }
    if (tell && others) others.postMessage(url);
    window.location.replace(url);
  }
  if (others) others.onmessage = (ev) => { if (typeof ev.data === "string") leave(exitUrl() || ev.data); };

  function cameBack() {
    const entries = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation") : [];
    return entries.length > 0 && entries[0].type === "back_forward";
  }

  let left = null;
  try { left = sessionStorage.getItem(KEY); } catch (e) { /* storage off */ }
  if (left) {
    if (cameBack()) { leave(left); return; }
    try { sessionStorage.removeItem(KEY); } catch (e) { /* storage off */ }
  }
  // A page the browser kept in memory (back/forward cache) runs no script again.
  window.addEventListener("pageshow", (ev) => {
    let url = null;
    try { url = sessionStorage.getItem(KEY); } catch (e) { /* storage off */ }
    if (ev.persisted && url) leave(url);
  });

  function exitUrl() {
    const link = document.querySelector("[data-quick-exit]");
    return link ? link.href : null;
  }

  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("[data-quick-exit]");
    if (!link || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    leave(link.href, true);
  });

  // Escape twice within a second. Listened for before anything else on the page (the
  // capture phase of window), so a menu that closes on Escape cannot swallow it.
  let lastEscape = 0;
  window.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" && ev.key !== "Esc") return;
    const now = Date.now();
    if (now - lastEscape <= 1000) { lastEscape = 0; leave(exitUrl(), true); return; }
    lastEscape = now;
  }, true);
})();
