// "What needs you" (circle home and "My circles"): Done ticks the turn without leaving
// the page. Without this file each Done is a plain form that posts and comes back.
//
// The tick posts the form as it is (CSRF token included) and follows the redirect to
// this very page; the fresh list (parsed with DOMParser, from our own origin) replaces
// the old one, so what was ticked is gone. Focus goes to the heading and a polite
// status says it is done; a refusal shows the server's own message.
(function () {
  "use strict";
  const section = document.getElementById("needs");
  if (!section || !window.fetch || !window.DOMParser || !window.FormData) return;
  const status = document.getElementById("needs-status");
  const heading = document.getElementById("needs-title");

  function showErrors(fresh) {
    for (const old of document.querySelectorAll(".needs-error")) old.remove();
    const errors = fresh.querySelectorAll("main .flash-error");
    for (const error of errors) {
      const copy = document.importNode(error, true);
      copy.classList.add("needs-error");
      section.before(copy);
    }
    return errors.length > 0;
  }

  section.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-needs-done]");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
      });
    } catch (e) {
      form.submit(); // offline for a moment: the plain form says what happened
      return;
    }
    if (!response.ok) {
      form.submit();
      return;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const list = fresh.getElementById("needs-list");
    if (!list) {
      window.location.reload();
      return;
    }
    document.getElementById("needs-list").replaceWith(document.importNode(list, true));
    const refused = showErrors(fresh);
    heading.focus();
    status.textContent = refused ? "" : section.dataset.tDone;
  });
})();
