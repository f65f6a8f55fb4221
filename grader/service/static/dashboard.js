// Live instructor dashboard: listen to /api/v1/instructor/events, show the queue counts at
// once, and reload the page (statistics, submissions) when a grading run has ended, at most
// every few seconds so that a busy queue does not reload the page continuously.
(function () {
  var el = document.getElementById("live-counts");
  if (!el || !window.EventSource) { return; }
  var labels = JSON.parse(el.getAttribute("data-labels"));
  var shown = null; // the newest result id when the page was loaded (the first event)
  var pending = null;
  function show(d) {
    el.textContent = labels.queued + ": " + d.queued + " · " + labels.running + ": " + d.running +
      " · " + labels.graded + ": " + d.graded;
    el.setAttribute("data-queued", d.queued);
    el.setAttribute("data-running", d.running);
  }
  var es = new EventSource("/api/v1/instructor/events");
  es.addEventListener("update", function (ev) {
    var d = JSON.parse(ev.data);
    show(d);
    if (shown === null) { shown = d.last_result; return; }
    if (d.last_result !== shown && pending === null) {
      pending = setTimeout(function () { location.reload(); }, 1500);
    }
  });
})();
