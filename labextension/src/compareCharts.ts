/**
 * The compare page's charts as plain SVG (no chart library): metric series of several runs
 * overlaid on one pair of axes, and a scatter of one value per run against another, either
 * axis linear or logarithmic (the natural view of a sweep over a learning rate).
 */
import { formatNumber } from './chart';
import { svg as el } from './dom';

/** One colour per run, in the order the runs are compared (then again from the start). */
export const RUN_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
  '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export type Scale = 'linear' | 'log';


export function runColour(index: number): string {
  return RUN_COLOURS[index % RUN_COLOURS.length];
}

/** An axis: its domain in data units, mapped to [from, to] pixels, linear or log10. */
class Axis {
  constructor(values: number[], readonly scale: Scale, private readonly _from: number,
    private readonly _to: number, private readonly _integer = false) {
    const usable = scale === 'log' ? values.filter(v => v > 0) : values;
    const t = usable.map(v => this._t(v));
    let lo = t.length ? Math.min(...t) : 0;
    let hi = t.length ? Math.max(...t) : 1;
    if (lo === hi) {
      lo -= scale === 'log' ? 0.5 : Math.abs(lo) * 0.1 || 1;
      hi += scale === 'log' ? 0.5 : Math.abs(hi) * 0.1 || 1;
    }
    const margin = (hi - lo) * 0.04;
    this._lo = lo - margin;
    this._hi = hi + margin;
  }

  /** Can VALUE be placed (a log axis leaves out zero and negatives)? */
  has(value: number): boolean {
    return Number.isFinite(value) && (this.scale === 'linear' || value > 0);
  }

  px(value: number): number {
    return this._from + ((this._t(value) - this._lo) / (this._hi - this._lo)) * (this._to - this._from);
  }

  /** Tick values: powers of ten on a log axis, about five round numbers on a linear one. */
  ticks(): number[] {
    if (this.scale === 'log') {
      const found: number[] = [];
      for (let p = Math.ceil(this._lo); p <= Math.floor(this._hi); p++) {
        found.push(10 ** p);
      }
      return found.length ? found : [10 ** ((this._lo + this._hi) / 2)];
    }
    const span = this._hi - this._lo;
    const raw = span / 5;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    let step = [1, 2, 5, 10].map(m => m * magnitude).find(s => s >= raw) || raw;
    if (this._integer) {
      step = Math.max(1, Math.round(step));     // steps are whole numbers: no tick at 0.5
    }
    const found: number[] = [];
    for (let v = Math.ceil(this._lo / step) * step; v <= this._hi; v += step) {
      found.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return found;
  }

  private _t(value: number): number {
    return this.scale === 'log' ? Math.log10(value) : value;
  }

  private _lo: number;
  private _hi: number;
}

const WIDTH = 380;
const HEIGHT = 240;
const LEFT = 56;
const RIGHT = 10;
const TOP = 10;
const BOTTOM = 36;

/** A chart's frame: the svg, its axes drawn with ticks, and its axis titles. */
function frame(label: string, xs: number[], ys: number[], xTitle: string, yTitle: string,
  xScale: Scale, yScale: Scale): { svg: SVGElement; x: Axis; y: Axis } {
  const svg = el('svg', {
    class: 'aml-CompareChart', width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img', 'aria-label': label, 'data-x-scale': xScale, 'data-y-scale': yScale
  });
  svg.appendChild(el('title', {}, label));
  const x = new Axis(xs, xScale, LEFT, WIDTH - RIGHT, xs.every(Number.isInteger));
  const y = new Axis(ys, yScale, HEIGHT - BOTTOM, TOP);
  const bottom = HEIGHT - BOTTOM;
  svg.appendChild(el('line', { x1: LEFT, y1: bottom, x2: WIDTH - RIGHT, y2: bottom, class: 'aml-ChartAxis' }));
  svg.appendChild(el('line', { x1: LEFT, y1: TOP, x2: LEFT, y2: bottom, class: 'aml-ChartAxis' }));
  const xTicks = el('g', { class: 'aml-XTicks' });
  for (const t of x.ticks()) {
    const px = x.px(t).toFixed(1);
    xTicks.appendChild(el('line', { x1: px, y1: bottom, x2: px, y2: bottom + 4, class: 'aml-ChartAxis' }));
    xTicks.appendChild(el('text', { x: px, y: bottom + 14, 'text-anchor': 'middle', class: 'aml-ChartLabel aml-XTick' }, tickLabel(t)));
  }
  const yTicks = el('g', { class: 'aml-YTicks' });
  for (const t of y.ticks()) {
    const py = y.px(t).toFixed(1);
    yTicks.appendChild(el('line', { x1: LEFT - 4, y1: py, x2: LEFT, y2: py, class: 'aml-ChartAxis' }));
    yTicks.appendChild(el('text', { x: LEFT - 6, y: py, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'aml-ChartLabel aml-YTick' }, tickLabel(t)));
  }
  svg.appendChild(xTicks);
  svg.appendChild(yTicks);
  svg.appendChild(el('text', { x: (LEFT + WIDTH - RIGHT) / 2, y: HEIGHT - 4, 'text-anchor': 'middle', class: 'aml-ChartTitle' },
    xTitle + (xScale === 'log' ? ' (log)' : '')));
  svg.appendChild(el('text', { x: 12, y: (TOP + bottom) / 2, 'text-anchor': 'middle', class: 'aml-ChartTitle',
    transform: `rotate(-90 12 ${(TOP + bottom) / 2})` }, yTitle + (yScale === 'log' ? ' (log)' : '')));
  return { svg, x, y };
}

/** A tick's text: its value to 3 significant digits, without trailing zeros (0.5, 1e-7). */
export function tickLabel(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** One run's series in an overlay. */
export interface ISeriesLine {
  runId: string;
  label: string;
  colour: string;
  points: number[][];          // [step, value]
}

/** Metric NAME of several runs on one pair of axes, a line (and its colour) per run. */
export function overlayChart(name: string, lines: ISeriesLine[], yScale: Scale = 'linear'): SVGElement {
  const xs = lines.flatMap(l => l.points.map(p => p[0]));
  const ys = lines.flatMap(l => l.points.map(p => p[1]));
  const { svg, x, y } = frame(`${name} by step, ${lines.length} runs`, xs, ys, 'step', name, 'linear', yScale);
  svg.setAttribute('data-metric', name);
  for (const line of lines) {
    const shown = line.points.filter(p => y.has(p[1]));
    const d = shown.map((p, i) => `${i ? 'L' : 'M'}${x.px(p[0]).toFixed(1)},${y.px(p[1]).toFixed(1)}`).join(' ');
    const path = el('path', { d: d || 'M0,0', fill: 'none', stroke: line.colour, 'stroke-width': 1.6,
      class: 'aml-SeriesLine', 'data-run-id': line.runId, 'data-points': shown.length });
    path.appendChild(el('title', {}, `${line.label}: ${shown.length} values`));
    svg.appendChild(path);
    if (shown.length === 1) {
      svg.appendChild(el('circle', { cx: x.px(shown[0][0]).toFixed(1), cy: y.px(shown[0][1]).toFixed(1), r: 3, fill: line.colour }));
    }
  }
  return svg;
}

/** One run's point in a scatter. */
export interface IScatterPoint {
  runId: string;
  label: string;
  colour: string;
  x: number;
  y: number;
}

/** Y against X, a point per run; points a log axis cannot place are left out (and counted). */
export function scatterChart(xTitle: string, yTitle: string, points: IScatterPoint[], xScale: Scale,
  yScale: Scale): SVGElement {
  const xAxisProbe = new Axis([], xScale, 0, 1);
  const yAxisProbe = new Axis([], yScale, 0, 1);
  const placed = points.filter(p => xAxisProbe.has(p.x) && yAxisProbe.has(p.y));
  const { svg, x, y } = frame(`${yTitle} against ${xTitle}, ${placed.length} runs`,
    placed.map(p => p.x), placed.map(p => p.y), xTitle, yTitle, xScale, yScale);
  svg.classList.add('aml-Scatter');
  svg.setAttribute('data-left-out', String(points.length - placed.length));
  for (const p of placed) {
    const dot = el('circle', { cx: x.px(p.x).toFixed(1), cy: y.px(p.y).toFixed(1), r: 4.5, fill: p.colour,
      class: 'aml-ScatterPoint', 'data-run-id': p.runId, 'data-x': p.x, 'data-y': p.y });
    dot.appendChild(el('title', {}, `${p.label}: ${xTitle} ${formatNumber(p.x)}, ${yTitle} ${formatNumber(p.y)}`));
    svg.appendChild(dot);
  }
  return svg;
}
