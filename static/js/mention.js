// Kring chat: offer the circle's people while "@name" is being typed in the message box.
//
// A WAI-ARIA combobox (the "list autocomplete" pattern): the box keeps the focus and
// points at the highlighted person with aria-activedescendant; up and down arrows move,
// Enter or Tab choose, Escape closes. A polite status line says how many people match.
// It shows people's names in this circle and puts "@username " into the box. Loaded
// before chat.js, so while the list is open Enter chooses instead of sending.
// Names come from the page's <template id="mention-people"> and are shown as text only.
(function () {
  "use strict";
  const source = document.getElementById("mention-people");
  const form = document.getElementById("send-form");
  if (!source || !form) return;
  const box = form.querySelector("textarea");
  if (!box) return;
  const t = source.dataset;
  const people = Array.from(source.content.querySelectorAll("li[data-username]"), (li) => ({
    username: li.dataset.username,
    name: li.textContent,
  }));
  if (!people.length) return;
  let plural = null;
  try { plural = new Intl.PluralRules(document.documentElement.lang || undefined); } catch (e) { /* old browser */ }

  const list = document.createElement("ul");
  list.id = "mention-list";
  list.className = "mention-list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", t.label);
  list.hidden = true;
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  form.prepend(list);
  form.append(status);

  box.setAttribute("role", "combobox");
  box.setAttribute("aria-autocomplete", "list");
  box.setAttribute("aria-controls", list.id);
  box.setAttribute("aria-expanded", "false");

  let shown = []; // the people in the open list
  let active = -1;
  let query = null; // {start, end} of "@text" before the caret, while a list is open

  // "@" at the start or after a space or punctuation, then the letters typed so far.
  const TYPING = /(^|[^\p{L}\p{N}_@.])@([\p{L}\p{N}._-]{0,40})$/u;

  function typed() {
    if (box.selectionStart !== box.selectionEnd) return null;
    const before = box.value.slice(0, box.selectionStart);
    const m = before.match(TYPING);
    if (!m) return null;
    return { start: before.length - m[2].length - 1, end: before.length, text: m[2].toLowerCase() };
  }

  function matches(text) {
    const words = (p) => [p.username, ...p.name.toLowerCase().split(/\s+/)];
    return people.filter((p) => words(p).some((w) => w.startsWith(text))).slice(0, 8);
  }

  function say(n) {
    if (n === 0) { status.textContent = t.tNone; return; }
    const words = plural && plural.select(n) === "one" ? t.tOne : t.tOther;
    status.textContent = words.replace("{n}", String(n));
  }

  function close() {
    if (list.hidden && query === null) return;
    list.hidden = true;
    list.replaceChildren();
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
    shown = []; active = -1; query = null;
  }

  function highlight(i) {
    active = i;
    list.querySelectorAll("[role=option]").forEach((li, j) => {
      li.setAttribute("aria-selected", j === i ? "true" : "false");
      if (j === i) {
        box.setAttribute("aria-activedescendant", li.id);
        li.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function open(q) {
    const found = matches(q.text);
    const same = query && shown.length === found.length && shown.every((p, i) => p === found[i]);
    query = q;
    if (same) return;
    shown = found;
    list.replaceChildren();
    found.forEach((p, i) => {
      const li = document.createElement("li");
      li.id = "mention-option-" + i;
      li.setAttribute("role", "option");
      const name = document.createElement("span");
      name.textContent = p.name;
      const user = document.createElement("span");
      user.className = "muted small";
      user.textContent = "@" + p.username;
      li.append(name, " ", user);
      // mousedown, not click: the box keeps the focus.
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); });
      list.append(li);
    });
    list.hidden = found.length === 0;
    box.setAttribute("aria-expanded", found.length ? "true" : "false");
    if (found.length) highlight(0);
    else box.removeAttribute("aria-activedescendant");
    say(found.length);
  }

  function choose(i) {
    const p = shown[i];
    if (!p || !query) return;
    const insert = "@" + p.username + " ";
    box.value = box.value.slice(0, query.start) + insert + box.value.slice(query.end);
    const caret = query.start + insert.length;
    box.setSelectionRange(caret, caret);
    close();
    box.focus();
  }

  function update() {
    const q = typed();
    if (q) open(q); else close();
  }

  box.addEventListener("input", update);
  box.addEventListener("click", update);
  box.addEventListener("blur", close);
  box.addEventListener("keydown", (e) => {
    if (list.hidden || !shown.length || e.isComposing) return;
    let handled = true;
    if (e.key === "ArrowDown") highlight((active + 1) % shown.length);
    else if (e.key === "ArrowUp") highlight((active - 1 + shown.length) % shown.length);
    else if (e.key === "Enter" || e.key === "Tab") choose(active < 0 ? 0 : active);
    else if (e.key === "Escape") close();
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopImmediatePropagation(); // chat.js must not send on this Enter
    }
  });
  form.addEventListener("submit", close);
})();
