// Skybridge console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // With this file running, htmx is too: elements marked .nojs (e.g. the import preview's per-row Save
  // buttons, whose work htmx does on change) are hidden by the stylesheet.
  document.documentElement.classList.add("js");

  // Copy buttons: <button data-copy="element-id">.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var source = document.getElementById(btn.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    var text = source.value !== undefined && source.value !== "" ? source.value : source.textContent;
    navigator.clipboard.writeText(text.trim()).then(function () {
      var was = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = was; }, 1500);
    });
  });

  // Row selection: a header checkbox [data-select-all="name"] ticks every checkbox name=...; buttons with
  // [data-count-of="name"] show "(n)" and are enabled only while something is ticked.
  function refreshCounts(root) {
    root.querySelectorAll("[data-count-of]").forEach(function (el) {
      var name = el.getAttribute("data-count-of");
      var n = root.querySelectorAll('input[type=checkbox][name="' + name + '"]:checked').length;
      var label = el.getAttribute("data-label") || el.textContent.replace(/\s*\(\d+\)$/, "");
      el.setAttribute("data-label", label);
      var all = el.getAttribute("data-label-none");
      el.textContent = n > 0 ? label + " (" + n + ")" : (all || label);
      if (el.hasAttribute("data-needs-selection")) el.disabled = n === 0;
    });
    root.querySelectorAll('input[type=checkbox][name]').forEach(function (box) {
      var row = box.closest("tr");
      if (row) row.classList.toggle("selected", box.checked);
    });
  }
  document.addEventListener("change", function (ev) {
    var all = ev.target.closest("[data-select-all]");
    if (all) {
      var name = all.getAttribute("data-select-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (b) {
        b.checked = all.checked;
      });
    }
    refreshCounts(document);
  });
  document.addEventListener("DOMContentLoaded", function () { refreshCounts(document); });
  document.addEventListener("htmx:afterSettle", function () { refreshCounts(document); });

  // Dismiss All hides the notifications in this view only; a reload shows them again.
  document.addEventListener("click", function (ev) {
    if (!ev.target.closest("[data-dismiss-all]")) return;
    ev.preventDefault();
    document.querySelectorAll("[data-notification]").forEach(function (n) { n.classList.add("hidden"); });
    var empty = document.getElementById("notifications-dismissed");
    if (empty) empty.classList.remove("hidden");
  });
})();
