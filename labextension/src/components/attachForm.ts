import { Widget } from '@lumino/widgets';

import { h, replaceChildren } from '../dom';
import { message, RunsModel } from '../model';
import { confirmHostKey, showPublicKey, unknownHostKey } from './attachDialogs';
import { notifyError } from './notify';
import { IAttachBody, ITargetOption, ITargetType } from './types';

type Field = HTMLInputElement | HTMLSelectElement;

function hasDefault(option: ITargetOption): boolean {
  return option.default !== null && option.default !== undefined && option.default !== '' &&
    option.default !== false;
}

/** The input of one option, chosen by its kind; a secret option is always a password input. */
function optionInput(option: ITargetOption): Field {
  const common = { name: option.name, className: 'jp-mod-styled', title: option.help,
    'data-kind': option.kind, required: option.required };
  if (option.kind === 'choice' && option.choices) {
    return h('select', common,
      option.required ? null : h('option', { value: '' }, hasDefault(option) ? `default (${option.default})` : '(not set)'),
      ...option.choices.map(c => h('option', { value: c }, c))) as HTMLSelectElement;
  }
  if (option.kind === 'flag') {
    const box = h('input', { ...common, type: 'checkbox', className: '' }) as HTMLInputElement;
    box.checked = option.default === true;
    return box;
  }
  const secret = option.secret || option.kind === 'password';
  return h('input', { ...common, type: secret ? 'password' : option.kind === 'integer' ? 'number' : 'text',
    step: option.kind === 'integer' ? 1 : undefined,
    placeholder: hasDefault(option) ? String(option.default) : option.example || '',
    autocomplete: secret ? 'new-password' : 'off', spellcheck: 'false' }) as HTMLInputElement;
}

/**
 * The value an option's field sends, or undefined to send nothing (the server's default).
 * Throws with a one-line message for a value of the wrong kind.
 */
export function optionValue(option: ITargetOption, field: Field): string | number | boolean | undefined {
  if (option.kind === 'flag') {
    const checked = (field as HTMLInputElement).checked;
    return checked === (option.default === true) ? undefined : checked;
  }
  const secret = option.secret || option.kind === 'password';
  const text = secret ? field.value : field.value.trim();
  if (!text) {
    return undefined;
  }
  if (option.kind === 'integer') {
    if (!/^-?\d+$/.test(text)) {
      throw new Error(`${option.label} must be a whole number, not '${text}'`);
    }
    return Number(text);
  }
  return text;
}

/**
 * The Attach form, derived from the one registry of target types (`GET target-types`): a type
 * select, the target's name, and one field per option of the chosen type, its input chosen by
 * the option's kind (secret options are password inputs). Options of one group (the ways to
 * log in: password, key file, generated key) are offered as a choice, and only the chosen one
 * is sent. A failed attach keeps every value (the password too) and raises a notification
 * that stays; an unknown host key is asked about in words, with its fingerprint. Secret values
 * leave the page when the attach succeeds or the form is closed.
 */
export class AttachForm extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.addClass('aml-AttachArea');
    this._form.addEventListener('submit', event => {
      event.preventDefault();
      void this._attach();
    });
    this._typeSelect.addEventListener('change', () => this._showType(this._typeSelect.value));
    this._form.style.display = 'none';
    this.node.appendChild(h('button', { className: 'aml-AttachToggle aml-Small', onclick: () => this.toggle() }, 'Attach…'));
    this.node.appendChild(this._form);
    model.changed.connect(this._render, this);
    this._render();
  }

  /** Show or hide the form; hiding it clears its secret fields. */
  toggle(): void {
    const hide = this._form.style.display !== 'none';
    this._form.style.display = hide ? 'none' : '';
    if (hide) {
      this._clearSecrets();
    }
  }

  private get _types(): ITargetType[] {
    return this.model.targetTypes || [];
  }

  /** Rebuild the type select when the registry arrives (never on other changes: it keeps input). */
  private _render(): void {
    const key = JSON.stringify([this.model.targetTypes, this.model.targetTypesError]);
    if (key === this._typesKey) {
      return;
    }
    this._typesKey = key;
    const types = this._types;
    replaceChildren(this._typeSelect, ...types.map(t => h('option', { value: t.name,
      title: t.summary }, t.name)));
    const keep = types.some(t => t.name === this._shownType) ? this._shownType : types.length ? types[0].name : '';
    this._typeSelect.value = keep;
    this._submit.disabled = !types.length;
    this._error.textContent = this.model.targetTypesError;
    this._showType(keep, true);
  }

  /** Show the fields of type NAME; values typed in a field of the same name are kept. */
  private _showType(name: string, force = false): void {
    if (name === this._shownType && !force) {
      return;
    }
    const type = this._types.find(t => t.name === name);
    const previous = new Map(Array.from(this._fields.entries())
      .filter(([, f]) => f.type !== 'password' && f.type !== 'checkbox').map(([k, f]) => [k, f.value]));
    this._shownType = name;
    this._fields.clear();
    this._summary.textContent = type
      ? `${type.summary}${type.aliases.length ? ` (also: ${type.aliases.join(', ')})` : ''}`
      : '';
    const options = type ? type.options : [];
    const groups = new Map<string, ITargetOption[]>();
    for (const option of options) {
      if (option.group) {
        groups.set(option.group, [...(groups.get(option.group) || []), option]);
      }
    }
    for (const [group, members] of groups) {
      if (!members.some(o => o.name === this._chosen.get(group))) {
        this._chosen.set(group, members[0].name);
      }
    }
    replaceChildren(this._options, ...options.flatMap(option => {
      const input = optionInput(option);
      const kept = previous.get(option.name);
      if (kept && !(option.secret || option.kind === 'password')) {
        input.value = kept;
      }
      this._fields.set(option.name, input);
      const attrs = { className: option.kind === 'flag' ? 'aml-Field aml-Check' : 'aml-Field',
        title: option.help, 'data-option': option.name, 'data-group': option.group || undefined };
      const label = option.kind === 'flag'
        ? h('label', attrs, input, ` ${option.label}`)
        : h('label', attrs, h('span', {}, option.label + (option.required ? ' *' : '')), input);
      const members = option.group ? groups.get(option.group) || [] : [];
      return members[0] === option ? [this._groupChoice(option.group as string, members), label] : [label];
    }));
    for (const group of groups.keys()) {
      this._showChoice(group);
    }
  }

  /** The choice between a group's options (e.g. how to log in), as radio buttons. */
  private _groupChoice(group: string, members: ITargetOption[]): HTMLElement {
    return h('fieldset', { className: 'aml-GroupChoice', 'data-group': group },
      h('legend', {}, group === 'login' ? 'log in with' : group),
      ...members.map(option => h('label', { className: 'aml-Choice', title: option.help },
        h('input', { type: 'radio', name: `aml-group-${group}`, value: option.name,
          checked: this._chosen.get(group) === option.name,
          onchange: () => {
            this._chosen.set(group, option.name);
            this._showChoice(group);
          } }), ` ${option.label}`)));
  }

  /** Show the field of the group's chosen option only; a chosen flag is ticked, others not. */
  private _showChoice(group: string): void {
    const chosen = this._chosen.get(group);
    for (const label of Array.from(this._options.querySelectorAll<HTMLElement>(`label[data-group='${group}']`))) {
      const name = label.dataset.option || '';
      const field = this._fields.get(name);
      const isFlag = field instanceof HTMLInputElement && field.type === 'checkbox';
      if (isFlag) {
        (field as HTMLInputElement).checked = name === chosen;
      }
      label.hidden = isFlag || name !== chosen;
    }
  }

  /** The values to send: every option's, but of a group only the chosen option's. */
  private _body(type: ITargetType): IAttachBody {
    const body: IAttachBody = { type: type.name, name: this._name.value.trim() };
    for (const option of type.options) {
      if (option.group && this._chosen.get(option.group) !== option.name) {
        continue;
      }
      const field = this._fields.get(option.name);
      const value = field ? optionValue(option, field) : undefined;
      if (value !== undefined) {
        body[option.name] = value;
      }
    }
    return body;
  }

  /**
   * Send the form. On an unknown host key, ask in words; if trusted, send again pinning
   * exactly that fingerprint. On failure every value stays, the reason is shown in the form
   * and in a notification that stays until dismissed.
   */
  private async _attach(pinned?: string): Promise<void> {
    const type = this._types.find(t => t.name === this._typeSelect.value);
    if (!type) {
      return;
    }
    let body: IAttachBody;
    try {
      body = this._body(type);
    } catch (error) {
      this._error.textContent = message(error);
      notifyError('Attach', error);
      return;
    }
    if (pinned) {
      body.host_key_fingerprint = pinned;
    }
    this._error.textContent = '';
    this._submit.disabled = true;
    try {
      const target = await this.model.attach(body);
      this._form.reset();                           // empty fields, the same type chosen
      this._typeSelect.value = type.name;
      this._fields.clear();
      this._chosen.clear();
      this._showType(type.name, true);
      this._form.style.display = 'none';
      if (target.public_key) {
        await showPublicKey(target.name, target.username, target.public_key);
      }
    } catch (error) {
      const key = pinned ? null : unknownHostKey(error);
      if (key) {
        this._submit.disabled = false;
        if (await confirmHostKey(key)) {
          const field = this._fields.get('host_key_fingerprint');
          if (field) {
            field.value = key.fingerprint;         // what is pinned, shown in the form
          }
          return this._attach(key.fingerprint);
        }
        this._error.textContent = `Not attached: the host key of ${key.host}:${key.port} was not trusted.`;
        return;
      }
      this._error.textContent = message(error);
      notifyError(`Attach '${body.name}'`, error);
    } finally {
      this._submit.disabled = false;
    }
  }

  private _clearSecrets(): void {
    for (const field of this._fields.values()) {
      if (field.type === 'password') {
        field.value = '';
      }
    }
  }

  private _typeSelect = h('select', { name: 'type', className: 'jp-mod-styled' }) as HTMLSelectElement;
  private _name = h('input', { name: 'name', className: 'jp-mod-styled', placeholder: 'myvm', required: true,
    autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement;
  private _summary = h('div', { className: 'aml-TypeSummary' });
  private _options = h('div', { className: 'aml-OptionFields' });
  private _error = h('div', { className: 'aml-Error aml-AttachError', role: 'alert' });
  private _submit = h('button', { type: 'submit', className: 'jp-mod-styled jp-mod-accept' }, 'Attach') as HTMLButtonElement;
  private _form = h('form', { className: 'aml-AttachForm' },
    h('label', {}, h('span', {}, 'type'), this._typeSelect), this._summary,
    h('label', {}, h('span', {}, 'name *'), this._name), this._options, this._error, this._submit) as HTMLFormElement;
  private _fields = new Map<string, Field>();
  private _chosen = new Map<string, string>();   // group -> the chosen option's name
  private _shownType = '';
  private _typesKey = '';
}
