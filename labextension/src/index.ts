import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IStatusBar } from '@jupyterlab/statusbar';
import { runIcon } from '@jupyterlab/ui-components';

import { ActiveRunsItem } from './components/statusItem';
import { submitScript } from './components/submitDialog';
import { RunsModel } from './model';
import { notebookRunsPlugin } from './notebookRuns';
import { RunsPanel } from './panel';
import { RunsTables } from './runsTables';

const SUBMIT_COMMAND = 'aml-magic:submit';
const OPEN_COMMAND = 'aml-magic:open-sidebar';
const TABLE_COMMAND = 'aml-magic:open-runs-table';

/** What "Submit as run…" takes: a script or a notebook. */
function isSubmittable(path: string): boolean {
  return path.endsWith('.py') || path.endsWith('.ipynb');
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'aml-magic:plugin',
  description: 'aml_magic runs sidebar, submit menu and active-runs status item',
  autoStart: true,
  requires: [IDefaultFileBrowser],
  optional: [IStatusBar, ICommandPalette, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    browser: IDefaultFileBrowser,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null
  ) => {
    const model = new RunsModel();
    const tables = new RunsTables(app, model);
    app.commands.addCommand(TABLE_COMMAND, {
      label: 'Open Runs Table',
      caption: 'The runs of the project in the main area: sort, filter, search',
      icon: runIcon,
      execute: () => tables.openTable()
    });
    palette?.addItem({ command: TABLE_COMMAND, category: 'aml_magic' });
    launcher?.add({ command: TABLE_COMMAND, category: 'Other', rank: 50 });
    const panel = new RunsPanel(model, () => void app.commands.execute(TABLE_COMMAND),
      run => tables.openRun(run, model.params.project));
    panel.title.icon = runIcon;
    panel.title.label = 'Runs';
    app.shell.add(panel, 'left', { rank: 600 });

    const follow = () => void model.setFolder(browser.model.path);
    browser.model.pathChanged.connect(follow);
    void app.restored.then(() => {
      follow();
      void model.start();
    });

    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Show aml_magic Runs',
      execute: () => app.shell.activateById(panel.id)
    });

    app.commands.addCommand(SUBMIT_COMMAND, {
      label: 'Submit as run…',
      caption: 'Run this script or notebook on a compute target',
      icon: runIcon,
      isVisible: args => {
        const item = browser.selectedItems().next();
        return !!args.path || (!item.done && !!item.value && isSubmittable(item.value.path));
      },
      execute: async args => {      // args.path: the notebook toolbar's file (notebookRuns.ts)
        const item = browser.selectedItems().next();
        const path = typeof args.path === 'string' ? args.path : !item.done && item.value ? item.value.path : '';
        if (!isSubmittable(path)) {
          return;
        }
        const runId = await submitScript(model, path);
        if (runId) {
          app.shell.activateById(panel.id);
          model.detail.open(runId);
        }
      }
    });
    app.contextMenu.addItem({
      command: SUBMIT_COMMAND,
      selector: '.jp-DirListing-item[data-file-type="python"]',
      rank: 3
    });
    app.contextMenu.addItem({
      command: SUBMIT_COMMAND,
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 3
    });

    if (statusBar) {
      const item = new ActiveRunsItem(model, () => app.shell.activateById(panel.id));
      statusBar.registerStatusItem('aml-magic:active-runs', {
        item,
        align: 'left',
        rank: 5,
        isActive: () => true
      });
    }
  }
};

export default [plugin, notebookRunsPlugin];
