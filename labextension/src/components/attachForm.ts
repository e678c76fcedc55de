import { Widget } from '@lumino/widgets';

import { h, replaceChildren } from '../dom';
import { message, RunsModel } from '../model';
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
 * the option's kind (secret options are password inputs). Secret values are sent once, in the
 * attach request, and cleared from the page as it leaves.
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

  /** Show or hide the form. */
  toggle(): void {
    this._form.style.display = this._form.style.display === 'none' ? '' : 'none';
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
    replaceChildren(this._options, ...(type ? type.options : []).map(option => {
      const input = optionInput(option);
      const kept = previous.get(option.name);
      if (kept && !(option.secret || option.kind === 'password')) {
        input.value = kept;
      }
      this._fields.set(option.name, input);
      const attrs = { className: option.kind === 'flag' ? 'aml-Field aml-Check' : 'aml-Field',
        title: option.help, 'data-option': option.name };
      return option.kind === 'flag'
        ? h('label', attrs, input, ` ${option.label}`)
        : h('label', attrs, h('span', {}, option.label + (option.required ? ' *' : '')), input);
    }));
  }

  /** Build the request (clearing secret fields at once), send it, close the form on success. */
  private async _attach(): Promise<void> {
    const type = this._types.find(t => t.name === this._typeSelect.value);
    if (!type) {
      return;
    }
    let body: IAttachBody;
    try {
      body = { type: type.name, name: this._name.value.trim() };
      for (const option of type.options) {
        const field = this._fields.get(option.name);
        const value = field ? optionValue(option, field) : undefined;
        if (value !== undefined) {
          body[option.name] = value;
        }
      }
    } catch (error) {
      this._error.textContent = message(error);
      return;
    } finally {
      this._clearSecrets();
    }
    this._error.textContent = '';
    this._submit.disabled = true;
    try {
      await this.model.attach(body);
      this._form.reset();                           // empty fields, the same type chosen
      this._typeSelect.value = type.name;
      this._fields.clear();
      this._showType(type.name, true);
      this._form.style.display = 'none';
    } catch (error) {
      this._error.textContent = message(error);
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
  private _shownType = '';
  private _typesKey = '';
}
