import { h } from '../dom';
import { formatValue } from '../format';
import { seriesChart } from '../chart';
import { IMetric } from '../tokens';

/**
 * A run's metrics: one row per name with its last value (and how many were logged), and a
 * chart per series (a name logged several times as numbers, or one list of numbers).
 */
export function metricsView(metrics: IMetric[]): HTMLElement {
  const byName = new Map<string, IMetric[]>();
  for (const metric of metrics) {
    const rows = byName.get(metric.name);
    if (rows) {
      rows.push(metric);
    } else {
      byName.set(metric.name, [metric]);
    }
  }
  const scalars: HTMLElement[] = [];
  const charts: Node[] = [];
  for (const [name, rows] of byName) {
    const numeric = rows.filter(r => typeof r.value === 'number');
    const last = rows[rows.length - 1].value;
    if (numeric.length > 1) {
      charts.push(seriesChart(name, numeric.map((r, i) => [r.step ?? i, r.value as number])));
    } else if (Array.isArray(last) && last.length > 1 && last.every(v => typeof v === 'number')) {
      charts.push(seriesChart(name, (last as number[]).map((v, i) => [i, v])));
    }
    scalars.push(h('tr', { 'data-metric': name }, h('th', {}, name),
      h('td', { className: 'aml-MetricValue' }, formatValue(last)),
      h('td', { className: 'aml-MetricCount' }, rows.length > 1 ? `${rows.length} values` : '')));
  }
  if (!scalars.length) {
    return h('div', { className: 'aml-Empty' }, 'No metrics logged.');
  }
  return h('div', { className: 'aml-Metrics' },
    h('table', { className: 'aml-Table' }, h('tbody', {}, ...scalars)),
    h('div', { className: 'aml-Charts' }, ...charts));
}

/** A short key that changes whenever the metrics view would (count and last entry). */
export function metricsKey(metrics: IMetric[]): string {
  const last = metrics[metrics.length - 1];
  return `${metrics.length}:${last ? JSON.stringify(last) : ''}`;
}
