// The dashboard's own script: draws each chart from its JSON figure with plotly.js (served by
// the service, no network) and sorts a table by the column whose heading is clicked.
"use strict";

function drawCharts() {
  for (const box of document.querySelectorAll("div.chart[data-figure]")) {
    const source = document.getElementById(box.dataset.figure);
    const figure = JSON.parse(source.textContent);
    Plotly.newPlot(box, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["sendDataToCloud"],
    }).then(() => box.setAttribute("data-drawn", "true"));
  }
}

function sortKey(cell, numeric) {
  const raw = cell.dataset.sort || "";
  if (!numeric) return raw;
  return raw === "" ? Number.NEGATIVE_INFINITY : Number(raw);
}

function makeSortable(table) {
  const headings = table.querySelectorAll("thead th");
  headings.forEach((th, index) => {
    const button = th.querySelector("button");
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headings.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const numeric = th.classList.contains("num");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = sortKey(a.cells[index], numeric);
        const y = sortKey(b.cells[index], numeric);
        const order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  drawCharts();
});
