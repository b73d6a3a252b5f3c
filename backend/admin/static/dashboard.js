// Draws every chart of a dashboard page. The server puts each chart's data in a
// <script type="application/json" id="…-data"> block (no inline script: the page's CSP allows
// scripts from /admin/static/ only) and marks its <div> with data-chart="<that id>".
"use strict";

(function () {
  const palette = ["#2f6fde", "#25a667", "#f0a020", "#d9534f", "#7a5cc7", "#1fa2b5", "#8c8c8c"];

  function percent(value) {
    return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
  }

  // {"kind": "bars", "categories": [...], "series": [{name, data, line, percent}]}
  function bars(spec) {
    const shares = spec.series.some((s) => s.percent);
    const counts = spec.series.some((s) => !s.percent);
    const yAxis = [];
    if (counts) yAxis.push({ type: "value", minInterval: 1 });
    if (shares) {
      yAxis.push({ type: "value", min: 0, max: 1, axisLabel: { formatter: percent }, splitLine: { show: !counts } });
    }
    const shareAxis = counts ? 1 : 0;
    return {
      color: palette,
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 48, right: shares && counts ? 56 : 24, top: 40, bottom: 64, containLabel: true },
      xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0 } },
      yAxis: yAxis,
      series: spec.series.map((s) => ({
        name: s.name,
        type: s.line ? "line" : "bar",
        data: s.data,
        yAxisIndex: s.percent ? shareAxis : 0,
        connectNulls: true,
        tooltip: s.percent ? { valueFormatter: percent } : {},
      })),
    };
  }

  // {"kind": "heatmap", "x": [...], "y": [...], "cells": [[x, y, value 0–1], ...], "lowIsGood": bool}
  function heatmap(spec) {
    return {
      animation: false,
      tooltip: {
        position: "top",
        formatter: (p) => spec.y[p.value[1]] + " · " + spec.x[p.value[0]] + ": " + percent(p.value[2]),
      },
      grid: { left: 8, right: 8, top: 8, bottom: 72, containLabel: true },
      xAxis: { type: "category", data: spec.x, splitArea: { show: true }, axisLabel: { interval: 0, rotate: spec.x.length > 5 ? 30 : 0 } },
      yAxis: { type: "category", data: spec.y, inverse: true, splitArea: { show: true } },
      visualMap: {
        min: 0, max: 1, calculable: true, orient: "horizontal", left: "center", bottom: 0,
        inRange: { color: spec.lowIsGood ? ["#25a667", "#f7e08a", "#d9534f"] : ["#d9534f", "#f7e08a", "#25a667"] },
        formatter: percent,
      },
      series: [{
        type: "heatmap",
        data: spec.cells,
        label: { show: spec.x.length * spec.y.length <= 120, formatter: (p) => percent(p.value[2]) },
      }],
    };
  }

  const kinds = { bars: bars, heatmap: heatmap };
  const charts = [];

  document.querySelectorAll("[data-chart]").forEach((element) => {
    const source = document.getElementById(element.dataset.chart);
    if (!source || typeof echarts === "undefined") return;
    const spec = JSON.parse(source.textContent);
    const build = kinds[spec.kind];
    if (!build) return;
    const chart = echarts.init(element, null, { renderer: "canvas" });
    chart.on("finished", () => { element.dataset.rendered = "true"; });
    chart.setOption(build(spec));
    charts.push(chart);
  });

  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
})();
