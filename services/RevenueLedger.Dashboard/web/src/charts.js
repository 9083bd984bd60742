// Apache ECharts, only the parts these charts use (tree-shaken by esbuild): line and bar charts on a grid.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { formatMoney, formatPercent } from './format.js';

echarts.use([BarChart, LineChart, AriaComponent, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

const live = new Set();
window.addEventListener('resize', () => live.forEach((c) => c.resize()));

export function disposeAll() {
  live.forEach((c) => c.dispose());
  live.clear();
}

function chart(el, option) {
  const c = echarts.init(el, null, { renderer: 'canvas' });
  c.setOption({ animation: false, aria: { enabled: true }, textStyle: { fontFamily: 'inherit' }, ...option });
  live.add(c);
  return c;
}

/** NRR and GRR per window: one line each, in percent. */
export function ratioTrend(el, labels, series) {
  return chart(el, {
    tooltip: { trigger: 'axis', valueFormatter: (v) => (v === null ? 'n/a' : formatPercent(v)) },
    legend: { top: 0 },
    grid: { left: 56, right: 16, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: labels },
    yAxis: { type: 'value', scale: true, axisLabel: { formatter: (v) => formatPercent(v) } },
    series: series.map((s) => ({ name: s.name, type: 'line', data: s.data, connectNulls: false, symbolSize: 6 })),
  });
}

/**
 * The MRR bridge as a waterfall: opening and closing as full bars, each movement floating from the running total
 * (an invisible base bar under a visible delta), rises green, falls red.
 */
export function waterfall(el, steps, currency) {
  let running = 0;
  const base = [], rise = [], fall = [], total = [];
  for (const s of steps) {
    if (s.total) {
      running = s.value;
      base.push(0); rise.push('-'); fall.push('-'); total.push(s.value);
    } else if (s.value >= 0) {
      base.push(running); rise.push(s.value); fall.push('-'); total.push('-');
      running += s.value;
    } else {
      running += s.value;
      base.push(running); rise.push('-'); fall.push(-s.value); total.push('-');
    }
  }
  const money = (v) => formatMoney(v, currency);
  return chart(el, {
    tooltip: {
      trigger: 'axis', axisPointer: { type: 'shadow' },
      formatter: (ps) => { const i = ps[0].dataIndex; return `${steps[i].label}: ${formatMoney(steps[i].value, currency)}`; },
    },
    grid: { left: 80, right: 16, top: 16, bottom: 48 },
    xAxis: { type: 'category', data: steps.map((s) => s.label), axisLabel: { interval: 0, rotate: steps.length > 8 ? 30 : 0 } },
    yAxis: { type: 'value', axisLabel: { formatter: money } },
    series: [
      { name: 'base', type: 'bar', stack: 'w', data: base, itemStyle: { color: 'transparent' }, barMaxWidth: 64, emphasis: { disabled: true }, silent: true },
      { name: 'total', type: 'bar', stack: 'w', data: total, itemStyle: { color: '#4a6fa5' } },
      { name: 'increase', type: 'bar', stack: 'w', data: rise, itemStyle: { color: '#2e8b57' } },
      { name: 'decrease', type: 'bar', stack: 'w', data: fall, itemStyle: { color: '#c0392b' } },
    ],
  });
}

/** Churn reasons by MRR lost (bars), with the cumulative share (line, right axis). */
export function pareto(el, rows, currency) {
  return chart(el, {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 80, right: 56, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: rows.map((r) => r.reason) },
    yAxis: [
      { type: 'value', axisLabel: { formatter: (v) => formatMoney(v, currency) } },
      { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => formatPercent(v) } },
    ],
    series: [
      { name: 'MRR lost', type: 'bar', barMaxWidth: 64, data: rows.map((r) => Number(r.mrrLost)), itemStyle: { color: '#c0392b' },
        tooltip: { valueFormatter: (v) => formatMoney(v, currency) } },
      { name: 'Cumulative share', type: 'line', yAxisIndex: 1, data: rows.map((r) => Number(r.cumulativeShare)),
        tooltip: { valueFormatter: (v) => formatPercent(v) } },
    ],
  });
}

/** An account's MRR over time: a step line, MRR in force from each movement's next day. */
export function mrrSteps(el, points, currency) {
  return chart(el, {
    tooltip: { trigger: 'axis', valueFormatter: (v) => formatMoney(v, currency) },
    grid: { left: 80, right: 16, top: 16, bottom: 28 },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => formatMoney(v, currency) } },
    series: [{ name: 'MRR', type: 'line', step: 'end', data: points, symbolSize: 6 }],
  });
}

/** A tiny NRR trend for a table cell: inline SVG, no chart instance. */
export function sparkline(values) {
  const pts = values.map((v, i) => [i, v]).filter(([, v]) => v !== null);
  if (pts.length < 2) return '<span class="muted">—</span>';
  const ys = pts.map(([, v]) => v), min = Math.min(...ys), max = Math.max(...ys), span = max - min || 1;
  const w = 80, h = 20, n = values.length - 1 || 1;
  const d = pts.map(([i, v], k) => `${k ? 'L' : 'M'}${((i / n) * w).toFixed(1)},${(h - 2 - ((v - min) / span) * (h - 4)).toFixed(1)}`).join('');
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="NRR trend ${values.map((v) => formatPercent(v)).join(', ')}"><path d="${d}" fill="none" stroke="#4a6fa5" stroke-width="1.5"/></svg>`;
}
