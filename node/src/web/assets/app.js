// swapmesh: live updates for the open page. Server-rendered pages stay the
// truth: on an event that concerns what the page shows, the page's live
// regions are fetched again and swapped in, and announced through aria-live.
(function () {
  "use strict";
  var live = document.querySelectorAll("[data-live]");
  if (!live.length || !window.EventSource) return;
  var wanted = {};
  live.forEach(function (el) {
    el.getAttribute("data-live").split(" ").forEach(function (t) { wanted[t] = true; });
  });
  var pending = null;
  function refresh() {
    pending = null;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var changed = false;
        live.forEach(function (el) {
          var fresh = el.id && doc.getElementById(el.id);
          if (fresh && fresh.innerHTML !== el.innerHTML) {
            el.innerHTML = fresh.innerHTML;
            changed = true;
          }
        });
        var note = document.getElementById("live-note");
        if (changed && note) note.textContent = "Updated at " + new Date().toLocaleTimeString();
      })
      .catch(function () { /* the next event tries again */ });
  }
  var events = new EventSource("/api/v1/events");
  events.onmessage = function (m) {
    var event;
    try { event = JSON.parse(m.data); } catch (e) { return; }
    if (event.type === "lagged") { location.reload(); return; }
    var topic = event.type.split("_")[0];
    if (wanted[topic] && !pending) pending = setTimeout(refresh, 150);
  };
})();
