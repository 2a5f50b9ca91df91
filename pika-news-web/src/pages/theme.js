// The theme picker: light, dark or auto (the system's), remembered in
// localStorage. It runs in <head>, before the body is drawn, so a page
// never flashes the other scheme; the picker is shown once this has run
// (without a script the page follows the system).
(function () {
  "use strict";
  var KEY = "pika-news-theme";
  var root = document.documentElement;
  function stored() {
    try {
      var t = localStorage.getItem(KEY);
      return t === "light" || t === "dark" ? t : "auto";
    } catch (e) {
      return "auto";
    }
  }
  function apply(t) {
    if (t === "light" || t === "dark") root.setAttribute("data-theme", t);
    else root.removeAttribute("data-theme");
  }
  apply(stored());
  // Another tab changed it.
  window.addEventListener("storage", function (e) {
    if (e.key === KEY) apply(stored());
  });
  document.addEventListener("DOMContentLoaded", function () {
    var pick = document.getElementById("theme");
    if (!pick) return;
    pick.value = stored();
    pick.addEventListener("change", function () {
      try {
        if (pick.value === "auto") localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, pick.value);
      } catch (e) {
        // Storage refused (private mode): the choice lasts for this page.
      }
      apply(pick.value);
    });
    pick.closest(".theme").hidden = false;
  });
})();
