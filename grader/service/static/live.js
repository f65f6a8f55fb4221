// Live grading status: listen to the submission's Server-Sent Events and reload the page
// once grading has finished, so the result table is rendered by the server.
(function () {
  var script = document.currentScript;
  var url = script.getAttribute("data-events");
  var el = document.getElementById("status");
  var labels = JSON.parse(el.getAttribute("data-labels"));
  function show(status) {
    el.textContent = labels[status] || status;
    el.className = "status-" + status;
    el.setAttribute("data-status", status);
  }
  if (!window.EventSource) { setTimeout(function () { location.reload(); }, 3000); return; }
  var es = new EventSource(url);
  es.addEventListener("status", function (ev) {
    var data = JSON.parse(ev.data);
    show(data.status);
    if (data.status === "graded" || data.status === "rejected" || data.status === "failed") {
      es.close();
      location.reload();
    }
  });
  // The stream ends after the final event, when the server restarts, or is refused (too many
  // pages following submissions): retry by reloading, waiting twice as long after each
  // failure in a row (2 s ... 64 s) so that refused pages do not hammer the server.
  var key = "grader-live-retries";
  es.onopen = function () { sessionStorage.removeItem(key); };
  es.onerror = function () {
    es.close();
    var tries = parseInt(sessionStorage.getItem(key) || "0", 10);
    sessionStorage.setItem(key, String(tries + 1));
    setTimeout(function () { location.reload(); }, 2000 * Math.pow(2, Math.min(tries, 5)));
  };
})();
