import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { formatDuration, runDuration } from '../format';
import { requestAPI } from '../handler';
import { RunsModel } from '../model';
import { IRun, RunTableJson, TERMINAL_STATUSES, ALL_STATUSES } from '../tokens';
import { statusBadge } from './badge';
import { Rendered } from './rendered';

/** How many active runs the sidebar lists (the runs table has them all). */
const SHOWN = 8;
/** The least pause between two reads of the active runs. */
const READ_MS = 2000;
const ACTIVE = ALL_STATUSES.filter(s => TERMINAL_STATUSES.indexOf(s) < 0);

/**
 * The sidebar's compact live view: the project's active runs (the newest few, with status,
 * target and duration), each a link to its run page in the main area, and a link to the
 * runs table. It reads them when the sidebar's poll says some are active, at most every 2 s.
 */
export class ActiveRunsView extends Widget {
  constructor(
    readonly model: RunsModel,
    private readonly _openRun: (run: IRun) => void,
    private readonly _openTable: () => void
  ) {
    super();
    this.addClass('aml-ActiveRuns');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Active runs');
    this.node.appendChild(this._list.node);
    model.changed.connect(() => void this._read(), this);
    void this._read();
  }

  private async _read(): Promise<void> {
    const m = this.model;
    const project = m.project ? m.project.path : null;
    const active = m.page ? m.page.active : 0;
    if (project === null || this._reading || (project === this._project && active === this._active &&
        Date.now() - this._readAt < READ_MS)) {
      return;
    }
    this._active = active;
    if (!active) {
      this._runs = [];
      this._project = project;
      this._readAt = Date.now();
      this._render(0);
      return;
    }
    this._reading = true;
    try {
      const page = await requestAPI<RunTableJson>('run-table', {}, { project, status: ACTIVE,
        sort: 'created', order: 'desc', limit: SHOWN });
      this._runs = page.runs;
      this._project = project;
      this._readAt = Date.now();
      this._render(page.total);
    } catch {
      // the sidebar's own line says when the server does not answer
    } finally {
      this._reading = false;
    }
  }

  private _render(total: number): void {
    const shown = this._runs.map(r => [r.run_id, r.status, r.script, r.target, formatDuration(runDuration(r))]);
    this._list.render(JSON.stringify([total, shown]), () => [
      h('h3', {}, `Active runs (${total})`),
      total ? h('ul', { className: 'aml-ActiveRunList' }, ...this._runs.map(run => h('li', {
        className: 'aml-ActiveRun', 'data-run-id': run.run_id },
      statusBadge(run.status), ' ',
      h('a', { href: '#', className: 'aml-OpenRunPage', title: `Open the page of run ${run.run_id}`,
        'aria-label': `Open run page of ${run.script || run.run_id}`,
        onclick: (event: Event) => {
          event.preventDefault();
          this._openRun(run);
        } }, run.script || run.run_id),
      h('span', { className: 'aml-ActiveRunMeta' }, ` on ${run.target}, ${formatDuration(runDuration(run))}`))))
        : h('div', { className: 'aml-Empty' }, 'No active runs.'),
      total > this._runs.length
        ? h('a', { href: '#', className: 'aml-MoreActive', onclick: (event: Event) => {
          event.preventDefault();
          this._openTable();
        } }, `all ${total} in the runs table`)
        : null
    ]);
  }

  private _list = new Rendered(h('div', { className: 'aml-ActiveRunsBody' }));
  private _runs: IRun[] = [];
  private _project: string | null = null;
  private _readAt = 0;
  private _active = -1;
  private _reading = false;
}
