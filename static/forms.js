// After a failed submit the page comes back with an error summary: move focus to it, so a screen reader reads the
// problems and a keyboard user's next Tab goes through its links to the fields.
(function () {
  "use strict";
  function focusSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    // The field's label (or its group's legend) scrolls into view with it, so the person sees what it asks.
    var group = field.closest(".field") || field;
    group.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusSummary);
  else focusSummary();
})();
