import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Panel, Widget } from '@lumino/widgets';

import { h } from '../dom';
import { formatDuration, runDuration } from '../format';
import { requestAPI } from '../handler';
import { RunsModel } from '../model';
import { IRun, IRunDetail, isTerminal } from '../tokens';
import { statusBadge } from './badge';
import { LogView } from './logView';
import { MetricsTab } from './metricCharts';
import { Rendered } from './rendered';
import { argumentsView, environmentView, OutputsTab, SnapshotTab } from './runPageTabs';
import { runName } from './runsGrid';
import { runPageId } from './runsPage';

const TABS = ['Log', 'Metrics', 'Outputs', 'Environment', 'Arguments', 'Snapshot'] as const;
type TabName = typeof TABS[number];

/** `2026-12-07 18:59:25` in the browser's time zone; `-` when not yet. */
export function formatTime(epochSeconds: number | null | undefined): string {
  if (!epochSeconds) {
    return '-';
  }
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A run's page in the main area, over a model of its own (several runs stay open side by side,
 * each following its log while live): its name as the heading; a header with the status, the
 * queued/started/ended times, duration, target, git commit, interpreter, hint and reason;
 * Cancel (confirmed) and Re-run; and tabs (role tab, named by their label) for the bounded log,
 * metric charts, outputs, environment, arguments and the snapshot's files.
 */
export class RunPage extends Panel {
  constructor(run: IRun, projectPath: string, private readonly _openRun: (run: IRun) => void) {
    super();
    this.addClass('aml-RunPage');
    this.id = runPageId(run.run_id);
    this._runId = run.run_id;
    this.title.label = runName(run);
    this.title.caption = run.run_id;
    this.title.closable = true;
    const model = this._model = new RunsModel();
    model.folder = projectPath;
    model.runs.update(run);
    this._logView = new LogView(model.detail, e => this._fail(e));
    this._buildTabs();
    const tabList = h('div', { className: 'aml-RunTabs', role: 'tablist', 'aria-label': 'Run' },
      ...TABS.map(name => this._tabs[name]));
    const body = h('div', { className: 'aml-RunDetail aml-RunPageBody', 'data-run-id': run.run_id },
      this._header.node, this._facts.node, this._notes.node, tabList,
      ...TABS.map(name => this._panels[name]));
    this._panels.Log.append(this._logView.earlier, this._logView.log);
    this._panels.Metrics.append(this._metrics.node);
    this._panels.Outputs.append(this._outputs.node);
    this._panels.Environment.append(this._environment.node);
    this._panels.Arguments.append(this._arguments.node);
    this._panels.Snapshot.append(this._snapshot.node);
    this.addWidget(new Widget({ node: h('h2', { className: 'aml-RunPageName' }, runName(run)) }));
    this.addWidget(new Widget({ node: body }));
    model.detail.changed.connect(this._render, this);
    model.runs.changed.connect(this._render, this);
    this._select('Log');
    model.detail.open(run.run_id);
  }

  dispose(): void {
    this._outputs.dispose();
    this._model.dispose();
    super.dispose();
  }

  /** One tab (role tab, named by its label) and its panel per name. */
  private _buildTabs(): void {
    for (const name of TABS) {
      const id = `${this.id}-${name.toLowerCase()}`;
      this._tabs[name] = h('button', { className: 'aml-RunTab', role: 'tab', id: `${id}-tab`,
        'aria-controls': `${id}-panel`, 'aria-selected': 'false', tabindex: -1,
        onclick: () => this._select(name), onkeydown: (event: Event) => this._tabKey(event as KeyboardEvent, name) }, name);
      this._panels[name] = h('div', { className: `aml-RunTabPanel aml-Tab-${name}`, role: 'tabpanel',
        id: `${id}-panel`, 'aria-labelledby': `${id}-tab`, hidden: true });
    }
  }

  private _tabKey(event: KeyboardEvent, name: TabName): void {
    const at = TABS.indexOf(name);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (to !== undefined) {
      event.preventDefault();
      const next = TABS[(to + TABS.length) % TABS.length];
      this._select(next);
      this._tabs[next].focus();
    }
  }

  private _select(name: TabName): void {
    for (const tab of TABS) {
      const on = tab === name;
      this._tabs[tab].setAttribute('aria-selected', String(on));
      this._tabs[tab].tabIndex = on ? 0 : -1;
      this._panels[tab].hidden = !on;
    }
    this._selected = name;
    if (name === 'Snapshot') {
      void this._snapshot.load(this._runId, this._model.params);
    }
    if (name === 'Log') {               // shown again: the end is where the new lines are
      this._logView.log.scrollTop = this._logView.log.scrollHeight;
    }
    this._render();
  }

  private _render(): void {
    const d = this._model.detail;
    const run = this._model.runs.get(this._runId);
    const detail = d.detail;
    this._header.render(JSON.stringify([run?.status, this._busy]), () => this._headerView(run));
    this._notes.render(JSON.stringify([d.error, this._actionError, detail?.unreachable, detail?.orphaned]), () => [
      d.error || this._actionError ? h('div', { className: 'aml-Error', role: 'alert' }, this._actionError || d.error) : null,
      detail?.orphaned ? h('div', { className: 'aml-Error aml-Orphaned' }, `Orphaned: ${detail.orphaned}`) : null,
      detail?.unreachable ? h('div', { className: 'aml-Error' }, `Target unreachable: ${detail.unreachable}`) : null]);
    if (run) {
      const facts = this._factRows(run, detail);
      this._facts.render(JSON.stringify(facts), () => h('dl', { className: 'aml-RunFacts' },
        ...facts.flatMap(([label, value, className, title]) => [h('dt', {}, label),
          h('dd', { className, title: title || undefined }, value)])));
    }
    if (run && detail) {
      if (this._selected === 'Metrics') {
        this._metrics.render(detail.metrics);
      } else if (this._selected === 'Outputs') {
        this._outputs.render(run, detail, this._model.params);
      }
      this._environment.render(JSON.stringify(run.environment), () => environmentView(run));
      this._arguments.render(JSON.stringify([run.command, run.script]), () => argumentsView(run));
    }
    this._logView.update();
  }

  private _headerView(run: IRun | undefined): HTMLElement {
    const active = !!run && !isTerminal(run.status);
    return h('div', { className: 'aml-DetailHeader aml-RunHeader' },
      run ? statusBadge(run.status) : null,
      active ? h('button', { className: 'aml-CancelRun jp-mod-styled jp-mod-warn', disabled: this._busy,
        onclick: () => void this._cancel() }, 'Cancel run') : null,
      h('button', { className: 'aml-Rerun jp-mod-styled', disabled: this._busy || !run,
        title: 'Submit the same script with the same arguments on the same target, as a new run',
        onclick: () => void this._rerun() }, 'Re-run'));
  }

  private _factRows(run: IRun, detail: IRunDetail | null): Array<[string, string, string, string?]> {
    const compute = detail?.configuration.compute || {};
    const interpreter = detail?.python || String(compute['pythonLocation'] || compute['python_location'] || '') ||
      (detail ? `the ${run.target_type} target's default` : '…');
    const git = run.git_commit
      ? `${run.git_commit.slice(0, 10)} (${run.git_dirty ? 'dirty: uncommitted changes' : 'clean'})` : '-';
    const rows: Array<[string, string, string, string?]> = [
      ['Status', run.status, 'aml-FactStatus'],
      ['Queued', formatTime(run.created_at), 'aml-Queued'],
      ['Started', formatTime(run.started_at), 'aml-Started'],
      ['Ended', formatTime(run.ended_at), 'aml-Ended'],
      ['Duration', formatDuration(runDuration(run)), 'aml-DetailDuration'],
      ['Target', `${run.target} (${run.target_type})`, 'aml-DetailTarget'],
      ['Git commit', git, 'aml-GitCommit', run.git_commit || ''],
      ['Interpreter', interpreter, 'aml-Interpreter']
    ];
    if (run.exit_code !== null && run.exit_code !== undefined) {
      rows.push(['Exit code', String(run.exit_code), 'aml-ExitCode']);
    }
    if (detail?.hint) {
      rows.push(['Hint', detail.hint, 'aml-Hint']);
    }
    if (run.reason) {
      rows.push(['Reason', run.reason, 'aml-Reason']);
    }
    return rows;
  }

  private async _cancel(): Promise<void> {
    const result = await showDialog({
      title: 'Cancel this run?',
      body: `Cancel ${this._runId}? It stops on its target; what it wrote so far is kept.`,
      buttons: [Dialog.cancelButton({ label: 'Keep it running' }), Dialog.warnButton({ label: 'Cancel run' })]
    });
    if (result.button.accept) {
      await this._act(() => this._model.detail.cancel());
    }
  }

  private async _rerun(): Promise<void> {
    await this._act(async () => {
      const run = await requestAPI<IRun>(`runs/${encodeURIComponent(this._runId)}/rerun`,
        { method: 'POST', body: '{}' }, this._model.params);
      this._openRun(run);
    });
  }

  /** Run an action with the buttons disabled; its error stays on the page until the next one. */
  private async _act(action: () => Promise<void>): Promise<void> {
    this._busy = true;
    this._actionError = '';
    this._render();
    try {
      await action();
    } catch (error) {
      this._fail(error);
    } finally {
      this._busy = false;
      this._render();
    }
  }

  private _fail(error: unknown): void {
    this._actionError = error instanceof Error ? error.message : String(error);
    this._render();
  }

  private _model: RunsModel;
  private _logView: LogView;
  private readonly _runId: string;
  private _tabs = {} as Record<TabName, HTMLElement>;
  private _panels = {} as Record<TabName, HTMLElement>;
  private _selected: TabName = 'Log';
  private _busy = false;
  private _actionError = '';
  private _header = new Rendered(h('div', { className: 'aml-RunHeaderArea' }));
  private _facts = new Rendered(h('div', { className: 'aml-RunFactsArea' }));
  private _notes = new Rendered(h('div', { className: 'aml-DetailNotes' }));
  private _metrics = new MetricsTab();
  private _outputs = new OutputsTab();
  private _environment = new Rendered(h('div', { className: 'aml-EnvironmentTab' }));
  private _arguments = new Rendered(h('div', { className: 'aml-ArgumentsArea' }));
  private _snapshot = new SnapshotTab();
}
