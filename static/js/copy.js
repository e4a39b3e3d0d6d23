// "Copy the link" buttons: <button data-copy="ID of a text field" data-copied="..."
// data-failed="...">. Without JavaScript the button stays hidden and the text field is
// there to select and copy by hand. A file of its own: the CSP allows no inline script.
(function () {
  "use strict";

  function say(button, text) {
    const status = button.closest("div, section, form").querySelector("[data-copy-status]");
    if (status) status.textContent = text;
  }

  function copyBySelecting(field) {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  document.querySelectorAll("[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const done = () => {
        button.focus();
        say(button, button.dataset.copied);
      };
      const failed = () => {
        // Leave the link selected, so copying it by hand is one step.
        field.focus();
        field.select();
        say(button, button.dataset.failed);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, () => {
          if (copyBySelecting(field)) done();
          else failed();
        });
      } else if (copyBySelecting(field)) {
        done();
      } else {
        failed();
      }
    });
  });
})();
