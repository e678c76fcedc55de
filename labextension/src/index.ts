import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { IStatusBar } from '@jupyterlab/statusbar';
import { runIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { RunsModel } from './model';
import { RunsPanel } from './panel';
import { IRunConfiguration } from './tokens';

const SUBMIT_COMMAND = 'aml-magic:submit';
const OPEN_COMMAND = 'aml-magic:open-sidebar';

/** The body of the "Submit to compute target…" dialog: a run configuration and arguments. */
class SubmitBody extends Widget {
  constructor(configs: IRunConfiguration[], script: string) {
    super();
    this.addClass('aml-SubmitDialog');
    this._select = h('select', { className: 'jp-mod-styled aml-SubmitConfig', name: 'run_configuration' },
      ...configs.map(c => h('option', { value: c.name }, `${c.name} → ${c.target}`))) as HTMLSelectElement;
    this._args = h('input', { className: 'jp-mod-styled aml-SubmitArguments', name: 'arguments',
      placeholder: 'arguments, e.g. --alpha 0.5' }) as HTMLInputElement;
    this.node.appendChild(h('div', {}, h('p', {}, `Run ${script} with:`),
      h('label', {}, 'Run configuration ', this._select),
      h('label', {}, 'Arguments ', this._args)));
  }

  getValue(): { config: string; args: string[] } {
    return { config: this._select.value, args: splitArguments(this._args.value) };
  }

  private _select: HTMLSelectElement;
  private _args: HTMLInputElement;
}

/** Shell-like splitting of the arguments field: quotes group, backslash escapes. */
export function splitArguments(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null) {
    out.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2] ?? match[3]);
  }
  return out;
}

/** The status-bar item: how many runs of the project are not finished yet. */
class ActiveRunsItem extends Widget {
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

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'aml-magic:plugin',
  description: 'aml_magic runs sidebar, submit menu and active-runs status item',
  autoStart: true,
  requires: [IDefaultFileBrowser],
  optional: [IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    browser: IDefaultFileBrowser,
    statusBar: IStatusBar | null
  ) => {
    const model = new RunsModel();
    const panel = new RunsPanel(model);
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
      label: 'Submit to compute target…',
      icon: runIcon,
      isVisible: () => {
        const item = browser.selectedItems().next();
        return !item.done && !!item.value && item.value.path.endsWith('.py');
      },
      execute: async () => {
        const item = browser.selectedItems().next();
        if (item.done || !item.value) {
          return;
        }
        const script = item.value.path;
        await model.setFolder(PathExt.dirname(script));
        if (!model.project) {
          await showErrorMessage('Submit to compute target', model.projectError);
          return;
        }
        await model.refreshTargets();
        if (!model.runConfigurations.length) {
          await showErrorMessage('Submit to compute target', `project ${model.project.name} has no run configurations`);
          return;
        }
        const result = await showDialog({
          title: 'Submit to compute target',
          body: new SubmitBody(model.runConfigurations, script),
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
        });
        if (!result.button.accept || !result.value) {
          return;
        }
        try {
          const runId = await model.submit(script, result.value.config, result.value.args);
          app.shell.activateById(panel.id);
          model.detail.open(runId);
        } catch (error) {
          await showErrorMessage('Submit to compute target', error as Error);
        }
      }
    });
    app.contextMenu.addItem({
      command: SUBMIT_COMMAND,
      selector: '.jp-DirListing-item[data-file-type="python"]',
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

export default plugin;
