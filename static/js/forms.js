// Kring, every page: after a form comes back with an error, the focus goes to the first
// field that needs fixing (its message is read with it: aria-describedby), or else to
// the error message at the top of the page. Keyboard and screen-reader users start
// where the problem is, not at the top of the page (issue 14).
(function () {
  "use strict";
  const field = document.querySelector(
    "main [aria-invalid=true], main .field.has-error input:not([type=hidden]), main .field.has-error select, main .field.has-error textarea");
  if (field) {
    field.focus();
    return;
  }
  const message = document.querySelector("main .flash-error");
  if (message) {
    if (!message.hasAttribute("tabindex")) message.setAttribute("tabindex", "-1");
    message.focus();
  }
})();

// The "one moment" page after a form was sent while the database was away: going back
// in the history returns to the form with what was typed still in it.
(function () {
  "use strict";
  for (const link of document.querySelectorAll("a[data-history-back]")) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  }
})();
