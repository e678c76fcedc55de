import { Widget } from '@lumino/widgets';

import { apiUrl } from '../handler';
import { h, replaceChildren } from '../dom';
import { formatBytes, formatDuration, runDuration } from '../format';
import { RunsModel } from '../model';
import { IRun, IRunDetail, isTerminal } from '../tokens';
import { statusBadge } from './badge';
import { metricsKey, metricsView } from './metrics';
import { LogView } from './logView';
import { viewButton } from './notebookViewer';
import { Rendered } from './rendered';
import { notifyError } from './notify';

/**
 * The open run: its id and status (the one state the runs list shows too), Cancel while it is
 * active, the reason it failed, its facts (target, arguments, interpreter, duration, exit code,
 * and reduced container isolation when the user allowed it),
 * metrics with charts, environment variables (secrets masked by the server), outputs as
 * download links, and the log, appended as it grows. Each part is rebuilt only when what it
 * shows changed; the log is only ever appended to.
 */
export class RunDetailView extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.addClass('aml-DetailArea');
    const section = (title: string, part: Rendered) => [h('h4', {}, title), part.node];
    this._body = h('div', { className: 'aml-RunDetail' },
      this._header.node, this._notes.node, this._facts.node,
      ...section('Metrics', this._metrics), ...section('Environment', this._environment),
      ...section('Outputs', this._outputs), h('h4', {}, 'Log'), this._logView.earlier, this._logView.log);
    model.detail.changed.connect(this._render, this);
    model.runs.changed.connect(this._onRunsChanged, this);
    this._render();
  }

  /** The one state of the open run changed: render in the same signal as the runs list. */
  private _onRunsChanged(_: unknown, ids: string[]): void {
    const runId = this.model.detail.runId;
    if (runId && ids.indexOf(runId) >= 0) {
      this._render();
    }
  }

  private _render(): void {
    const d = this.model.detail;
    if (!d.runId) {
      replaceChildren(this.node);
      this._shownRun = null;
      return;
    }
    if (this._shownRun !== d.runId) {
      this._shownRun = d.runId;
      for (const part of [this._header, this._notes, this._facts, this._metrics, this._environment, this._outputs]) {
        part.reset();
      }
      this._logView.reset();
      this._body.dataset.runId = d.runId;
      replaceChildren(this.node, this._body);
    }
    const run = d.run;
    const detail = d.detail;
    this._header.render(JSON.stringify([d.runId, run ? run.status : null]), () => this._headerParts(d.runId as string, run));
    const [error, reason, unreachable] = [d.error, run ? run.reason : '', detail ? detail.unreachable : ''];
    const orphaned = detail ? detail.orphaned : '';
    this._notes.render(JSON.stringify([error, reason, unreachable, orphaned]), () => [
      error ? h('div', { className: 'aml-Error' }, error) : null,
      reason ? h('div', { className: 'aml-Reason' }, reason) : null,
      orphaned ? h('div', { className: 'aml-Error aml-Orphaned' }, `Orphaned: ${orphaned}`) : null,
      unreachable ? h('div', { className: 'aml-Error' }, `Target unreachable: ${unreachable}`) : null]);
    if (!run || !detail) {
      this._facts.render('loading', () => h('div', { className: 'aml-Loading' }, `Loading ${d.runId}…`));
    } else {
      const facts = this._factRows(run, detail);
      this._facts.render(JSON.stringify(facts), () => h('table', { className: 'aml-Table aml-Facts' },
        h('tbody', {}, ...facts.map(([label, value, className]) =>
          h('tr', {}, h('th', {}, label), h('td', { className }, value))))));
      this._metrics.render(metricsKey(detail.metrics), () => metricsView(detail.metrics));
      this._environment.render(JSON.stringify(detail.environment), () => this._environmentTable(detail));
      this._outputs.render(JSON.stringify([detail.outputs, isTerminal(run.status)]),
        () => this._outputList(run, detail));
    }
    this._logView.update();
  }

  private _headerParts(runId: string, run: IRun | undefined): HTMLElement {
    const d = this.model.detail;
    return h('div', { className: 'aml-DetailHeader' },
      h('button', { className: 'aml-CloseDetail aml-Small', title: 'Close', onclick: () => d.close() }, '×'),
      h('strong', {}, runId), ' ', run ? statusBadge(run.status) : null,
      !run || isTerminal(run.status) ? null : h('button', { className: 'aml-CancelButton aml-Small aml-Danger',
        onclick: () => void d.cancel().catch(e => notifyError(`Cancel run ${d.runId}`, e)) }, 'Cancel'));
  }

  private _factRows(run: IRun, detail: IRunDetail): Array<[string, string, string]> {
    const compute = detail.configuration.compute || {};
    const interpreter = detail.python ||
      String(compute['pythonLocation'] || compute['python_location'] || '') ||
      `the ${run.target_type} target's default (pythonLocation not set)`;
    return [
      ['Target', `${run.target} (${run.target_type})`, 'aml-DetailTarget'],
      ['Arguments', (run.command || []).join(' '), 'aml-Arguments'],
      ['Interpreter', interpreter, 'aml-Interpreter'],
      ['Duration', formatDuration(runDuration(run)), 'aml-DetailDuration'],
      ['Exit code', run.exit_code === null || run.exit_code === undefined ? '-' : String(run.exit_code), 'aml-ExitCode'],
      // options weakening the container's isolation, allowed by the user (never by the project)
      ...(detail.isolation ? [['Isolation', detail.isolation, 'aml-Isolation'] as [string, string, string]] : [])
    ];
  }

  private _environmentTable(detail: IRunDetail): HTMLElement {
    const entries = Object.entries(detail.environment);
    return entries.length
      ? h('table', { className: 'aml-Table aml-Environment' }, h('tbody', {},
        ...entries.map(([k, v]) => h('tr', { 'data-variable': k }, h('th', {}, k), h('td', {}, v)))))
      : h('div', { className: 'aml-Empty' }, 'No variables set.');
  }

  private _outputList(run: IRun, detail: IRunDetail): HTMLElement {
    const params = this.model.params;
    const href = (path: string) => apiUrl(
      `runs/${encodeURIComponent(run.run_id)}/outputs/${path.split('/').map(encodeURIComponent).join('/')}`, params);
    return detail.outputs.length
      ? h('ul', { className: 'aml-Outputs' }, ...detail.outputs.map(o => h('li', {},
        h('a', { className: 'aml-Output', download: o.path.split('/').pop() || o.path, href: href(o.path) }, o.path),
        ` ${formatBytes(o.size)}`, viewButton(run.run_id, o.path, params))))
      : h('div', { className: 'aml-Empty' }, isTerminal(run.status) ? 'No outputs.' : 'Collected when the run ends.');
  }

  private _body: HTMLElement;
  private _logView = new LogView(this.model.detail, e => this.model.fail(e));
  private _header = new Rendered(h('div', { className: 'aml-DetailHeaderArea' }));
  private _notes = new Rendered(h('div', { className: 'aml-DetailNotes' }));
  private _facts = new Rendered(h('div', { className: 'aml-DetailFacts' }));
  private _metrics = new Rendered(h('div', { className: 'aml-DetailMetrics' }));
  private _environment = new Rendered(h('div', { className: 'aml-DetailEnvironment' }));
  private _outputs = new Rendered(h('div', { className: 'aml-DetailOutputs' }));
  private _shownRun: string | null = null;
}
