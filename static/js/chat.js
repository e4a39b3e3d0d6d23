// Kring chat: live messages, an outbox that survives bad connections, retries that
// never double a message. The page works without this file (plain form posts).
//
// Message text is always inserted as text nodes; links are built as <a> elements with
// an http(s) href checked here. No innerHTML is ever given user text.
(function () {
  "use strict";
  const root = document.getElementById("chat");
  if (!root || typeof io === "undefined") return;

  const d = root.dataset;
  const circleId = Number(d.circleId);
  const me = Number(d.me);
  const isCentral = d.role === "central";
  const list = document.getElementById("messages");
  const outboxList = document.getElementById("outbox");
  const form = document.getElementById("send-form");
  const textarea = form.querySelector("textarea");
  const status = document.getElementById("connection");
  const presence = document.getElementById("presence");
  const storeKey = "kring-outbox-" + circleId;
  const editMs = Number(d.editMinutes) * 60 * 1000;
  let lastSeq = Number(d.lastSeq) || 0;
  // When the page shows an older slice of history, live messages are not appended.
  const live = d.live === "true";
  let readSent = 0;

  // Same shape as the server's dates: "23 Nov 2026, 14:05", in the reader's time zone.
  // "en" alone would give the US month-first order; Kring's English is British.
  const timeFormat = new Intl.DateTimeFormat(d.locale === "en" ? "en-GB" : d.locale || undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZone: d.timezone || undefined,
  });

  // --- Outbox: messages written but not yet confirmed by the server -----------------
  function loadOutbox() {
    let items;
    try { items = JSON.parse(localStorage.getItem(storeKey)) || []; } catch (e) { return []; }
    // Older pages marked a send without an answer as failed (no reason given): those
    // were never refused, so they wait and go again.
    for (const item of items) if (item.failed && !item.error) item.failed = false;
    return items;
  }
  let outbox = loadOutbox();
  function saveOutbox() {
    try { localStorage.setItem(storeKey, JSON.stringify(outbox)); } catch (e) { /* private mode */ }
  }
  function newClientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // --- Rendering -----------------------------------------------------------------------
  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
  // "@username" of someone in this circle is highlighted, as the server does
  // (portal/sanitize.py): the same pattern, outside links only, as text nodes.
  const MENTION_RE = /(^|[^\p{L}\p{N}_@.])@([a-z0-9][a-z0-9._-]{2,39})/giu;
  const peopleHere = document.getElementById("mention-people");
  const usernames = new Set(peopleHere ? Array.from(peopleHere.content.querySelectorAll("li"), (li) => li.dataset.username) : []);
  function mentioned(raw) {
    const name = raw.toLowerCase();
    for (const c of [name, name.replace(/[._-]+$/, "")]) if (c.length >= 3 && usernames.has(c)) return c;
    return null;
  }
  function appendPlain(el, text) {
    let last = 0;
    for (const match of text.matchAll(MENTION_RE)) {
      const name = mentioned(match[2]);
      if (!name) continue;
      const start = match.index + match[1].length;
      const end = start + 1 + name.length;
      el.append(document.createTextNode(text.slice(last, start)));
      const strong = document.createElement("strong");
      strong.className = "mention";
      strong.textContent = text.slice(start, end);
      el.append(strong);
      last = end;
    }
    el.append(document.createTextNode(text.slice(last)));
  }
  function appendText(el, text) {
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      let url = match[0].replace(/[.,;:!?)]+$/, "");
      appendPlain(el, text.slice(last, match.index));
      const a = document.createElement("a");
      a.href = url; // only http(s): the regex requires it
      a.rel = "nofollow noopener noreferrer";
      a.target = "_blank";
      a.textContent = url;
      el.append(a);
      last = match.index + url.length;
    }
    appendPlain(el, text.slice(last));
  }
  function urlFor(template, id) { return template.replace(/\/0\/(\w+)$/, "/" + id + "/$1"); }

  // Simple mode (<body data-t-read-aloud>): a "Read aloud" button under the text, as
  // chat/_message.html draws it; static/js/read-aloud.js reads the author and the text.
  function addReadAloud(li, m) {
    const label = document.body.dataset.tReadAloud;
    if (!label || m.removed) return;
    const body = li.querySelector(".body");
    li.querySelector(".author").dataset.speak = "";
    body.dataset.speak = "";
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small-button read-aloud";
    b.dataset.readAloud = li.id;
    b.textContent = label;
    body.after(b);
  }

  function buildMessage(m) {
    const li = document.createElement("li");
    li.className = "msg" + (m.author_id === me ? " mine" : "") + (m.removed ? " removed" : "");
    li.id = "m" + m.seq;
    li.dataset.seq = m.seq;
    li.dataset.id = m.id;
    const meta = document.createElement("p");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = m.author;
    const time = document.createElement("time");
    // HTML allows at most three digits of a second: toISOString gives milliseconds.
    time.dateTime = new Date(m.created_at).toISOString();
    time.textContent = timeFormat.format(new Date(m.created_at));
    meta.append(author, " ", time);
    if (m.edited && !m.removed) {
      const ed = document.createElement("a");
      ed.className = "edited";
      ed.href = urlFor(d.urlVersions, m.id);
      ed.textContent = d.tEdited;
      meta.append(" ", ed);
    }
    const body = document.createElement("p");
    body.className = "body" + (m.removed ? " muted" : "");
    if (m.removed) body.textContent = m.removed_by_central ? d.tRemovedCentral : d.tRemoved;
    else appendText(body, m.body);
    li.append(meta, body);
    if (!m.removed && (m.author_id === me || isCentral)) {
      // One small control opens the actions, as on the server-rendered messages.
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "msg-menu small-button";
      toggle.setAttribute("aria-controls", "actions-" + m.seq);
      const dots = document.createElement("span");
      dots.setAttribute("aria-hidden", "true");
      dots.textContent = "•••";
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = d.tMenu;
      toggle.append(dots, label);
      li.append(toggle);
      const actions = document.createElement("div");
      actions.className = "msg-actions";
      actions.id = "actions-" + m.seq;
      if (m.author_id === me && Date.now() - Date.parse(m.created_at) < editMs) {
        const a = document.createElement("a");
        a.className = "small-button";
        a.href = urlFor(d.urlEdit, m.id);
        a.textContent = d.tChange;
        actions.append(a);
      }
      // Removing asks first: the same <details> confirmation the server renders.
      const ask = document.createElement("details");
      ask.className = "confirm";
      const summary = document.createElement("summary");
      summary.className = "small-button";
      const closed = document.createElement("span");
      closed.className = "if-closed";
      closed.textContent = d.tRemove;
      const open = document.createElement("span");
      open.className = "if-open";
      open.textContent = d.tKeep;
      summary.append(closed, open);
      const question = document.createElement("p");
      question.textContent = d.tRemoveQuestion;
      const f = document.createElement("form");
      f.method = "post";
      f.className = "inline";
      f.action = urlFor(d.urlDelete, m.id);
      const t = document.createElement("input");
      t.type = "hidden"; t.name = "csrf_token"; t.value = d.csrf;
      const b = document.createElement("button");
      b.type = "submit"; b.className = "small-button danger"; b.textContent = d.tRemoveYes;
      f.append(t, b);
      ask.append(summary, question, f);
      actions.append(ask);
      li.append(actions);
      menu(toggle);
    }
    addReadAloud(li, m);
    return li;
  }

  // --- A message's actions behind one small disclosure button --------------------------
  // Closed at first; Escape closes it again and puts the focus back on the button.
  function menu(toggle) {
    const panel = document.getElementById(toggle.getAttribute("aria-controls")) || toggle.nextElementSibling;
    toggle.hidden = false;
    toggle.setAttribute("aria-expanded", "false");
    if (panel) panel.hidden = true;
  }
  function setOpen(toggle, open) {
    const panel = toggle.parentElement.querySelector(".msg-actions");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (panel) panel.hidden = !open;
  }
  list.querySelectorAll(".msg-menu").forEach(menu);
  list.addEventListener("click", (event) => {
    const toggle = event.target.closest(".msg-menu");
    if (!toggle) return;
    const open = toggle.getAttribute("aria-expanded") !== "true";
    // One open at a time: the conversation stays a conversation.
    list.querySelectorAll('.msg-menu[aria-expanded="true"]').forEach((t) => { if (t !== toggle) setOpen(t, false); });
    setOpen(toggle, open);
  });
  // A tap anywhere else closes an open menu (one thumb, no hunting for the button).
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest(".msg-menu, .msg-actions")) return;
    list.querySelectorAll('.msg-menu[aria-expanded="true"]').forEach((t) => setOpen(t, false));
  });
  list.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const li = event.target.closest("li.msg");
    const toggle = li && li.querySelector('.msg-menu[aria-expanded="true"]');
    if (!toggle) return;
    // Handled here: a second Escape elsewhere is not part of this one.
    event.preventDefault();
    event.stopPropagation();
    setOpen(toggle, false);
    toggle.focus();
  });

  // --- Announcing new messages from others (screen readers) ---------------------------
  // A polite live region, at most one announcement every few seconds: messages that
  // come in between are counted and told together.
  const announcer = document.getElementById("chat-announce");
  const ANNOUNCE_GAP = 4000;
  let lastAnnounced = 0;
  let waitingToAnnounce = [];
  let announceTimer = null;
  function sayNow() {
    announceTimer = null;
    if (!announcer || !waitingToAnnounce.length) return;
    const n = waitingToAnnounce.length;
    let text;
    if (n === 1) {
      const m = waitingToAnnounce[0];
      text = d.tAnnounceOne.replace("{name}", m.author) + " " + (m.body || "").slice(0, 200);
    } else {
      text = d.tAnnounceMany.replace("{n}", n);
    }
    waitingToAnnounce = [];
    lastAnnounced = Date.now();
    announcer.textContent = text;
  }
  function announce(m) {
    if (m.author_id === me || m.removed) return;
    waitingToAnnounce.push(m);
    if (announceTimer) return;
    announceTimer = setTimeout(sayNow, Math.max(0, lastAnnounced + ANNOUNCE_GAP - Date.now()));
  }

  // The send form sticks to the bottom of the screen and covers what lies under it.
  // Scroll just enough to show `el` above the form (never pushing its top off screen).
  function reveal(el) {
    if (!el) return;
    const limit = form.getBoundingClientRect().top;
    const r = el.getBoundingClientRect();
    if (r.bottom > limit) window.scrollBy(0, Math.min(r.bottom - limit + 12, r.top - 12));
    else if (r.top < 0) window.scrollBy(0, r.top - 12);
  }
  // Is the end of the conversation on screen (the person is not reading back)?
  function atEnd() {
    return document.getElementById("latest").getBoundingClientRect().top <= form.getBoundingClientRect().top + 24;
  }

  const shownAs = new WeakMap(); // element -> what it shows, for the messages built here
  function upsert(m) {
    if (m.author_id === me) acknowledged(m.client_id);
    const existing = document.getElementById("m" + m.seq);
    if (existing) {
      // The same message often comes twice (the live event and the answer to the send):
      // rebuild it only when it changed, so the element on screen stays the same one.
      const key = JSON.stringify([m.body, m.edited, m.removed]);
      if (shownAs.get(existing) !== key) {
        const li = buildMessage(m);
        shownAs.set(li, key);
        existing.replaceWith(li);
      }
      return;
    }
    if (!live) return;
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
    // Keep order by seq even if events arrive out of order.
    let before = null;
    for (const li of list.querySelectorAll("li.msg")) {
      if (Number(li.dataset.seq) > m.seq) { before = li; break; }
    }
    const follow = before === null && atEnd();
    const li = buildMessage(m);
    shownAs.set(li, JSON.stringify([m.body, m.edited, m.removed]));
    list.insertBefore(li, before);
    if (m.seq > lastSeq) { lastSeq = m.seq; announce(m); }
    if (follow || m.author_id === me) reveal(li);
  }

  // A message of mine the server has (its answer, the live event or the catch-up):
  // it leaves the outbox, whichever way it came back first.
  function acknowledged(clientId) {
    if (!clientId || !outbox.some((o) => o.client_id === clientId)) return;
    outbox = outbox.filter((o) => o.client_id !== clientId);
    saveOutbox();
    renderOutbox();
  }

  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small-button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // Two plain states: "waiting to send" (it goes by itself, as often as it takes) and
  // "not sent" (the server said no: the reason, "Try again" and "Change it").
  function renderOutbox() {
    outboxList.replaceChildren();
    for (const item of outbox) {
      const li = document.createElement("li");
      li.className = "msg mine pending" + (item.failed ? " failed" : "");
      li.dataset.clientId = item.client_id;
      const body = document.createElement("p");
      body.className = "body";
      appendText(body, item.body);
      const state = document.createElement("p");
      state.className = "state";
      state.setAttribute("role", item.failed ? "alert" : "status");
      if (item.failed) {
        state.textContent = d.tFailed + " " + (item.error || d.tRefused) + " ";
        const retry = button(d.tRetry, () => {
          item.failed = false; item.error = "";
          saveOutbox(); renderOutbox(); pump();
        });
        // Take the text back into the box (nothing is lost) and drop the failed item.
        const edit = button(d.tEdit, () => {
          outbox = outbox.filter((o) => o.client_id !== item.client_id);
          saveOutbox();
          renderOutbox();
          textarea.value = item.body;
          textarea.focus();
        });
        state.append(retry, " ", edit);
      } else {
        state.textContent = item.note || (socket.connected ? d.tSending : d.tWaiting);
      }
      li.append(body, state);
      outboxList.append(li);
    }
  }

  // --- Socket --------------------------------------------------------------------------
  // The page's one socket (static/js/news.js opens it for the badge), else our own.
  const socket = (window.Kring && window.Kring.socket) || io({ auth: { csrf: d.csrf }, transports: ["websocket", "polling"] });

  function markRead() {
    if (document.visibilityState === "visible" && lastSeq > readSent && socket.connected) {
      readSent = lastSeq;
      socket.emit("chat:read", { circle_id: circleId, seq: lastSeq });
    }
  }
  document.addEventListener("visibilitychange", markRead);

  function catchUp() {
    socket.timeout(15000).emit("chat:join", { circle_id: circleId, after_seq: live ? lastSeq : 0 }, (err, res) => {
      // No answer: try again while connected (the outbox waits for the catch-up).
      if (err) { if (socket.connected) setTimeout(() => { if (socket.connected && !joined) catchUp(); }, 2000); return; }
      if (!res || !res.ok) return;
      if (live) res.messages.forEach(upsert);
      showPresence(res.here);
      if (res.more && live) { catchUp(); return; }
      markRead();
      joined = true;
      pump();
    });
  }

  // The server's "no" for good: showing the reason beats sending it again.
  const REFUSED = ["invalid", "not_found", "forbidden", "bad_request", "unknown_event"];
  let joined = false; // the catch-up after this connect is done
  let inFlight = null; // {clientId, attempt}: one message on its way at a time, in order
  let attempts = 0;
  let retryTimer = null;

  // Send the oldest message still waiting. Everything without a yes from the server
  // stays in the outbox (and localStorage) and goes again, with the same client_id,
  // after every reconnect: the server stores a client_id once, so nothing is doubled.
  function pump() {
    clearTimeout(retryTimer);
    if (inFlight || !joined || !socket.connected) { renderOutbox(); return; }
    const item = outbox.find((o) => !o.failed);
    if (!item) { renderOutbox(); return; }
    const attempt = ++attempts;
    inFlight = { clientId: item.client_id, attempt: attempt };
    renderOutbox();
    socket.timeout(10000).emit("chat:send", { circle_id: circleId, client_id: item.client_id, body: item.body }, (err, res) => {
      const current = inFlight !== null && inFlight.attempt === attempt;
      if (!err && res && res.ok) {
        upsert(res.message); // also takes it out of the outbox
        markRead();
      } else if (!err && res && REFUSED.includes(res.error)) {
        const refused = outbox.find((o) => o.client_id === item.client_id);
        if (refused) {
          refused.failed = true;
          refused.error = res.message || "";
          saveOutbox();
          renderOutbox();
          const shown = outboxList.querySelector('li[data-client-id="' + item.client_id + '"]');
          if (shown) reveal(shown.querySelector(".state")); // the reason and "Try again"
        }
      } else if (current) {
        // No answer, a lost connection, "slow down" or a server hiccup: it keeps waiting
        // and goes again (same client_id) soon, or after the reconnect.
        inFlight = null;
        const waiting = outbox.find((o) => o.client_id === item.client_id);
        // "Slow down": say so in the server's words while it waits.
        if (waiting) waiting.note = (!err && res && res.error === "rate_limited" && res.message) || "";
        renderOutbox();
        if (socket.connected) retryTimer = setTimeout(pump, 1500);
        return;
      }
      if (current) { inFlight = null; pump(); }
    });
  }

  function showPresence(here) {
    if (!here) { presence.hidden = true; return; }
    presence.hidden = false;
    presence.textContent = d.tHere + " " + here.join(", ");
  }

  function onConnect() { status.textContent = ""; root.classList.remove("offline"); catchUp(); }
  socket.on("connect", onConnect);
  // The socket is the page's (news.js opened it): it may have connected while this
  // file was still loading, and then its "connect" has passed. Join now.
  if (socket.connected) onConnect();
  socket.on("disconnect", () => {
    joined = false;
    inFlight = null; // its answer, if it ever comes, no longer holds up the queue
    clearTimeout(retryTimer);
    status.textContent = d.tOffline;
    root.classList.add("offline");
    renderOutbox();
  });
  socket.on("connect_error", () => { status.textContent = d.tOffline; root.classList.add("offline"); });
  socket.on("chat:message", (ev) => {
    if (!ev || ev.type !== "message" || ev.message.circle_id !== circleId) return;
    upsert(ev.message);
    markRead();
  });
  // The browser knows first when the network goes; don't wait for a ping timeout.
  window.addEventListener("offline", () => socket.disconnect());
  window.addEventListener("online", () => { if (!socket.connected) socket.connect(); });
  socket.on("presence", (ev) => { if (ev && ev.circle_id === circleId) showPresence(ev.here); });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = textarea.value.trim();
    if (!body) { textarea.focus(); return; }
    const item = { client_id: newClientId(), body: body, failed: false };
    outbox.push(item);
    saveOutbox();
    textarea.value = "";
    renderOutbox();
    reveal(outboxList.lastElementChild);
    pump();
  });
  // Enter sends, Shift+Enter makes a new line (as in most chat apps).
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  renderOutbox();
  const unread = document.getElementById("unread");
  (unread || document.getElementById("latest")).scrollIntoView({ block: "center" });
})();
