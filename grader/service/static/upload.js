// Check the chosen file before it is sent: a file over the size cap would otherwise upload in
// full only to be refused, and the wrong file type is the commonest slip. The server checks
// both again; this only saves the student a round trip and says what to do.
(function () {
  var form = document.getElementById("upload-form");
  var input = document.getElementById("notebook-file");
  var box = document.getElementById("client-error");
  var max = parseInt(form.getAttribute("data-max-bytes"), 10);
  function problem() {
    var f = input.files && input.files[0];
    if (!f) { return ""; }
    if (!/\.ipynb$/i.test(f.name)) { return form.getAttribute("data-not-ipynb").replace("%s", f.name); }
    if (f.size > max) {
      var mb = (f.size / 1048576).toFixed(1);
      return form.getAttribute("data-too-large").replace("%s", mb);
    }
    return "";
  }
  function show() {
    var msg = problem();
    box.textContent = msg;
    box.hidden = !msg;
    return msg;
  }
  input.addEventListener("change", show);
  form.addEventListener("submit", function (ev) {
    if (show()) { ev.preventDefault(); }
  });
})();
