// The commitment form shows only the "when" fields that fit the chosen kind of
// schedule (data-kinds lists the kinds each one belongs to). Without JavaScript every
// field shows, and the server ignores the ones that do not fit.
(function () {
  "use strict";
  var form = document.querySelector("form[data-schedule-form]");
  if (!form) return;
  var parts = form.querySelectorAll("[data-kinds]");

  function update() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    var kind = chosen ? chosen.value : "once";
    parts.forEach(function (part) {
      part.hidden = part.getAttribute("data-kinds").split(" ").indexOf(kind) === -1;
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") update();
  });
  update();
})();
