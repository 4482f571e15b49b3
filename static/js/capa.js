// 8D workspace: repeatable inputs (team members, prevention items, why chains). No framework, no CDN.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var addRow = event.target.closest("[data-add-row]");
    if (addRow) {
      var rows = addRow.parentElement.querySelectorAll(".row");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      copy.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
      addRow.parentElement.insertBefore(copy, addRow);
      var first = copy.querySelector("input, select");
      if (first) { first.focus(); }
      return;
    }
    var addWhy = event.target.closest("[data-add-why]");
    if (addWhy) {
      var list = addWhy.closest("form").querySelector("ol.whys");
      var items = list.querySelectorAll("li");
      var item = items.length ? items[items.length - 1].cloneNode(true) : document.createElement("li");
      var input = item.querySelector("input");
      if (!input) {
        item.innerHTML = "<label>" + (addWhy.dataset.whyLabel || "Why?") + " <input name=\"why\"></label>";
        input = item.querySelector("input");
      }
      input.value = "";
      input.removeAttribute("id");
      list.appendChild(item);
      input.focus();
    }
  });
}());
