import { formatNumber } from '../chart';
import { h, replaceChildren } from '../dom';
import { formatValue } from '../format';
import { IMetric } from '../tokens';
import { svg as el } from '../dom';

const WIDTH = 460;
const HEIGHT = 220;
const PAD = { left: 56, right: 12, top: 10, bottom: 28 };


/** A metric's numeric values by step (its order when no step was logged), or one logged list. */
export function seriesOf(rows: IMetric[]): Array<[number, number]> {
  const numeric = rows.filter(r => typeof r.value === 'number');
  if (numeric.length > 1) {
    return numeric.map((r, i) => [r.step ?? i, r.value as number]);
  }
  const last = rows[rows.length - 1].value;
  if (Array.isArray(last) && last.length > 1 && last.every(v => typeof v === 'number')) {
    return (last as number[]).map((v, i) => [i, v]);
  }
  return [];
}

/** A tick's label: short (`0.01`, `250`, `1e-5`), its value being round already. */
function tickText(v: number): string {
  const a = Math.abs(v);
  return v === 0 || (a >= 1e-3 && a < 1e6) ? String(Number(v.toPrecision(6))) : v.toExponential(0);
}

/** About five round ticks over [lo, hi] (powers of ten on a log axis). */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      out.push(10 ** e);
    }
    return out.length > 8 ? out.filter((_, i) => i % Math.ceil(out.length / 6) === 0) : out;
  }
  const span = hi - lo || Math.abs(hi) || 1;
  const step = 10 ** Math.floor(Math.log10(span / 4));
  const nice = [1, 2, 5, 10].map(m => m * step).find(s => span / s <= 6) || step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + nice * 1e-9; v += nice) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/**
 * One series as an SVG chart with axes and ticks: moving the pointer over it (or the arrow
 * keys once it has focus) marks the nearest step and says its value below the chart. On a log
 * scale the values <= 0 cannot be drawn; the chart says how many it left out.
 */
export function interactiveChart(name: string, points: Array<[number, number]>, log: boolean): HTMLElement {
  const shown = log ? points.filter(p => p[1] > 0) : points;
  const hidden = points.length - shown.length;
  const readout = h('div', { className: 'aml-ChartReadout', 'aria-live': 'polite' },
    hidden ? `${hidden} value${hidden === 1 ? '' : 's'} <= 0 not shown on a log scale` : '\u00a0');
  const svg = el('svg', {
    class: 'aml-Chart aml-BigChart', width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img', tabindex: 0, 'data-metric': name, 'data-scale': log ? 'log' : 'linear',
    'aria-label': `${name}: ${points.length} values by step${log ? ', log scale' : ''}`
  });
  const figure = h('figure', { className: 'aml-ChartFigure', 'data-metric': name },
    h('figcaption', { className: 'aml-ChartTitle' }, name), svg, readout);
  if (!shown.length) {
    return figure;
  }
  const f = (y: number) => (log ? Math.log10(y) : y);
  const xs = shown.map(p => p[0]);
  const ys = shown.map(p => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const yTicks = ticks(y0, y1, log);
  [y0, y1] = [Math.min(y0, ...yTicks), Math.max(y1, ...yTicks)];
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => PAD.top + plotH - ((f(y) - f(y0)) / (f(y1) - f(y0) || 1)) * plotH;
  for (const t of yTicks) {
    svg.appendChild(el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: sy(t), y2: sy(t), class: 'aml-ChartGrid' }));
    svg.appendChild(el('text', { x: PAD.left - 4, y: sy(t) + 3, 'text-anchor': 'end', class: 'aml-ChartLabel aml-YTick' },
      tickText(t)));
  }
  for (const t of ticks(x0, x1, false).filter(t => Number.isInteger(t))) {   // steps are whole
    svg.appendChild(el('text', { x: sx(t), y: HEIGHT - PAD.bottom + 14, 'text-anchor': 'middle', class: 'aml-ChartLabel' },
      tickText(t)));
  }
  svg.appendChild(el('text', { x: WIDTH - PAD.right, y: HEIGHT - 2, 'text-anchor': 'end', class: 'aml-ChartLabel' }, 'step'));
  svg.appendChild(el('line', { x1: PAD.left, y1: PAD.top + plotH, x2: WIDTH - PAD.right, y2: PAD.top + plotH, class: 'aml-ChartAxis' }));
  svg.appendChild(el('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + plotH, class: 'aml-ChartAxis' }));
  const d = shown.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
  svg.appendChild(el('path', { d, class: 'aml-ChartLine', fill: 'none' }));
  const cursor = el('line', { y1: PAD.top, y2: PAD.top + plotH, class: 'aml-ChartCursor', visibility: 'hidden' });
  const dot = el('circle', { r: 3.5, class: 'aml-ChartPoint', visibility: 'hidden' });
  svg.append(cursor, dot);
  let at = -1;
  const mark = (i: number) => {
    at = Math.max(0, Math.min(shown.length - 1, i));
    const [x, y] = shown[at];
    for (const [node, attrs] of [[cursor, { x1: sx(x), x2: sx(x) }], [dot, { cx: sx(x), cy: sy(y) }]] as const) {
      for (const [k, v] of Object.entries(attrs)) {
        node.setAttribute(k, String(v));
      }
      node.setAttribute('visibility', 'visible');
    }
    readout.textContent = `${name} at step ${formatNumber(x)}: ${formatValue(y)}`;
  };
  svg.addEventListener('pointermove', (event: PointerEvent) => {
    const box = svg.getBoundingClientRect();
    const x = x0 + ((event.clientX - box.left) * (WIDTH / box.width) - PAD.left) / plotW * (x1 - x0);
    let best = 0;
    for (let i = 1; i < shown.length; i++) {         // nearest step (steps are sorted)
      if (Math.abs(shown[i][0] - x) < Math.abs(shown[best][0] - x)) {
        best = i;
      }
    }
    mark(best);
  });
  svg.addEventListener('keydown', (event: KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: shown.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      mark(at < 0 && event.key.startsWith('Arrow') ? 0 : moves[event.key]);
    }
  });
  return figure;
}

/**
 * The run page's Metrics tab: each metric's last value, and a chart per series (by step) with
 * a "Log scale" toggle for all charts. Rebuilt only when the metrics or the scale changed.
 */
export class MetricsTab {
  readonly node = h('div', { className: 'aml-MetricsTab' });

  render(metrics: IMetric[]): void {
    const last = metrics[metrics.length - 1];
    const key = `${metrics.length}:${last ? JSON.stringify(last) : ''}:${this._log}`;
    if (key === this._key) {
      return;
    }
    this._key = key;
    this._metrics = metrics;
    const byName = new Map<string, IMetric[]>();
    for (const metric of metrics) {
      byName.set(metric.name, [...(byName.get(metric.name) || []), metric]);
    }
    if (!byName.size) {
      replaceChildren(this.node, h('div', { className: 'aml-Empty' }, 'No metrics logged.'));
      return;
    }
    const charts: HTMLElement[] = [];
    const rows: HTMLElement[] = [];
    for (const [name, series] of byName) {
      const points = seriesOf(series);
      if (points.length) {
        charts.push(interactiveChart(name, points, this._log));
      }
      rows.push(h('tr', { 'data-metric': name }, h('th', {}, name),
        h('td', { className: 'aml-MetricValue' }, formatValue(series[series.length - 1].value)),
        h('td', { className: 'aml-MetricCount' }, series.length > 1 ? `${series.length} values` : '')));
    }
    const toggle = h('button', {
      className: 'aml-LogScale jp-mod-styled', 'aria-pressed': String(this._log),
      onclick: () => {
        this._log = !this._log;
        this.render(this._metrics);
      }
    }, 'Log scale');
    replaceChildren(this.node,
      h('table', { className: 'aml-Table aml-LastMetrics' }, h('tbody', {}, ...rows)),
      charts.length ? h('div', { className: 'aml-ChartToolbar' }, toggle) : null,
      h('div', { className: 'aml-Charts' }, ...charts));
  }

  private _key = '';
  private _log = false;
  private _metrics: IMetric[] = [];
}
