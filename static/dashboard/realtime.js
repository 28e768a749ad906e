// Refreshes the "current visitors" badge every 30 s. The page works without it: the count is rendered.
(function () {
  "use strict";
  var badge = document.getElementById("realtime");
  if (!badge || !window.fetch) return;
  var count = badge.querySelector("[data-count]");
  var label = badge.querySelector("[data-label]");
  function refresh() {
    if (document.hidden) return;
    fetch(badge.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || typeof data.visitors !== "number") return;
        count.textContent = String(data.visitors);
        label.textContent = data.visitors === 1 ? "current visitor" : "current visitors";
      })
      .catch(function () {});
  }
  setInterval(refresh, 30000);
})();
