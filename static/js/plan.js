// Kring plan page: follow ticks, votes and new versions live. Without this file the
// page works with plain forms and reloads.
//
// On a plan event the page fetches itself again and swaps in the fresh server-rendered
// sections (parsed with DOMParser from our own origin), unless the person is typing
// in one of them; then it only shows a notice.
(function () {
  "use strict";
  const root = document.getElementById("plan");
  if (!root || typeof io === "undefined") return;
  const circleId = Number(root.dataset.circleId);
  const notice = document.getElementById("plan-notice");
  // Sections refreshed live: the plan page's and the meeting page's.
  const LIVE = [".plan-head", ".summary", "#proposals", "#commitments", "#acceptance", "#meeting-head", "#poll", "#choose", "#agenda"];
  // Sections with forms people write in: never swapped; if they changed, the notice says so.
  const STILL = ["#conditions", "#agreements", "#evaluation"];
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
  let pending = null;

  function busy(el) {
    const active = document.activeElement;
    return el && active && el.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  async function refresh(showNotice) {
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) return;
    swap(new DOMParser().parseFromString(await response.text(), "text/html"), showNotice);
  }

  // The step or turn that has the focus, to give it back after the swap.
  function focusedSpot() {
    const active = document.activeElement;
    const spot = active && active.closest && active.closest("[data-occurrence]");
    const card = spot && spot.closest("[data-commitment]");
    return card ? [card.dataset.commitment, spot.dataset.occurrence] : null;
  }
  function findSpot(spot) {
    return spot && document.querySelector('[data-commitment="' + spot[0] + '"] [data-occurrence="' + spot[1] + '"]');
  }

  function swap(fresh, showNotice) {
    const spot = focusedSpot();
    let skipped = false;
    for (const selector of LIVE) {
      const now = document.querySelector(selector);
      const next = fresh.querySelector(selector);
      if (busy(now)) { skipped = true; continue; }
      if (now && next) now.replaceWith(document.importNode(next, true));
      else if (now) now.remove(); // gone: e.g. a proposal that was decided
      else if (next) skipped = true; // a new section: shown after a reload
    }
    for (const selector of STILL) {
      if (text(document.querySelector(selector)) !== text(fresh.querySelector(selector))) skipped = true;
    }
    const back = findSpot(spot);
    if (back && !back.contains(document.activeElement)) {
      back.tabIndex = -1;
      back.focus();
    }
    if (skipped || showNotice) {
      notice.textContent = root.dataset.tNewVersion + " ";
      const a = document.createElement("a");
      a.href = window.location.pathname;
      a.textContent = root.dataset.tReload;
      notice.append(a);
      notice.hidden = false;
    }
  }

  // A tick without leaving the page (issue 14): the form is sent in the background, the
  // fresh page's sections come in, and the focus goes back to the step or turn that was
  // ticked, while screen readers hear "Done". Anything unexpected: the plain form post.
  const announcer = document.getElementById("announce");
  root.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.matches || !form.matches(".tick-form") || event.defaultPrevented) return;
    const item = form.closest("[data-occurrence]");
    const card = form.closest("[data-commitment]");
    if (!item || !card) return;
    event.preventDefault();
    // The focus waits on the step itself (not in the note field, which would keep the
    // section from being refreshed), and comes back to it after the refresh.
    item.tabIndex = -1;
    item.focus();
    let response;
    try {
      response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    } catch (e) { response = null; }
    if (!response || !response.ok || new URL(response.url).pathname !== window.location.pathname) {
      form.submit();
      return;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    // The server's answer came as a message on the page it sent us to: show an error there.
    const problem = fresh.querySelector(".flash-error");
    swap(fresh, false);
    if (problem) {
      notice.textContent = problem.textContent;
      notice.hidden = false;
    }
    if (announcer && !problem) {
      announcer.textContent = "";
      // A fresh text node after a pause: screen readers announce a change, not a repeat.
      setTimeout(() => { announcer.textContent = root.dataset.tDone; }, 100);
    }
  });

  // The page's one socket (static/js/news.js opens it for the badge), else our own.
  const socket = (window.Kring && window.Kring.socket) || io({ auth: { csrf: root.dataset.csrf }, transports: ["websocket", "polling"] });
  // Events sent while the socket was down are not sent again: after a reconnect the
  // page fetches itself, so ticks, votes and versions made meanwhile show up.
  let connectedBefore = false;
  function onConnect() {
    socket.emit("plan:join", { circle_id: circleId }, (res) => {
      if (connectedBefore && res && res.ok) refresh(false);
      connectedBefore = true;
    });
  }
  socket.on("connect", onConnect);
  // news.js's socket may have connected while this file was loading: join now.
  if (socket.connected) onConnect();
  socket.on("plan:event", (ev) => {
    if (!ev || (ev.type !== "plan" && ev.type !== "meeting")) return;
    // Several events arrive together for one change: refresh once.
    clearTimeout(pending);
    pending = setTimeout(() => refresh(false), 150);
  });
})();
