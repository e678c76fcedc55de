import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { RunsModel } from '../model';
import { IEnvironmentState, IPrepareJob, ITarget } from '../tokens';
import { notifyError } from './notify';
import { Rendered } from './rendered';

/** How many lines of a prepare job's progress the row shows. */
const PROGRESS_LINES = 12;

function preparedText(env: IEnvironmentState | undefined): string {
  return !env ? '…' : env.prepared === null ? '?' : env.prepared ? 'yes' : 'no';
}

/** The one line a finished (or running) prepare job ends with. */
export function prepareResult(job: IPrepareJob): string {
  const took = job.ended_at ? ` in ${Math.max(0, Math.round(job.ended_at - job.started_at))} s` : '';
  if (job.state === 'running') {
    return `Prepare: running (${job.progress.length ? job.progress[job.progress.length - 1] : 'starting'})`;
  }
  if (job.state === 'succeeded') {
    const what = job.built === false ? 'the environment was ready already' : 'the environment is ready';
    return `Prepare: succeeded${took}: ${job.message || what}`;
  }
  return `Prepare: failed${took}: ${job.message || 'see the output'}`;
}

/** Ask before detaching: it removes the target's files and stored secrets. */
export async function confirmDetach(name: string): Promise<boolean> {
  const result = await showDialog({
    title: `Detach compute target '${name}'?`,
    body: `Its ${name}.compute and ${name}.runconfig files are removed from aml_config/, and ` +
      'the password or key stored for it is forgotten. Runs already recorded stay in the history.',
    buttons: [Dialog.cancelButton({ label: 'Keep it' }), Dialog.warnButton({ label: 'Detach' })]
  });
  return result.button.accept;
}

/**
 * The project's compute targets: name, type, address, whether the environment of its run
 * configuration is prepared, and the Prepare and Detach actions. A prepare shows its progress
 * while it runs and ends with one clear line (its output folded away), dismissed by the user;
 * detach asks first; a failed action raises a notification that stays.
 */
export class TargetsView extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.addClass('aml-TargetsView');
    this.node.appendChild(h('h3', {}, 'Targets'));
    this.node.appendChild(this._table.node);
    model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const m = this.model;
    const key = JSON.stringify([m.targets, m.environments, m.prepareJobs, !!m.project]);
    this._table.render(key, () => m.targets.length
      ? h('table', { className: 'aml-Table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', {}, 'Address'),
          h('th', {}, 'Prepared'), h('th', {}, ''))),
        ...m.targets.map(t => this._row(t, m.environments[t.name], m.prepareJobs[t.name])))
      : h('div', { className: 'aml-Empty' }, m.project ? 'No compute targets.' : ''));
  }

  private async _prepare(name: string): Promise<void> {
    try {
      await this.model.prepare(name);
    } catch (error) {
      notifyError(`Prepare '${name}'`, error);
      return;
    }
    const job = this.model.prepareJobs[name];
    if (job && job.state === 'failed') {
      notifyError(`Prepare '${name}'`, job.message || 'the build failed; see its output');
    }
  }

  private async _detach(name: string): Promise<void> {
    if (!(await confirmDetach(name))) {
      return;
    }
    try {
      await this.model.detach(name);
    } catch (error) {
      notifyError(`Detach '${name}'`, error);
    }
  }

  private _dismiss(name: string): void {
    delete this.model.prepareJobs[name];
    this.model.emit();
  }

  private _row(t: ITarget, env: IEnvironmentState | undefined, job: IPrepareJob | undefined): HTMLElement {
    const running = !!job && job.state === 'running';
    return h('tbody', { className: 'aml-Target', 'data-name': t.name },
      h('tr', {},
        h('td', { className: 'aml-TargetName' }, t.name),
        h('td', { className: 'aml-TargetType' }, t.type),
        h('td', { className: 'aml-TargetAddress' }, t.address || '-'),
        h('td', { className: 'aml-Prepared', title: env ? env.message : '' }, preparedText(env)),
        h('td', { className: 'aml-Actions' },
          h('button', { className: 'aml-PrepareButton aml-Small', disabled: running,
            onclick: () => void this._prepare(t.name) }, running ? 'Preparing…' : 'Prepare'),
          h('button', { className: 'aml-DetachButton aml-Small', disabled: running,
            onclick: () => void this._detach(t.name) }, 'Detach'))),
      job ? h('tr', {}, h('td', { colspan: 5 }, this._job(t.name, job))) : null);
  }

  /** A running job: its state and newest lines. A finished one: its result, output folded. */
  private _job(name: string, job: IPrepareJob): HTMLElement {
    const lines = job.progress.slice(-PROGRESS_LINES).join('\n');
    if (job.state === 'running') {
      return h('div', { className: 'aml-PrepareJob', role: 'status', 'aria-live': 'polite' },
        h('div', { className: 'aml-PrepareState aml-Job-running' },
          h('progress', { className: 'aml-PrepareSpinner', 'aria-label': `Preparing ${name}` }),
          ` ${prepareResult(job)}`),
        h('pre', { className: 'aml-PrepareProgress' }, lines));
    }
    return h('div', { className: 'aml-PrepareJob', role: job.state === 'failed' ? 'alert' : 'status' },
      h('div', { className: `aml-PrepareState aml-Job-${job.state}` },
        h('span', { className: 'aml-PrepareResult' }, prepareResult(job)),
        h('button', { className: 'aml-PrepareDismiss aml-Small', title: 'Hide this result',
          'aria-label': `Dismiss the prepare result of ${name}`, onclick: () => this._dismiss(name) }, 'Dismiss')),
      h('details', { className: 'aml-PrepareOutput' },
        h('summary', {}, `output (${job.progress.length} lines)`),
        h('pre', { className: 'aml-PrepareProgress' }, lines)));
  }

  private _table = new Rendered(h('div', { className: 'aml-Targets' }));
}
