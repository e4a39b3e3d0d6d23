// Kring conversations: the delivery both the circle chat (static/js/chat.js) and the
// private line (static/js/line.js) use. Live messages, an outbox that survives bad
// connections (kept in localStorage), and retries that never double a message: each
// message keeps its client_id through every retry, and the server stores a client_id
// once. The pages work without this file (plain form posts).
//
// Message text is always inserted as text nodes; links are built as <a> elements with
// an http(s) href checked here. No innerHTML is ever given user text.
//
// window.KringConversation(root, options) wires up the page and returns what a page
// adds its own features with. Options (what differs between the chat and the line):
//   storeKey      localStorage key of the outbox
//   ids           what every event carries to say which conversation, e.g. {circle_id}
//   events        {join, send, read, message, latest}: the socket event names
//                 (latest: the server's beat with the conversation's last seq)
//   accepts(m)    is a live message for this conversation?
//   refused       the server's errors that mean "no for good" (the reason is shown)
//   appendPlain(el, text)   text outside links (the chat highlights @mentions); as
//                 text nodes only
//   decorate(li, m, meta)   more on a built message (the chat: edited, menu, read aloud)
//   onNew(m)      a new message was added at the end (the chat announces it)
//   onJoined(res) the join's answer (the chat shows who is here)
//   followAlways  show every new message at the end, even while reading back (the
//                 line); otherwise only when the end is on screen or it is one's own
(function () {
  "use strict";

  function newClientId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function plainText(el, text) { el.append(document.createTextNode(text)); }

  window.KringConversation = function (root, o) {
    const d = root.dataset;
    const me = Number(d.me);
    const list = document.getElementById("messages");
    const outboxList = document.getElementById("outbox");
    const form = document.getElementById("send-form");
    const textarea = form.querySelector("textarea");
    const status = document.getElementById("connection");
    const ev = o.events;
    const appendPlain = o.appendPlain || plainText;
    const REFUSED = o.refused;
    // Answers to a join that mean "not now" rather than "no": the join goes again.
    const RETRY = ["unavailable", "server_error", "rate_limited"];
    // When the page shows an older slice of history, live messages are not appended.
    const live = d.live === "true";
    let lastSeq = Number(d.lastSeq) || 0;
    // The highest seq up to which nothing is missing: the page starts with everything
    // up to lastSeq; a live message past a hole (its predecessors' live events were
    // lost while Redis was down) raises lastSeq but not this. Catch-ups ask from here.
    let whole = lastSeq;
    let readSent = 0;

    // Same shape as the server's dates: "23 Nov 2026, 14:05", in the reader's time zone.
    // "en" alone would give the US month-first order; Kring's English is British.
    const timeFormat = new Intl.DateTimeFormat(d.locale === "en" ? "en-GB" : d.locale || undefined, {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZone: d.timezone || undefined,
    });

    // The page's one socket (static/js/news.js opens it for the badge), else our own.
    const socket = (window.Kring && window.Kring.socket) || io({ auth: { csrf: d.csrf }, transports: ["websocket", "polling"] });
    function payload(extra) { return Object.assign({}, o.ids, extra); }

    // --- Outbox: messages written but not yet confirmed by the server ---------------
    function loadOutbox() {
      let items;
      try { items = JSON.parse(localStorage.getItem(o.storeKey)) || []; } catch (e) { return []; }
      // Older pages marked a send without an answer as failed (no reason given): those
      // were never refused, so they wait and go again.
      for (const item of items) if (item.failed && !item.error) item.failed = false;
      return items;
    }
    let outbox = loadOutbox();
    function saveOutbox() {
      try { localStorage.setItem(o.storeKey, JSON.stringify(outbox)); } catch (e) { /* private mode */ }
    }

    // --- Rendering -------------------------------------------------------------------
    const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
    function appendText(el, text) {
      let last = 0;
      for (const match of text.matchAll(URL_RE)) {
        const url = match[0].replace(/[.,;:!?)]+$/, "");
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

    // The same structure as the server-rendered message (chat/_message.html,
    // lines/_message.html); the page's decorate() adds its own parts.
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
      const body = document.createElement("p");
      body.className = "body" + (m.removed ? " muted" : "");
      if (m.removed) body.textContent = (m.removed_by_central && d.tRemovedCentral) || d.tRemoved;
      else appendText(body, m.body);
      li.append(meta, body);
      if (o.decorate) o.decorate(li, m, meta);
      return li;
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
    function shows(m) { return JSON.stringify([m.body, m.edited, m.removed]); }
    function upsert(m) {
      if (m.author_id === me) acknowledged(m.client_id);
      const existing = document.getElementById("m" + m.seq);
      if (existing) {
        // The same message often comes twice (the live event and the answer to the
        // send): rebuild it only when it changed, so the element on screen stays.
        if (shownAs.get(existing) !== shows(m)) {
          const li = buildMessage(m);
          shownAs.set(li, shows(m));
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
      const follow = before === null && (o.followAlways || atEnd());
      const li = buildMessage(m);
      shownAs.set(li, shows(m));
      list.insertBefore(li, before);
      if (m.seq > lastSeq) { lastSeq = m.seq; if (o.onNew) o.onNew(m); }
      while (document.getElementById("m" + (whole + 1))) whole++;
      if (follow || m.author_id === me) reveal(li);
    }

    // A message of mine the server has (its answer, the live event or the catch-up):
    // it leaves the outbox, whichever way it came back first.
    function acknowledged(clientId) {
      if (!clientId || !outbox.some((x) => x.client_id === clientId)) return;
      outbox = outbox.filter((x) => x.client_id !== clientId);
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
            outbox = outbox.filter((x) => x.client_id !== item.client_id);
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

    // --- Socket ----------------------------------------------------------------------
    function markRead() {
      if (document.visibilityState === "visible" && lastSeq > readSent && socket.connected) {
        readSent = lastSeq;
        socket.emit(ev.read, payload({ seq: lastSeq }));
      }
    }
    document.addEventListener("visibilitychange", markRead);

    let joined = false; // the catch-up after this connect is done
    let inFlight = null; // {clientId, attempt}: one message on its way at a time, in order
    let attempts = 0;
    let retryTimer = null;

    let catching = false; // a catch-up is on its way (one at a time)
    let told = 0; // the newest seq the server's beat told of

    // Join the room, then take what came after the last message shown.
    function catchUp() {
      catching = true;
      // A catch-up after a hole (already joined) is tried again as long as the page
      // stays joined; the first one of a connection, until it has joined. The server's
      // beat tells of a hole once, so a failed catch-up must not wait for the next one.
      const gapOnly = joined;
      const again = (ms) => setTimeout(() => {
        if (socket.connected && joined === gapOnly && !catching) catchUp();
      }, ms);
      socket.timeout(15000).emit(ev.join, payload({ after_seq: live ? whole : 0 }), (err, res) => {
        catching = false;
        // No answer: try again while connected (the outbox waits for the catch-up).
        if (err) { if (socket.connected) again(2000); return; }
        if (!res || !res.ok) {
          // The server could not read (its database out of reach, or busy): the same
          // join again soon; the outbox waits for it. Other answers are final.
          if (res && RETRY.includes(res.error) && socket.connected) again(5000);
          return;
        }
        if (live) res.messages.forEach(upsert);
        if (o.onJoined) o.onJoined(res);
        if (res.more && live) { catchUp(); return; }
        markRead();
        joined = true;
        pump();
        // A live message past a hole, or a beat, that came while this catch-up was on
        // its way was newer than what the server read for it (its last_seq): the hole
        // may still be open, and the beat may not tell of it again soon.
        const newest = Math.max(lastSeq, told);
        if (live && whole < newest && newest > Number(res.last_seq)) gap();
      });
    }

    // Send the oldest message still waiting. Everything without a yes from the server
    // stays in the outbox (and localStorage) and goes again, with the same client_id,
    // after every reconnect: the server stores a client_id once, so nothing is doubled.
    function pump() {
      clearTimeout(retryTimer);
      if (inFlight || !joined || !socket.connected) { renderOutbox(); return; }
      const item = outbox.find((x) => !x.failed);
      if (!item) { renderOutbox(); return; }
      const attempt = ++attempts;
      inFlight = { clientId: item.client_id, attempt: attempt };
      renderOutbox();
      socket.timeout(10000).emit(ev.send, payload({ client_id: item.client_id, body: item.body }), (err, res) => {
        const current = inFlight !== null && inFlight.attempt === attempt;
        if (!err && res && res.ok) {
          upsert(res.message); // also takes it out of the outbox
          markRead();
        } else if (!err && res && REFUSED.includes(res.error)) {
          const refused = outbox.find((x) => x.client_id === item.client_id);
          if (refused) {
            refused.failed = true;
            refused.error = res.message || "";
            saveOutbox();
            renderOutbox();
            const shown = outboxList.querySelector('li[data-client-id="' + item.client_id + '"]');
            if (shown) reveal(shown.querySelector(".state")); // the reason and "Try again"
          }
        } else if (current) {
          // No answer, a lost connection, "slow down" or a server hiccup: it keeps
          // waiting and goes again (same client_id) soon, or after the reconnect.
          inFlight = null;
          const waiting = outbox.find((x) => x.client_id === item.client_id);
          // "Slow down": say so in the server's words while it waits.
          if (waiting) waiting.note = (!err && res && res.error === "rate_limited" && res.message) || "";
          // "unavailable": the server cannot reach its database for a moment. Say so,
          // and go again less often (each try counts against the sending allowance).
          const away = !err && res && res.error === "unavailable";
          if (waiting && away) waiting.note = d.tUnavailable || "";
          renderOutbox();
          if (socket.connected) retryTimer = setTimeout(pump, away ? 5000 : 1500);
          return;
        }
        if (current) { inFlight = null; pump(); }
      });
    }

    function onConnect() { status.textContent = ""; root.classList.remove("offline"); catchUp(); }
    socket.on("connect", onConnect);
    // The socket is the page's (news.js opened it): it may have connected while this
    // page's script was still loading, and then its "connect" has passed. Join now.
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
    socket.on(ev.message, (e) => {
      if (!e || e.type !== "message" || !e.message || !o.accepts(e.message)) return;
      upsert(e.message);
      markRead();
      if (whole < lastSeq) gap(); // a hole before it: earlier live events were lost
    });
    // Fetch what is missing after the last whole stretch (the catch-up drops what we
    // already have by seq), unless a catch-up is on its way already.
    function gap() { if (live && joined && !catching) catchUp(); }
    // The server's beat (every few seconds, straight from its process, so it comes even
    // while the live events cannot: Redis away): the latest seq of this conversation.
    // More than we hold means a live message was lost: the usual catch-up brings it,
    // and drops what we already have by seq, so it shows up once, in order.
    socket.on(ev.latest, (e) => {
      if (!e || !o.accepts(e)) return;
      told = Math.max(told, Number(e.seq) || 0);
      if (told > whole) gap();
    });
    // The browser knows first when the network goes; don't wait for a ping timeout.
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

    return { socket: socket, list: list, reveal: reveal };
  };
})();
