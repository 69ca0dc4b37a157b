// heedful dashboard: draws Plotly charts from data-figure JSON; sends the CSRF token with HTMX requests.
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var fig = JSON.parse(el.getAttribute("data-figure"));
      var name = el.getAttribute("data-name") || "chart";
      Plotly.newPlot(el, fig.data, fig.layout, {
        responsive: true,
        displaylogo: false,
        toImageButtonOptions: { format: "png", filename: "heedful-" + name, scale: 2 },
      });
      el.dataset.drawn = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
  });

  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) evt.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    drawCharts(evt.target);
  });

  // Confirmation for destructive buttons without inline handlers (the CSP forbids inline script).
  document.addEventListener("submit", function (evt) {
    var msg = evt.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) evt.preventDefault();
  });
})();
