import { Panel, Widget } from '@lumino/widgets';

import { h } from './dom';

import { ActiveRunsView } from './components/activeRunsView';
import { AttachForm } from './components/attachForm';
import { ProjectHeader } from './components/projectHeader';
import { RunDetailView } from './components/runDetail';
import { RunsList } from './components/runsList';
import { TargetsView } from './components/targets';
import { RunsModel } from './model';
import { IRun } from './tokens';

/**
 * The "Runs" sidebar: the components stacked over one model. It only composes them and tells
 * the model whether it is shown (the list polls faster then).
 */
export class RunsPanel extends Panel {
  constructor(readonly model: RunsModel, openTable?: () => void, openRun?: (run: IRun) => void) {
    super();
    this.id = 'aml-magic-sidebar';
    this.addClass('aml-Sidebar');
    this.title.caption = 'aml_magic runs';
    this.addWidget(new ProjectHeader(model));
    if (openTable) {
      this.addWidget(new Widget({ node: h('button', { className: 'aml-OpenTable aml-Small jp-mod-styled',
        onclick: () => openTable() }, 'Open runs table') }));
    }
    if (openTable && openRun) {
      this.addWidget(new ActiveRunsView(model, openRun, openTable));
    }
    this.addWidget(new TargetsView(model));
    this.addWidget(new AttachForm(model));
    this.addWidget(new RunsList(model));
    this.addWidget(new RunDetailView(model));
  }

  protected onAfterShow(): void {
    this.model.visible = true;
    void this.model.refreshRuns();
  }

  protected onAfterHide(): void {
    this.model.visible = false;
  }
}
