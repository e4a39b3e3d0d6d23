// Kring: "Read aloud" (issue 14, simple mode). A button with data-read-aloud="<id>"
// reads the element with that id aloud with the browser's own speech synthesis, in
// the page's language (<html lang>). Nothing leaves the device: no audio is sent
// anywhere and no other service is asked.
//
// What is read: the parts of the element marked data-speak (a message's author and
// text; a task's title and when), else its whole text. The buttons are hidden by the
// CSS until this file finds speech synthesis (class "can-speak" on <html>), so a
// browser without it shows none. One listener for the whole page (event delegation):
// buttons added later, as the chat's live messages, work too.
(function () {
  "use strict";
  if (!window.speechSynthesis || typeof window.SpeechSynthesisUtterance !== "function") return;
  const root = document.documentElement;
  root.classList.add("can-speak");

  function words(el) {
    if (el.tagName === "DL") { // facts: "Who: Anna. When: every Monday"
      return Array.from(el.querySelectorAll("dt"), (dt) => {
        const dd = dt.nextElementSibling;
        return words(dt) + ": " + (dd ? words(dd) : "");
      }).join(". ");
    }
    return (el.innerText || el.textContent || "").replace(/\s*\n+\s*/g, ". ").replace(/\s+/g, " ").trim();
  }

  function textOf(target) {
    const parts = target.querySelectorAll("[data-speak]");
    if (!parts.length) return words(target);
    return Array.from(parts, words).filter(Boolean).join(". ");
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest && ev.target.closest("[data-read-aloud]");
    if (!button) return;
    const target = document.getElementById(button.dataset.readAloud);
    if (!target) return;
    const text = textOf(target);
    if (!text) return;
    // One voice at a time: a second press starts over. (Chrome may drop a speak() that
    // follows cancel() on an idle queue, so cancel only what is there.)
    const voice = window.speechSynthesis;
    if (voice.speaking || voice.pending) voice.cancel();
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = root.lang || "en";
    window.speechSynthesis.speak(utterance);
  });
})();
