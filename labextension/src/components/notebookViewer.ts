import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { h } from '../dom';

/** The parts of an nbformat 4 notebook the viewer reads (the run wrote it: untrusted). */
export interface INotebookJson {
  cells: ICellJson[];
  metadata?: Record<string, unknown>;
}

interface ICellJson {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: IOutputJson[];
  metadata?: { tags?: string[] };
}

interface IOutputJson {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  traceback?: string[];
}

/** Opens an executed notebook of a run (set by the notebook-runs plugin when Lab has a
 * rendermime registry; the run detail shows "View" only then). */
export type NotebookOpener = (runId: string, path: string, params: Record<string, string>) => void;

let opener: NotebookOpener | null = null;

export function setNotebookOpener(open: NotebookOpener): void {
  opener = open;
}

export function notebookOpener(): NotebookOpener | null {
  return opener;
}

/** "View" beside an executed notebook among a run's outputs (null for other files). */
export function viewButton(runId: string, path: string, params: Record<string, string>): HTMLElement | null {
  const open = opener;
  if (!open || !path.endsWith('.ipynb')) {
    return null;
  }
  return h('button', { className: 'jp-Button aml-OutputView', type: 'button', 'aria-label': `View ${path}`,
    title: 'Open the executed notebook in Lab (read-only)', onclick: () => open(runId, path, params) }, 'View');
}

function text(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join('') : value ?? '';
}

/**
 * A read-only view of an executed notebook: each cell's source and its outputs, rendered by
 * Lab's own renderers as untrusted (no script runs, HTML is sanitized), as a notebook that is
 * not trusted is shown.
 */
export class ExecutedNotebook extends Widget {
  constructor(private _rendermime: IRenderMimeRegistry, notebook: INotebookJson) {
    super();
    this.addClass('aml-ExecutedNotebook');
    this.node.setAttribute('role', 'document');
    this.node.setAttribute('aria-label', 'Executed notebook');
    for (const cell of notebook.cells) {
      this.node.appendChild(this._cell(cell));
    }
  }

  private _cell(cell: ICellJson): HTMLElement {
    const tags = cell.metadata?.tags ?? [];
    const node = h('div', { className: `aml-NbCell aml-NbCell-${cell.cell_type}`, 'data-tags': tags.join(' ') });
    const source = text(cell.source);
    if (cell.cell_type === 'markdown') {
      this._render(node, { 'text/markdown': source });
      return node;
    }
    if (cell.cell_type !== 'code') {
      node.appendChild(h('pre', { className: 'aml-NbSource' }, source));
      return node;
    }
    const count = cell.execution_count ?? ' ';
    node.appendChild(h('div', { className: 'aml-NbInput' }, h('span', { className: 'aml-NbPrompt' }, `[${count}]:`),
      h('pre', { className: 'aml-NbSource' }, source)));
    const outputs = h('div', { className: 'aml-NbOutputs' });
    for (const output of cell.outputs ?? []) {
      this._render(outputs, this._bundle(output));
    }
    node.appendChild(outputs);
    return node;
  }

  private _bundle(output: IOutputJson): Record<string, unknown> {
    if (output.output_type === 'stream') {
      const mime = output.name === 'stderr' ? 'application/vnd.jupyter.stderr' : 'application/vnd.jupyter.stdout';
      return { [mime]: text(output.text) };
    }
    if (output.output_type === 'error') {
      return { 'application/vnd.jupyter.stderr': (output.traceback ?? []).join('\n') };
    }
    return output.data ?? {};
  }

  private _render(parent: HTMLElement, data: Record<string, unknown>): void {
    const mime = this._rendermime.preferredMimeType(data as never, 'ensure');
    if (!mime) {
      return;
    }
    const renderer = this._rendermime.createRenderer(mime);
    renderer.addClass('aml-NbOutput');
    parent.appendChild(renderer.node);
    void renderer.renderModel(new MimeModel({ data: data as never, trusted: false }));
  }
}
