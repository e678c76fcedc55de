import { Widget } from '@lumino/widgets';

import { requestAPI } from '../handler';
import { RunsModel } from '../model';
import { ActiveRunsJson } from '../tokens';

/** Pause between two reads of the count (the server's reconciler runs every 2 s). */
const COUNT_POLL_MS = 2000;

/**
 * The status-bar item: how many runs are not finished yet in all the projects the server
 * knows (`GET active-runs`), whatever folder the file browser shows, plus the runs the team
 * servers of linked projects are running; its tooltip says where (and, in one line, when a
 * workspace could not be asked: the count is then the local one).
 * It reads the count every 2 s while the page is visible, and at once when the sidebar's
 * list saw a change.
 */
export class ActiveRunsItem extends Widget {
  constructor(model: RunsModel, onClick: () => void) {
    super();
    this.addClass('aml-StatusItem');
    this.node.title = 'aml_magic: active runs in all projects';
    this.node.setAttribute('role', 'status');
    this.node.addEventListener('click', onClick);
    model.activeChanged.connect((_, shown) => {      // the sidebar's project changed count
      if (shown !== this._shown) {
        this._shown = shown;
        void this.refresh();
      }
    });
    this._show({ active: 0, projects: [] });
    void this.refresh();
  }

  /** Read the count now (one request at a time), then again after the pause. */
  async refresh(): Promise<void> {
    if (this._reading) {
      return;
    }
    this._reading = true;
    window.clearTimeout(this._timer);
    try {
      if (!document.hidden) {
        this._show(await requestAPI<ActiveRunsJson>('active-runs'));
      }
    } catch {
      this.node.title = 'aml_magic: the server does not answer';   // the count stays as it was
    } finally {
      this._reading = false;
      if (!this.isDisposed) {
        this._timer = window.setTimeout(() => void this.refresh(), COUNT_POLL_MS);
      }
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  private _show(count: ActiveRunsJson): void {
    this.node.textContent = `aml: ${count.active} active`;
    this.node.dataset.active = String(count.active);
    const title = count.projects.length
      ? 'aml_magic active runs: ' +
        count.projects
          .map(p => `${p.name || '/'}${p.workspace ? ' (workspace)' : ''} ${p.active}`)
          .join(', ')
      : 'aml_magic: no active runs in any project';
    // A linked project's workspace that could not be asked: the count is the local one
    this.node.title = count.workspace_error ? `${title}\n${count.workspace_error}` : title;
    this.node.dataset.workspaceError = count.workspace_error ?? '';
  }

  private _timer = 0;
  private _shown = 0;
  private _reading = false;
}
