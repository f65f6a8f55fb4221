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
  // No assignment chosen yet: take the one the file is named after (the released names).
  var select = document.getElementById("assignment-select");
  function guess() {
    var f = input.files && input.files[0];
    if (!f || select.value) { return; }
    var best = null;
    for (var i = 0; i < select.options.length; i++) {
      var v = select.options[i].value;
      if (v && f.name.indexOf(v) === 0 && (!best || v.length > best.length)) { best = v; }
    }
    if (best) { select.value = best; }
  }
  input.addEventListener("change", guess);
  input.addEventListener("change", show);
  form.addEventListener("submit", function (ev) {
    if (show()) { ev.preventDefault(); }
  });
})();
