import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { RunsModel } from '../model';
import { Rendered } from './rendered';

/** The project the sidebar follows (or why there is none) and the sidebar's error line. */
export class ProjectHeader extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.addClass('aml-Header');
    this.node.appendChild(this._project.node);
    this.node.appendChild(this._message.node);
    model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const m = this.model;
    const project = m.project;
    this._project.render(JSON.stringify([project, m.projectError]), () => project
      ? h('div', { className: 'aml-Project' }, `Project: ${project.name}`,
        h('span', { className: 'aml-ProjectPath' }, ` (/${project.path})`))
      : h('div', { className: 'aml-Project aml-NoProject' }, m.projectError || 'Looking for a project…'));
    const message = m.versionError || m.error;
    this._message.render(message, () => message ? h('div', { className: 'aml-Error' }, message) : null);
  }

  private _project = new Rendered(h('div', { className: 'aml-ProjectLine' }));
  private _message = new Rendered(h('div', { className: 'aml-Messages' }));
}
