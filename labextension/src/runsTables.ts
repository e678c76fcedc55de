import { JupyterFrontEnd } from '@jupyterlab/application';

import { ComparePage, comparePageId, ICompareRequest } from './components/comparePage';
import { RunPage } from './components/runPage';
import { RunsPage, runPageId } from './components/runsPage';
import { RunsModel } from './model';
import { RunsTableModel } from './tableModel';
import { IRun } from './tokens';

/**
 * Opens the main area's pages: the runs table of the sidebar's project (one per project,
 * activated again when open) and a run's page (one per run).
 */
export class RunsTables {
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _sidebar: RunsModel
  ) {}

  openTable(): void {
    const path = this._sidebar.params.project;
    const id = `aml-runs-table-${encodeURIComponent(path) || 'root'}`;
    const open = this._find(id);
    if (open) {
      this._app.shell.activateById(id);
      return;
    }
    const page = new RunsPage(new RunsTableModel(path), this._sidebar,
      row => this.openRun(row.run, path), request => this.openCompare(path, request));
    page.id = id;
    this._app.shell.add(page, 'main');
    this._app.shell.activateById(id);
  }

  openRun(run: IRun, projectPath: string): void {
    const id = runPageId(run.run_id);
    if (!this._find(id)) {
      this._app.shell.add(new RunPage(run, projectPath, next => this.openRun(next, projectPath)), 'main');
    }
    this._app.shell.activateById(id);
  }

  /** The compare page of these runs (or this sweep): activated again when it is open. */
  openCompare(projectPath: string, request: ICompareRequest): void {
    const id = comparePageId(projectPath, request);
    if (!this._find(id)) {
      this._app.shell.add(new ComparePage(projectPath, request), 'main');
    }
    this._app.shell.activateById(id);
  }

  private _find(id: string): boolean {
    for (const widget of this._app.shell.widgets('main')) {
      if (widget.id === id) {
        return true;
      }
    }
    return false;
  }
}
