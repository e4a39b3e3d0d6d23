// Kring chat: what the circle chat adds to the shared delivery in
// static/js/conversation.js (live messages, the outbox, retries that never double a
// message): @mentions, edited, the message menu (change, remove), read aloud, who is
// here, and new messages told to screen readers. The page works without this file
// (plain form posts).
//
// Message text is always inserted as text nodes; no innerHTML is ever given user text.
(function () {
  "use strict";
  const root = document.getElementById("chat");
  if (!root || typeof io === "undefined" || !window.KringConversation) return;

  const d = root.dataset;
  const circleId = Number(d.circleId);
  const me = Number(d.me);
  const isCentral = d.role === "central";
  const presence = document.getElementById("presence");
  const editMs = Number(d.editMinutes) * 60 * 1000;

  // --- Mentions ------------------------------------------------------------------------
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

  // What a chat message has besides author, time and text (conversation.js builds those).
  function decorate(li, m, meta) {
    if (m.edited && !m.removed) {
      const ed = document.createElement("a");
      ed.className = "edited";
      ed.href = urlFor(d.urlVersions, m.id);
      ed.textContent = d.tEdited;
      meta.append(" ", ed);
    }
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

  function showPresence(here) {
    if (!here) { presence.hidden = true; return; }
    presence.hidden = false;
    presence.textContent = d.tHere + " " + here.join(", ");
  }

  // Menus first: hiding the panels changes the height before the page scrolls to the
  // end (conversation.js does that as it starts).
  const list = document.getElementById("messages");
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

  const chat = window.KringConversation(root, {
    storeKey: "kring-outbox-" + circleId,
    ids: { circle_id: circleId },
    events: { join: "chat:join", send: "chat:send", read: "chat:read", message: "chat:message", latest: "chat:latest" },
    accepts: (m) => m.circle_id === circleId,
    // The server's "no" for good: showing the reason beats sending it again.
    refused: ["invalid", "not_found", "forbidden", "bad_request", "unknown_event"],
    appendPlain: appendPlain,
    decorate: decorate,
    onNew: announce,
    onJoined: (res) => showPresence(res.here),
  });
  chat.socket.on("presence", (ev) => { if (ev && ev.circle_id === circleId) showPresence(ev.here); });

})();
