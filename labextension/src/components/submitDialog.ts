import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { h } from '../dom';
import { RunsModel } from '../model';
import { IRunConfiguration } from '../tokens';
import { notifyError } from './notify';
import { defaultConfiguration, rememberSubmit } from './submitDefaults';

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

/** A notebook's parameters field, `lr=0.1 epochs=3`, as `--param NAME=VALUE` arguments. */
export function parameterArguments(text: string): string[] {
  return splitArguments(text).flatMap(item => ['--param', item]);
}

/**
 * The body of the "Submit to compute target…" dialog: a run configuration (starting on the
 * last one used whose target is prepared, see submitDefaults.ts) and the script's arguments,
 * or a notebook's parameters.
 */
export class SubmitBody extends Widget {
  constructor(configs: IRunConfiguration[], script: string, selected: string | null = null,
    initial?: { config: string; args: string }) {
    super();
    this.addClass('aml-SubmitDialog');
    this._notebook = script.endsWith('.ipynb');
    this._select = h('select', { className: 'jp-mod-styled aml-SubmitConfig', name: 'run_configuration' },
      selected === null ? h('option', { value: '', disabled: true, selected: true }, 'Choose a run configuration') : null,
      ...configs.map(c => h('option', { value: c.name, 'data-target': c.target, selected: c.name === selected },
        `${c.name} → ${c.target}`))) as HTMLSelectElement;
    this._args = h('input', { className: 'jp-mod-styled ' + (this._notebook ? 'aml-SubmitParameters' : 'aml-SubmitArguments'),
      name: this._notebook ? 'parameters' : 'arguments', 'aria-label': this._notebook ? 'Parameters' : 'Arguments',
      placeholder: this._notebook ? 'parameters, e.g. lr=0.1 epochs=3' : 'arguments, e.g. --alpha 0.5' }) as HTMLInputElement;
    if (initial) {                                   // sent before and refused: kept
      this._select.value = initial.config;
      this._args.value = initial.args;
    }
    this.node.appendChild(h('div', {}, h('p', { className: 'aml-SubmitScript' }, `Run ${script} with:`),
      h('label', {}, 'Run configuration ', this._select),
      h('label', {}, this._notebook ? 'Parameters ' : 'Arguments ', this._args)));
  }

  getValue(): ISubmitChoice {
    const text = this._args.value;
    return { config: this._select.value, args: this._notebook ? parameterArguments(text) : splitArguments(text), text };
  }

  private _notebook: boolean;
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
  const project = model.project.path;
  await model.refreshTargets();
  await Promise.all(model.targets.map(t => model.refreshEnvironment(t.name)));
  if (!model.runConfigurations.length) {
    await showErrorMessage(TITLE, `project ${model.project.name} has no run configurations: ` +
      'attach a compute target first');
    return null;
  }
  let initial: { config: string; args: string } | undefined;
  const selected = defaultConfiguration(project, model.runConfigurations, model.environments);
  for (;;) {          // a refused submit reopens the dialog with what was typed, and says why
    const result = await showDialog<ISubmitChoice>({
      title: TITLE,
      body: new SubmitBody(model.runConfigurations, script, selected, initial),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    if (!result.value.config) {
      await showErrorMessage(TITLE, 'choose a run configuration (none has a prepared target yet)');
      return null;
    }
    try {
      const runId = await model.submit(script, result.value.config, result.value.args);
      rememberSubmit(project, result.value.config);
      return runId;
    } catch (error) {
      notifyError(`Submit ${script}`, error);
      initial = { config: result.value.config, args: result.value.text ?? result.value.args.join(' ') };
    }
  }
}
