// swapmesh: live updates for the open page. Server-rendered pages stay the
// truth: on an event that concerns what the page shows, the page's live
// regions are fetched again and swapped in, and announced through aria-live.
(function () {
  "use strict";
  // A rent's total for its period, beside the price per period (begun
  // periods count whole, a month is 30 days), as the node reckons it.
  var SECS = { hour: 3600, day: 86400, week: 604800, month: 2592000 };
  document.querySelectorAll("[data-total]").forEach(function (out) {
    var form = out.closest("form");
    function field(name) { var f = form.elements[name]; return f ? f.value : ""; }
    function show() {
      var start = Date.parse(field("start") + "Z"), due = Date.parse(field("due") + "Z");
      var price = parseFloat(field("price")), per = SECS[field("per")];
      if (!(due > start) || !(price >= 0) || !per) { out.textContent = ""; return; }
      var periods = Math.max(1, Math.ceil((due - start) / 1000 / per));
      out.textContent = "Total: " + (price * periods).toFixed(2) + " " + out.getAttribute("data-total") +
        " for " + periods + " " + field("per") + (periods === 1 ? "" : "s");
    }
    form.addEventListener("input", show);
    show();
  });

  var live = document.querySelectorAll("[data-live]");
  if (!live.length || !window.EventSource) return;
  // A region with a form being filled in is not swapped under the typing.
  live.forEach(function (el) {
    el.addEventListener("input", function () { el.setAttribute("data-dirty", "1"); });
  });
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
        var changed = false, held = false;
        live.forEach(function (el) {
          var fresh = el.id && doc.getElementById(el.id);
          if (fresh && fresh.innerHTML !== el.innerHTML) {
            if (el.hasAttribute("data-dirty")) { held = true; return; }
            el.innerHTML = fresh.innerHTML;
            changed = true;
          }
        });
        var note = document.getElementById("live-note");
        if (note && held) note.textContent = "This changed while you were typing: reload to see it.";
        else if (note && changed) note.textContent = "Updated at " + new Date().toLocaleTimeString();
      })
      .catch(function () { /* the next event tries again */ });
  }
  var events = new EventSource("/api/v1/events");
  // What happened between the page's render and the stream's start (or
  // while it was down) came as no event: catch up once it is open.
  events.onopen = function () {
    if (!pending) pending = setTimeout(refresh, 0);
  };
  events.onmessage = function (m) {
    var event;
    try { event = JSON.parse(m.data); } catch (e) { return; }
    if (event.type === "lagged") { location.reload(); return; }
    var topic = event.type.split("_")[0];
    if (wanted[topic] && !pending) pending = setTimeout(refresh, 150);
  };
})();
