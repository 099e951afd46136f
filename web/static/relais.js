// Relais — every page says which version of Relais rendered it (issue 11).
// htmx requests carry it in the Relais-Page-Version header (hx-headers on
// <body>); plain forms get it here, as hidden fields added when they are
// posted, with the page's own address for the refusal's reload link. The
// server refuses a write from a page of another version and asks to reload
// it (web/stale.go). No inline script anywhere (the CSP forbids it).
"use strict";
(function () {
  var VERSION_FIELD = "relais_page_version", PAGE_FIELD = "relais_page";

  function hidden(form, name, value) {
    var input = null;
    for (var i = 0; i < form.elements.length; i++) {
      if (form.elements[i].name === name) { input = form.elements[i]; break; }
    }
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      // First in the form: a multipart body then starts with it.
      form.insertBefore(input, form.firstChild);
    }
    input.value = value;
  }

  // Capture phase: before htmx or the browser reads the form.
  document.addEventListener("submit", function (e) {
    var form = e.target, version = document.body && document.body.getAttribute("data-relais-version");
    if (!version || !form || form.tagName !== "FORM") return;
    var method = (e.submitter && e.submitter.getAttribute("formmethod")) || form.getAttribute("method") || "get";
    if (method.toLowerCase() === "get") return; // searches stay clean addresses
    hidden(form, VERSION_FIELD, version);
    hidden(form, PAGE_FIELD, window.location.pathname + window.location.search);
  }, true);
})();
