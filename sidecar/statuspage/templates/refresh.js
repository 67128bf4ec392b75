(function () {
  "use strict";
  // Fetch this page again and swap its <main> in place: no full reload, no flicker. Paused
  // while the tab is hidden; the login form lives outside <main>, so typing is never lost.
  var every = Math.max(2, Number(document.body.getAttribute("data-refresh")) || 5) * 1000;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(window.location.pathname, {
      headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store"
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var incoming = fresh.querySelector("main");
      var current = document.querySelector("main");
      if (incoming && current) {
        current.replaceWith(document.importNode(incoming, true));
        document.title = fresh.title;
      }
      document.body.classList.remove("offline");
    }).catch(function () {
      document.body.classList.add("offline");
    }).then(function () {
      busy = false;
    });
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
