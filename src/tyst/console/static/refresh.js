// tyst console: reload a page of work in progress every few seconds, unless the reader
// turns it off (WCAG 2.2.1); without JavaScript the page has a plain "refresh" link.
(function () {
  "use strict";
  var box = document.getElementById("auto-refresh");
  var control = document.getElementById("auto-refresh-control");
  if (!box || !control) { return; }
  control.hidden = false;
  var key = "tyst-console-auto-refresh";
  if (window.sessionStorage.getItem(key) === "off") { box.checked = false; }
  box.addEventListener("change", function () {
    window.sessionStorage.setItem(key, box.checked ? "on" : "off");
  });
  var seconds = Number(box.getAttribute("data-seconds")) || 2;
  window.setInterval(function () { if (box.checked) { window.location.reload(); } }, seconds * 1000);
}());
