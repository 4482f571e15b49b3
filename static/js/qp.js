/* QualityPulse — small progressive enhancements. Every page works without this file; texts come from data-*
   attributes rendered (and translated) by the templates, so there is no JavaScript catalogue. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Forms marked data-autosubmit submit when one of their selects changes (site switcher, filter selects).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Buttons with data-confirm ask before submitting a destructive form.
  document.querySelectorAll("[data-confirm]").forEach(function (element) {
    var form = element.tagName === "FORM" ? element : element.form;
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      if (!window.confirm(element.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  // Copy buttons: data-copy-target names the element whose text is copied; data-copied is the confirmation text.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      if (!source) { return; }
      var text = source.textContent.trim();
      var status = document.getElementById(button.getAttribute("data-status-target"));
      function done(ok) {
        if (status) { status.textContent = ok ? button.getAttribute("data-copied") : button.getAttribute("data-failed"); }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
      } else {
        done(fallbackCopy(text));
      }
    });
  });

  // Format a JSON textarea on request (dead-letter correction).
  document.querySelectorAll("[data-format-json]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var area = document.getElementById(button.getAttribute("data-format-json"));
      try { area.value = JSON.stringify(JSON.parse(area.value), null, 2); } catch (e) { area.focus(); }
    });
  });
})();
