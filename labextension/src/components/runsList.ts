import { Widget } from '@lumino/widgets';

import { h, replaceChildren } from '../dom';
import { formatDuration, formatValue, runDuration } from '../format';
import { PAGE_SIZE, RunsModel } from '../model';
import { ALL_STATUSES, IRun } from '../tokens';
import { statusBadge } from './badge';
import { Rendered } from './rendered';

/**
 * The runs of the project, newest first, a page at a time: status and target filters, one
 * row per run (status, script and id, target, duration, latest metrics), a pager. A row shows
 * the run's one state (`RunsModel.runs`), the same the open run's detail shows; clicking it
 * opens that detail.
 */
export class RunsList extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.addClass('aml-RunsList');
    this.node.appendChild(h('h3', {}, 'Runs'));
    this.node.appendChild(this._filters());
    this.node.appendChild(this._rows.node);
    this.node.appendChild(this._pager.node);
    model.changed.connect(this._render, this);
    model.runs.changed.connect(this._render, this);
    model.detail.changed.connect(this._render, this);       // the selected row
    this._render();
  }

  private _render(): void {
    const m = this.model;
    this._syncTargetFilter();
    const page = m.page;
    if (!page) {
      this._rows.render('', () => null);
      this._pager.render('', () => null);
      return;
    }
    const runs = m.pageRuns;
    const rows = runs.map(run => [run, page.metrics[run.run_id] || {}] as const);
    const shown = rows.map(([run, metrics]) => [run.run_id, run.status, run.script, run.target,
      run.reason, formatDuration(runDuration(run)), metricsText(metrics)]);
    this._rows.render(JSON.stringify([shown, m.detail.runId]), () => rows.length
      ? h('table', { className: 'aml-Table aml-RunsTable' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Status'), h('th', {}, 'Run'), h('th', {}, 'Target'),
          h('th', {}, 'Duration'), h('th', {}, 'Metrics'))),
        h('tbody', {}, ...rows.map(([run, metrics]) => this._row(run, metrics))))
      : h('div', { className: 'aml-Empty' }, 'No runs match.'));
    const last = Math.min(page.offset + runs.length, page.total);
    this._pager.render(JSON.stringify([page.offset, last, page.total]), () => [
      h('button', { className: 'aml-PrevPage aml-Small', disabled: page.offset === 0,
        onclick: () => m.setOffset(page.offset - PAGE_SIZE) }, '‹ Newer'),
      h('span', { className: 'aml-PageInfo' }, page.total ? `${page.offset + 1}–${last} of ${page.total}` : '0 runs'),
      h('button', { className: 'aml-NextPage aml-Small', disabled: last >= page.total,
        onclick: () => m.setOffset(page.offset + PAGE_SIZE) }, 'Older ›')]);
  }

  private _row(run: IRun, metrics: Record<string, unknown>): HTMLElement {
    const selected = this.model.detail.runId === run.run_id;
    return h('tr', { className: `aml-Run${selected ? ' aml-mod-selected' : ''}`, 'data-run-id': run.run_id,
      'data-status': run.status, title: run.reason || run.run_id,
      onclick: () => this.model.detail.open(run.run_id) },
      h('td', {}, statusBadge(run.status)),
      h('td', { className: 'aml-RunId' }, run.script ? `${run.script} ` : '', h('small', {}, run.run_id.slice(-13))),
      h('td', { className: 'aml-RunTarget' }, run.target),
      h('td', { className: 'aml-Duration' }, formatDuration(runDuration(run))),
      h('td', { className: 'aml-RunMetrics' }, metricsText(metrics)));
  }

  /** The target filter offers the project's targets; rebuilt only when they change. */
  private _syncTargetFilter(): void {
    const select = this._targetFilter;
    const wanted = ['', ...this.model.targets.map(t => t.name)];
    if (Array.from(select.options).map(o => o.value).join('|') !== wanted.join('|')) {
      replaceChildren(select, ...wanted.map(v => h('option', { value: v }, v || 'all targets')));
      select.value = this.model.targetFilter;
    }
  }

  private _filters(): HTMLElement {
    const status = h('select', { className: 'aml-StatusFilter jp-mod-styled', 'aria-label': 'status filter' },
      h('option', { value: '' }, 'all statuses'), ...ALL_STATUSES.map(s => h('option', { value: s }, s))) as HTMLSelectElement;
    const apply = () => this.model.setFilters(status.value, this._targetFilter.value);
    status.addEventListener('change', apply);
    this._targetFilter.addEventListener('change', apply);
    return h('div', { className: 'aml-Filters' }, status, this._targetFilter);
  }

  private _targetFilter = h('select', { className: 'aml-TargetFilter jp-mod-styled', 'aria-label': 'target filter' }) as HTMLSelectElement;
  private _rows = new Rendered(h('div', { className: 'aml-Runs' }));
  private _pager = new Rendered(h('div', { className: 'aml-Pager' }));
}

function metricsText(metrics: Record<string, unknown>): string {
  return Object.entries(metrics).map(([k, v]) => `${k}=${formatValue(v)}`).join(' ');
}
