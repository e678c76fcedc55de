import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Panel, Widget } from '@lumino/widgets';

import { h, replaceChildren } from '../dom';
import { requestAPI } from '../handler';
import { RunsModel } from '../model';
import { ITableRow, RunsTableModel } from '../tableModel';
import { ALL_STATUSES } from '../tokens';
import { RunsGrid } from './runsGrid';
import { Rendered } from './rendered';
import { compareRequest, ICompareRequest } from './comparePage';
import { SweepFilter } from './sweepFilter';
import { notifyError } from './notify';

/** Pause after the last keystroke in "Filter runs" before the server is asked. */
const FILTER_DEBOUNCE_MS = 250;

/**
 * The runs page of the main area: a search box ("Filter runs"), status and target filters,
 * the count of matching runs, and the virtualized grid of runs. Sorting, filtering and
 * searching all happen on the server; clicking a row opens the run's page.
 */
export class RunsPage extends Panel {
  constructor(
    readonly model: RunsTableModel,
    private readonly _sidebar: RunsModel,
    open: (row: ITableRow) => void,
    private readonly _compare?: (request: ICompareRequest) => void
  ) {
    super();
    this.addClass('aml-RunsPage');
    this.title.label = 'Runs';
    this.title.closable = true;
    this.title.caption = `aml_magic runs of ${model.projectPath || 'the server root'}`;
    this.addWidget(new Widget({ node: h('div', { className: 'aml-TableToolbar' },
      this._search, this._status, this._target, this._sweep.node, this._chooserButton, this._compareButton, this._cancelButton,
      this._deleteButton, this._count.node) }));
    this.addWidget(new Widget({ node: this._chooser.node }));
    this.addWidget(new Widget({ node: this._error.node }));
    this.addWidget(new RunsGrid(model, open));
    const apply = () => model.setFilters(this._status.value, this._target.value, this._search.value);
    this._status.addEventListener('change', apply);
    this._target.addEventListener('change', apply);
    this._search.addEventListener('input', () => {
      window.clearTimeout(this._debounce);
      this._debounce = window.setTimeout(apply, FILTER_DEBOUNCE_MS);
    });
    model.changed.connect(this._render, this);
    _sidebar.changed.connect(this._syncTargets, this);
    this._syncTargets();
    this._render();
  }

  dispose(): void {
    this.model.stop();
    window.clearTimeout(this._debounce);
    this._sidebar.changed.disconnect(this._syncTargets, this);
    super.dispose();
  }

  protected onAfterShow(): void {
    this.model.start();
  }

  protected onAfterAttach(): void {
    this.model.start();
  }

  protected onBeforeHide(): void {
    this.model.stop();
  }

  /** Confirm, then cancel or delete each selected run; what failed stays on the page. */
  private async _act(verb: 'Cancel' | 'Delete'): Promise<void> {
    const m = this.model;
    const count = m.selected.size;
    const runs = `${count} run${count === 1 ? '' : 's'}`;
    const result = await showDialog({
      title: `${verb} ${runs}?`,
      body: verb === 'Delete'
        ? `Delete ${runs} from the history, with their run folders (logs, outputs)? This cannot be undone; a run still active is refused: cancel it first.`
        : `Cancel ${runs}? Each stops on its target; a run that has ended is left as it is.`,
      buttons: [Dialog.cancelButton({ label: 'Keep them' }), Dialog.warnButton({ label: verb })]
    });
    if (!result.button.accept) {
      return;
    }
    const project = { project: m.projectPath };
    const failures = await m.forSelected(runId => verb === 'Delete'
      ? requestAPI<void>(`runs/${encodeURIComponent(runId)}`, { method: 'DELETE' }, project)
      : requestAPI<unknown>(`runs/${encodeURIComponent(runId)}/cancel`, { method: 'POST', body: '{}' }, project));
    for (const failure of failures) {
      notifyError(verb, failure);
    }
  }

  /** The column chooser: a checkbox per metric and parameter, shown or hidden by its button. */
  private _renderChooser(): void {
    const m = this.model;
    const open = this._chooserOpen;
    this._chooserButton.setAttribute('aria-expanded', String(open));
    const key = JSON.stringify([open, m.metricNames, m.parameterNames, m.shownMetrics, m.shownParameters]);
    this._chooser.render(key, () => {
      if (!open) {
        return null;
      }
      const box = (kind: 'metric' | 'param', name: string, shown: string[]) => h('label', { className: 'aml-ColumnChoice' },
        h('input', { type: 'checkbox', checked: shown.indexOf(name) >= 0,
          onchange: (event: Event) => m.showColumn(kind, name, (event.target as HTMLInputElement).checked) }),
        kind === 'metric' ? name : `--${name}`);
      return h('div', { className: 'aml-ColumnChooser', role: 'group', 'aria-label': 'Columns' },
        h('fieldset', {}, h('legend', {}, 'Metrics (latest value)'),
          ...(m.metricNames.length ? m.metricNames.map(n => box('metric', n, m.shownMetrics)) : ['none logged'])),
        h('fieldset', {}, h('legend', {}, 'Parameters'),
          ...(m.parameterNames.length ? m.parameterNames.map(n => box('param', n, m.shownParameters)) : ['none given'])));
    });
  }

  private _render(): void {
    const m = this.model;
    this._renderChooser();
    const total = m.total;
    this._count.render(String(total), () => h('span', { className: 'aml-TableCount' },
      total === null ? 'Loading runs…' : `${total} run${total === 1 ? '' : 's'}`));
    const errors = [m.error, m.actionError].filter(e => e).join('\n');
    this._error.render(errors, () => errors ? h('div', { className: 'aml-Error', role: 'alert' }, errors) : null);
    const selected = m.selected.size;
    const compare = compareRequest(m.selected, this._sweep.value);
    // rows arriving while scrolling re-render this: write only what changed (no style work)
    for (const [button, disabled, text] of [
      [this._cancelButton, selected === 0, selected ? `Cancel ${selected}…` : 'Cancel…'],
      [this._deleteButton, selected === 0, selected ? `Delete ${selected}…` : 'Delete…'],
      [this._compareButton, !compare || !this._compare,
        selected ? `Compare ${selected}` : compare ? 'Compare sweep' : 'Compare']] as const) {
      if (button.disabled !== disabled) {
        button.disabled = disabled;
      }
      if (button.textContent !== text) {
        button.textContent = text;
      }
    }
  }

  /** The target filter offers the project's targets (and keeps the one chosen). */
  private _syncTargets(): void {
    const names = this._sidebar.targets.map(t => t.name);
    const chosen = this._target.value;
    if (chosen && names.indexOf(chosen) < 0) {
      names.push(chosen);
    }
    const wanted = ['', ...names];
    if (Array.from(this._target.options).map(o => o.value).join('|') !== wanted.join('|')) {
      replaceChildren(this._target, ...wanted.map(v => h('option', { value: v }, v || 'all targets')));
      this._target.value = chosen;
    }
  }

  private _sweep = new SweepFilter(this.model.projectPath, parent => this.model.setParent(parent));
  private _compareButton = h('button', { className: 'aml-CompareSelected jp-mod-styled', disabled: true,
    'aria-label': 'Compare selected runs', onclick: () => {
      const request = compareRequest(this.model.selected, this._sweep.value);
      if (request && this._compare) {
        this._compare(request);
      }
    } }, 'Compare') as HTMLButtonElement;
  private _debounce = 0;
  private _cancelButton = h('button', { className: 'aml-CancelSelected jp-mod-styled', disabled: true,
    'aria-label': 'Cancel selected runs', onclick: () => void this._act('Cancel') }, 'Cancel…') as HTMLButtonElement;
  private _deleteButton = h('button', { className: 'aml-DeleteSelected jp-mod-styled', disabled: true,
    'aria-label': 'Delete selected runs', onclick: () => void this._act('Delete') }, 'Delete…') as HTMLButtonElement;
  private _chooserOpen = false;
  private _chooser = new Rendered(h('div', { className: 'aml-ColumnChooserArea' }));
  private _chooserButton = h('button', {
    className: 'aml-ColumnsButton jp-mod-styled', 'aria-expanded': 'false',
    onclick: () => {
      this._chooserOpen = !this._chooserOpen;
      this._renderChooser();
    }
  }, 'Columns');
  private _search = h('input', {
    type: 'search', className: 'aml-TableSearch jp-mod-styled', 'aria-label': 'Filter runs',
    placeholder: 'Filter runs by name, arguments or id'
  }) as HTMLInputElement;
  private _status = h('select', { className: 'aml-TableStatus jp-mod-styled', 'aria-label': 'Status filter' },
    h('option', { value: '' }, 'all statuses'), ...ALL_STATUSES.map(s => h('option', { value: s }, s))) as HTMLSelectElement;
  private _target = h('select', { className: 'aml-TableTarget jp-mod-styled', 'aria-label': 'Target filter' }) as HTMLSelectElement;
  private _count = new Rendered(h('span', { className: 'aml-TableCountArea', 'aria-live': 'polite' }));
  private _error = new Rendered(h('div', { className: 'aml-TableError' }));
}

export function runPageId(runId: string): string {
  return `aml-run-${runId}`;
}
