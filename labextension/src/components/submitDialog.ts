import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { RunsModel } from '../model';
import { IRunConfiguration } from '../tokens';
import { notifyError } from './notify';

const TITLE = 'Submit to compute target';

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

/** What the dialog returns: the run configuration and the script's arguments. */
export interface ISubmitChoice {
  config: string;
  args: string[];
  text?: string;      // the arguments as typed (kept when the submit fails)
}

/** The body of the "Submit to compute target…" dialog: a run configuration and arguments. */
export class SubmitBody extends Widget {
  constructor(configs: IRunConfiguration[], script: string, initial?: { config: string; args: string }) {
    super();
    this.addClass('aml-SubmitDialog');
    this._select = h('select', { className: 'jp-mod-styled aml-SubmitConfig', name: 'run_configuration' },
      ...configs.map(c => h('option', { value: c.name, 'data-target': c.target }, `${c.name} → ${c.target}`))) as HTMLSelectElement;
    this._args = h('input', { className: 'jp-mod-styled aml-SubmitArguments', name: 'arguments',
      placeholder: 'arguments, e.g. --alpha 0.5' }) as HTMLInputElement;
    if (initial) {                                   // sent before and refused: kept
      this._select.value = initial.config;
      this._args.value = initial.args;
    }
    this.node.appendChild(h('div', {}, h('p', { className: 'aml-SubmitScript' }, `Run ${script} with:`),
      h('label', {}, 'Run configuration ', this._select),
      h('label', {}, 'Arguments ', this._args)));
  }

  getValue(): ISubmitChoice {
    return { config: this._select.value, args: splitArguments(this._args.value),
      text: this._args.value };
  }

  private _select: HTMLSelectElement;
  private _args: HTMLInputElement;
}

/**
 * Ask how to run SCRIPT (a path under the server's root) and submit it to the project that
 * holds it. Returns the new run's id, or null when the user cancelled or it could not be
 * submitted (the reason is shown in an error dialog).
 */
export async function submitScript(model: RunsModel, script: string): Promise<string | null> {
  await model.setFolder(PathExt.dirname(script));
  if (!model.project) {
    await showErrorMessage(TITLE, model.projectError);
    return null;
  }
  await model.refreshTargets();
  if (!model.runConfigurations.length) {
    await showErrorMessage(TITLE, `project ${model.project.name} has no run configurations: ` +
      'attach a compute target first');
    return null;
  }
  let initial: { config: string; args: string } | undefined;
  for (;;) {          // a refused submit reopens the dialog with what was typed, and says why
    const result = await showDialog<ISubmitChoice>({
      title: TITLE,
      body: new SubmitBody(model.runConfigurations, script, initial),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    try {
      return await model.submit(script, result.value.config, result.value.args);
    } catch (error) {
      notifyError(`Submit ${script}`, error);
      initial = { config: result.value.config, args: result.value.text ?? result.value.args.join(' ') };
    }
  }
}
