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
    if (data.status === "graded" || data.status === "failed") {
      es.close();
      location.reload();
    }
  });
  es.onerror = function () {
    // The stream ends after the final event or when the server restarts: retry by polling.
    es.close();
    setTimeout(function () { location.reload(); }, 2000);
  };
})();
