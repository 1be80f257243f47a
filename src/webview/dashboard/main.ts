/**
 * The usage dashboard's page: per app, requests per minute, latency p50 and p95, runners and
 * cost over the chosen window, drawn with uPlot in the theme's chart colours, from the minutes
 * the extension reads from GET /v1/usage.
 */
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import '../../../media/webview/common.css';
import '../../../media/webview/dashboard.css';
import { formatUsd } from '../../appconfig/cost';
import type { UsageResponse, UsageSample } from '../../shared/api';
import { DASHBOARD_RANGES, type DashboardHours, type DashboardToExtension, type ExtensionToDashboard } from '../../shared/webviewProtocol';
import { connect, h } from '../vscodeApi';

const channel = connect<DashboardToExtension, ExtensionToDashboard, { hours: DashboardHours }>();
let hours: DashboardHours = channel.state()?.hours ?? 1;
const THEME_COLOURS = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'].map((name) => `--vscode-charts-${name}`);

const root = document.getElementById('root')!;
const range = h('vscode-single-select', {
  'aria-label': 'Time range',
  onchange: () => {
    hours = DASHBOARD_RANGES.find(([value]) => String(value) === range.value)?.[0] ?? hours;
    channel.saveState({ hours });
    channel.post({ type: 'range', hours });
  },
}, ...DASHBOARD_RANGES.map(([value, label]) => h('vscode-option', { value: String(value), selected: value === hours }, label)));
queueMicrotask(() => { range.value = String(hours); });
const summary = h('section', { class: 'summary' });
const charts = h('section', { class: 'charts' });
const notice = h('p', { class: 'notice', hidden: true });
root.append(h('header', {}, h('h1', {}, 'Usage'), range), notice, summary, charts);

const plots: uPlot[] = [];

channel.onMessage((message) => {
  if (message.type === 'unavailable') {
    notice.hidden = false;
    notice.textContent = `No usage to show: ${message.reason}`;
    return;
  }
  notice.hidden = true;
  render(message.usage, Date.parse(message.now));
});
channel.post({ type: 'ready' });

new ResizeObserver(() => plots.forEach((plot) => plot.setSize({ width: chartWidth(), height: plot.height }))).observe(charts);

function chartWidth(): number {
  return Math.max(240, charts.clientWidth - 4);
}

function colour(index: number): string {
  const name = THEME_COLOURS[index % THEME_COLOURS.length]!;
  return getComputedStyle(document.body).getPropertyValue(name).trim() || '#3794ff';
}

/** Each app's samples on one minute axis: requests and runners 0 where a minute is missing, cost carried forward. */
function align(usage: UsageResponse, now: number) {
  const step = usage.stepSeconds;
  const start = Math.floor(Date.parse(usage.since) / 1000 / step) * step;
  const end = Math.floor(now / 1000 / step) * step;
  const xs: number[] = [];
  for (let t = start; t <= end; t += step) xs.push(t);
  const index = new Map(xs.map((t, i) => [t, i]));
  const apps = [...new Set(usage.samples.map((sample) => sample.app))].sort();
  const series = apps.map((app) => {
    const requests = xs.map(() => 0);
    const runners = xs.map(() => 0);
    const p50: (number | null)[] = xs.map(() => null);
    const p95: (number | null)[] = xs.map(() => null);
    const cost: (number | null)[] = xs.map(() => null);
    const mine = usage.samples.filter((sample) => sample.app === app);
    for (const sample of mine) {
      const i = index.get(Math.floor(Date.parse(sample.time) / 1000 / step) * step);
      if (i === undefined) continue;
      requests[i] = sample.requests;
      runners[i] = sample.runners;
      p50[i] = sample.p50Ms;
      p95[i] = sample.p95Ms;
      cost[i] = sample.costUsd;
    }
    // Cost is cumulative: a minute with nothing new costs what the last one did, and the
    // window starts where the app's first sample in it starts.
    const first = cost.findIndex((value) => value !== null);
    let last: number | null = null;
    for (let i = 0; i < cost.length; i++) {
      if (cost[i] !== null) last = cost[i]!;
      else if (i > first && first >= 0) cost[i] = last;
    }
    return { app, requests, runners, p50, p95, cost, samples: mine };
  });
  return { xs, series };
}

function render(usage: UsageResponse, now: number): void {
  const { xs, series } = align(usage, now);
  plots.splice(0).forEach((plot) => plot.destroy());
  charts.replaceChildren();
  summary.replaceChildren(...series.map(({ app, samples }, i) => summaryCard(app, samples, usage.costSince.find((entry) => entry.app === app)?.usd ?? 0, colour(i))));
  if (series.length === 0) {
    notice.hidden = false;
    notice.textContent = 'Nothing ran in this window: deploy an app and call it, and its requests, latency, runners and cost show here.';
    return;
  }
  chart('Requests per minute', xs, series.map((s, i) => ({ label: s.app, values: s.requests, stroke: colour(i) })), wholeNumber);
  chart('Latency, p50 solid, p95 dashed', xs, series.flatMap((s, i) => [
    { label: `${s.app} p50`, values: s.p50, stroke: colour(i) },
    { label: `${s.app} p95`, values: s.p95, stroke: colour(i), dash: [6, 4] },
  ]), (v) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))} s` : `${Number(v.toPrecision(3))} ms`));
  chart('Runners', xs, series.map((s, i) => ({ label: s.app, values: s.runners, stroke: colour(i), stepped: true })), wholeNumber);
  chart('Cost so far (USD)', xs, series.map((s, i) => ({ label: s.app, values: s.cost, stroke: colour(i) })), (v) => formatUsd(v));
}

/** Counts have no halves: the axis labels only whole ticks. */
function wholeNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : '';
}

function summaryCard(app: string, samples: UsageSample[], costUsd: number, stroke: string): HTMLElement {
  const requests = samples.reduce((sum, sample) => sum + sample.requests, 0);
  const errors = samples.reduce((sum, sample) => sum + sample.errors, 0);
  const p95 = Math.max(0, ...samples.map((sample) => sample.p95Ms ?? 0));
  const runners = samples.at(-1)?.runners ?? 0;
  const swatch = h('span', { class: 'swatch' });
  // Through the CSSOM: the page's policy allows no style attributes.
  swatch.style.backgroundColor = stroke;
  return h('div', { class: 'card' },
    h('div', { class: 'card-title' }, swatch, app),
    h('div', { class: 'card-numbers' },
      number(String(requests), 'requests'), number(String(errors), 'errors'), number(p95 ? `${Math.round(p95)} ms` : '–', 'worst p95'),
      number(String(runners), 'runners now'), number(formatUsd(costUsd), 'cost in window')));
}

function number(value: string, label: string): HTMLElement {
  return h('div', { class: 'number' }, h('div', { class: 'number-value' }, value), h('div', { class: 'number-label' }, label));
}

interface Line {
  label: string;
  values: (number | null)[];
  stroke: string;
  dash?: number[];
  stepped?: boolean;
}

function chart(title: string, xs: number[], lines: Line[], format: (value: number) => string): void {
  const box = h('div', { class: 'chart' }, h('h2', {}, title));
  charts.append(box);
  const axisColour = getComputedStyle(document.body).getPropertyValue('--vscode-descriptionForeground').trim() || '#999';
  const gridColour = getComputedStyle(document.body).getPropertyValue('--vscode-editorWidget-border').trim() || '#444';
  const axis = { stroke: axisColour, grid: { stroke: gridColour, width: 1 }, ticks: { stroke: gridColour, width: 1 } };
  const plot = new uPlot({
    width: chartWidth(),
    height: 180,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
    axes: [axis, { ...axis, values: (_u, ticks) => ticks.map(format), size: 70 }],
    series: [
      {},
      ...lines.map((line) => ({
        label: line.label,
        stroke: line.stroke,
        width: 2,
        spanGaps: false,
        // A minute alone between empty ones is a point, not a line: show points while they are few.
        points: { show: xs.length <= 360, size: 5 },
        value: (_u: uPlot, value: number | null) => (value === null ? '–' : format(value)),
        ...(line.dash ? { dash: line.dash } : {}),
        ...(line.stepped ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
      })),
    ],
  }, [xs, ...lines.map((line) => line.values)] as uPlot.AlignedData, box);
  plots.push(plot);
}
