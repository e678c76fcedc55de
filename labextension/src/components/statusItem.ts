import { Widget } from '@lumino/widgets';

import { RunsModel } from '../model';

/** The status-bar item: how many runs of the project are not finished yet. */
export class ActiveRunsItem extends Widget {
  constructor(model: RunsModel, onClick: () => void) {
    super();
    this.addClass('aml-StatusItem');
    this.node.title = 'aml_magic: active runs in this project';
    this.node.addEventListener('click', onClick);
    model.activeChanged.connect((_, count) => this._show(count));
    this._show(0);
  }

  private _show(count: number): void {
    this.node.textContent = `aml: ${count} active`;
    this.node.dataset.active = String(count);
  }
}
