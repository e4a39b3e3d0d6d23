// Kring private line (issue 14): the circle chat's delivery for two people. Live
// messages, an outbox kept in localStorage, and retries with the same client_id, so
// nothing is lost and nothing is doubled (the server stores a client_id once). The page
// works without this file (plain form posts). Like static/js/chat.js, message text is
// only ever inserted as text nodes; no innerHTML is given user text.
(function () {
  "use strict";
  const root = document.getElementById("line");
  if (!root || typeof io === "undefined") return;

  const d = root.dataset;
  const circleId = Number(d.circleId);
  const lineId = Number(d.lineId);
  const me = Number(d.me);
  const list = document.getElementById("messages");
  const outboxList = document.getElementById("outbox");
  const form = document.getElementById("send-form");
  const textarea = form.querySelector("textarea");
  const status = document.getElementById("connection");
  const storeKey = "kring-line-outbox-" + lineId;
  const live = d.live === "true";
  const ids = { circle_id: circleId, line_id: lineId };
  let lastSeq = Number(d.lastSeq) || 0;
  let readSent = 0;

  const timeFormat = new Intl.DateTimeFormat(d.locale === "en" ? "en-GB" : d.locale || undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZone: d.timezone || undefined,
  });

  let outbox;
  try { outbox = JSON.parse(localStorage.getItem(storeKey)) || []; } catch (e) { outbox = []; }
  function saveOutbox() {
    try { localStorage.setItem(storeKey, JSON.stringify(outbox)); } catch (e) { /* private mode */ }
  }
  function newClientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
  function appendText(el, text) {
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      const url = match[0].replace(/[.,;:!?)]+$/, "");
      el.append(document.createTextNode(text.slice(last, match.index)));
      const a = document.createElement("a");
      a.href = url; // only http(s): the regex requires it
      a.rel = "nofollow noopener noreferrer";
      a.target = "_blank";
      a.textContent = url;
      el.append(a);
      last = match.index + url.length;
    }
    el.append(document.createTextNode(text.slice(last)));
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
    time.dateTime = new Date(m.created_at).toISOString();
    time.textContent = timeFormat.format(new Date(m.created_at));
    meta.append(author, " ", time);
    const body = document.createElement("p");
    body.className = "body" + (m.removed ? " muted" : "");
    if (m.removed) body.textContent = d.tRemoved;
    else appendText(body, m.body);
    li.append(meta, body);
    return li;
  }

  function reveal(el) {
    if (!el) return;
    const limit = form.getBoundingClientRect().top;
    const r = el.getBoundingClientRect();
    if (r.bottom > limit) window.scrollBy(0, Math.min(r.bottom - limit + 12, r.top - 12));
    else if (r.top < 0) window.scrollBy(0, r.top - 12);
  }

  function upsert(m) {
    if (m.author_id === me) acknowledged(m.client_id);
    const existing = document.getElementById("m" + m.seq);
    if (existing) {
      if (m.removed && !existing.classList.contains("removed")) existing.replaceWith(buildMessage(m));
      return;
    }
    if (!live) return;
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
    let before = null;
    for (const li of list.querySelectorAll("li.msg")) {
      if (Number(li.dataset.seq) > m.seq) { before = li; break; }
    }
    const li = buildMessage(m);
    list.insertBefore(li, before);
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (before === null) reveal(li);
  }

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
        state.append(button(d.tRetry, () => {
          item.failed = false; item.error = "";
          saveOutbox(); renderOutbox(); pump();
        }), " ", button(d.tEdit, () => {
          outbox = outbox.filter((o) => o.client_id !== item.client_id);
          saveOutbox(); renderOutbox();
          textarea.value = item.body;
          textarea.focus();
        }));
      } else {
        state.textContent = item.note || (socket.connected ? d.tSending : d.tWaiting);
      }
      li.append(body, state);
      outboxList.append(li);
    }
  }

  // The page's one socket (static/js/news.js opens it for the badge), else our own.
  const socket = (window.Kring && window.Kring.socket) || io({ auth: { csrf: d.csrf }, transports: ["websocket", "polling"] });

  function markRead() {
    if (document.visibilityState === "visible" && lastSeq > readSent && socket.connected) {
      readSent = lastSeq;
      socket.emit("line:read", Object.assign({ seq: lastSeq }, ids));
    }
  }
  document.addEventListener("visibilitychange", markRead);

  const REFUSED = ["invalid", "not_found", "forbidden", "bad_request", "unknown_event", "closed"];
  let joined = false;
  let inFlight = null;
  let attempts = 0;
  let retryTimer = null;

  // Join the line's room, then take what came after the last message shown.
  function catchUp() {
    socket.timeout(15000).emit("line:join", Object.assign({ after_seq: live ? lastSeq : 0 }, ids), (err, res) => {
      if (err) { if (socket.connected) setTimeout(() => { if (socket.connected && !joined) catchUp(); }, 2000); return; }
      if (!res || !res.ok) return;
      if (live) res.messages.forEach(upsert);
      if (res.more && live) { catchUp(); return; }
      markRead();
      joined = true;
      pump();
    });
  }

  // One message on its way at a time, oldest first; without a yes it stays in the
  // outbox and goes again with the same client_id.
  function pump() {
    clearTimeout(retryTimer);
    if (inFlight || !joined || !socket.connected) { renderOutbox(); return; }
    const item = outbox.find((o) => !o.failed);
    if (!item) { renderOutbox(); return; }
    const attempt = ++attempts;
    inFlight = { clientId: item.client_id, attempt: attempt };
    renderOutbox();
    socket.timeout(10000).emit("line:send", Object.assign({ client_id: item.client_id, body: item.body }, ids), (err, res) => {
      const current = inFlight !== null && inFlight.attempt === attempt;
      if (!err && res && res.ok) {
        upsert(res.message);
        markRead();
      } else if (!err && res && REFUSED.includes(res.error)) {
        const refused = outbox.find((o) => o.client_id === item.client_id);
        if (refused) {
          refused.failed = true;
          refused.error = res.message || "";
          saveOutbox();
          renderOutbox();
        }
      } else if (current) {
        inFlight = null;
        const waiting = outbox.find((o) => o.client_id === item.client_id);
        if (waiting) waiting.note = (!err && res && res.error === "rate_limited" && res.message) || "";
        renderOutbox();
        if (socket.connected) retryTimer = setTimeout(pump, 1500);
        return;
      }
      if (current) { inFlight = null; pump(); }
    });
  }

  function onConnect() { status.textContent = ""; root.classList.remove("offline"); catchUp(); }
  socket.on("connect", onConnect);
  if (socket.connected) onConnect();
  socket.on("disconnect", () => {
    joined = false;
    inFlight = null;
    clearTimeout(retryTimer);
    status.textContent = d.tOffline;
    root.classList.add("offline");
    renderOutbox();
  });
  socket.on("connect_error", () => { status.textContent = d.tOffline; root.classList.add("offline"); });
  socket.on("line:message", (ev) => {
    if (!ev || ev.type !== "message" || !ev.message || ev.message.line_id !== lineId) return;
    upsert(ev.message);
    markRead();
  });
  window.addEventListener("offline", () => socket.disconnect());
  window.addEventListener("online", () => { if (!socket.connected) socket.connect(); });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = textarea.value.trim();
    if (!body) { textarea.focus(); return; }
    outbox.push({ client_id: newClientId(), body: body, failed: false });
    saveOutbox();
    textarea.value = "";
    renderOutbox();
    reveal(outboxList.lastElementChild);
    pump();
  });
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
