/**
 * A line chart of one metric series as plain SVG (no chart library): values against their
 * step (or their order when no step was logged), with the min and max on the axis.
 */
import { svg as el } from './dom';

export function seriesChart(name: string, points: Array<[number, number]>): SVGElement {
  const width = 260;
  const height = 120;
  const pad = 28;
  const svg = el('svg', {
    class: 'aml-Chart',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    'data-metric': name,
    role: 'img'
  });
  const title = el('title', {});
  title.textContent = `${name}: ${points.length} values`;
  svg.appendChild(title);
  const xs = points.map(p => p[0]);
  const ys = points.map(p => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - pad - 6);
  const sy = (y: number) => height - pad + 10 - ((y - y0) / (y1 - y0 || 1)) * (height - pad - 6);
  svg.appendChild(el('line', { x1: pad, y1: height - pad + 10, x2: width - 6, y2: height - pad + 10, class: 'aml-ChartAxis' }));
  svg.appendChild(el('line', { x1: pad, y1: 4, x2: pad, y2: height - pad + 10, class: 'aml-ChartAxis' }));
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`);
  svg.appendChild(el('path', { d: path.join(' '), class: 'aml-ChartLine', fill: 'none' }));
  for (const p of points.length <= 50 ? points : []) {
    svg.appendChild(el('circle', { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 2, class: 'aml-ChartPoint' }));
  }
  const label = (text: string, x: number, y: number, anchor = 'start') => {
    const t = el('text', { x, y, 'text-anchor': anchor, class: 'aml-ChartLabel' });
    t.textContent = text;
    svg.appendChild(t);
  };
  label(formatNumber(y1), pad - 3, 12, 'end');
  label(formatNumber(y0), pad - 3, height - pad + 10, 'end');
  label(`${name} (${points.length})`, pad + 4, height - 4);
  return svg;
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) {
    return String(value);
  }
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.001
    ? value.toExponential(2)
    : value.toPrecision(3);
}
