import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { RunsModel } from '../model';
import { IEnvironmentState, IPrepareJob, ITarget } from '../tokens';
import { Rendered } from './rendered';

/** How many lines of a prepare job's progress the row shows. */
const PROGRESS_LINES = 12;

function preparedText(env: IEnvironmentState | undefined): string {
  return !env ? '…' : env.prepared === null ? '?' : env.prepared ? 'yes' : 'no';
}

/**
 * The project's compute targets: name, type, address, whether the environment of its run
 * configuration is prepared, and the Prepare (with the job's progress) and Detach actions.
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

  private _row(t: ITarget, env: IEnvironmentState | undefined, job: IPrepareJob | undefined): HTMLElement {
    const m = this.model;
    return h('tbody', { className: 'aml-Target', 'data-name': t.name },
      h('tr', {},
        h('td', { className: 'aml-TargetName' }, t.name),
        h('td', { className: 'aml-TargetType' }, t.type),
        h('td', { className: 'aml-TargetAddress' }, t.address || '-'),
        h('td', { className: 'aml-Prepared', title: env ? env.message : '' }, preparedText(env)),
        h('td', { className: 'aml-Actions' },
          h('button', { className: 'aml-PrepareButton aml-Small', disabled: !!job && job.state === 'running',
            onclick: () => void m.prepare(t.name).catch(e => m.fail(e)) }, 'Prepare'),
          h('button', { className: 'aml-DetachButton aml-Small', onclick: () => {
            if (window.confirm(`Detach compute target '${t.name}'? Its .compute and .runconfig files are removed.`)) {
              void m.detach(t.name).catch(e => m.fail(e));
            }
          } }, 'Detach'))),
      job ? h('tr', {}, h('td', { colspan: 5 },
        h('div', { className: `aml-PrepareState aml-Job-${job.state}` },
          `Prepare: ${job.state}${job.message ? ' — ' + job.message : ''}`),
        h('pre', { className: 'aml-PrepareProgress' }, job.progress.slice(-PROGRESS_LINES).join('\n')))) : null);
  }

  private _table = new Rendered(h('div', { className: 'aml-Targets' }));
}
