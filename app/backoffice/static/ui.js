// Small DOM and chart helpers. Every value from the server goes in as textContent, never
// as HTML, so a player's login or a reason string cannot inject markup.
"use strict";

const UI = (() => {
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "onclick") node.addEventListener("click", value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
    }
    return node;
  }

  // rows: arrays of cells (strings or nodes); head: optional header labels.
  function fillTable(table, rows, head = null) {
    const body = table.tBodies[0] || table.appendChild(el("tbody"));
    body.replaceChildren(...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c)))));
    if (head && !table.tHead) table.createTHead().append(el("tr", {}, ...head.map((h) => el("th", {}, h))));
    if (!rows.length) body.append(el("tr", {}, el("td", {class: "empty"}, "nothing yet")));
  }

  function showError(target, err) {
    $(target).textContent = err ? (err.message || String(err)) : "";
  }

  // Money as the API sends it: a decimal string; sums are done in minor units (BigInt) so
  // the dashboard never rounds through a float.
  function addDecimal(a, b) {
    const scale = Math.max(fraction(a).length, fraction(b).length);
    const total = toMinor(a, scale) + toMinor(b, scale);
    return fromMinor(total, scale);
  }
  const fraction = (s) => (String(s).split(".")[1] || "");
  function toMinor(s, scale) {
    const [whole, frac = ""] = String(s).replace("-", "").split(".");
    const value = BigInt(whole + frac.padEnd(scale, "0"));
    return String(s).startsWith("-") ? -value : value;
  }
  function fromMinor(value, scale) {
    const negative = value < 0n;
    const digits = (negative ? -value : value).toString().padStart(scale + 1, "0");
    const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
    return negative ? `-${text}` : text;
  }
  const money = (m) => (m ? `${m.amount} ${m.currency}` : "-");

  // A uPlot line chart of daily series, replaced in place on every update.
  const charts = new Map();
  function lineChart(containerId, days, series) {
    const container = $(containerId);
    const width = Math.max(container.clientWidth || 0, 480);
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const data = [xs, ...series.map((s) => s.values.map(Number))];
    const old = charts.get(containerId);
    if (old && old.series.length === series.length + 1) {
      old.setData(data);
      return old;
    }
    if (old) old.destroy();
    const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    const chart = new uPlot({
      width, height: 240,
      series: [{}, ...series.map((s, i) => ({label: s.label, stroke: colors[i % colors.length], width: 2}))],
      axes: [{}, {size: 60}],
    }, data, container);
    charts.set(containerId, chart);
    container.dataset.points = String(xs.length);
    return chart;
  }

  function chartData(containerId) {
    const chart = charts.get(containerId);
    return chart ? chart.data : null;
  }

  return {$, el, fillTable, showError, addDecimal, money, lineChart, chartData};
})();
