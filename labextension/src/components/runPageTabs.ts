import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { h, replaceChildren } from '../dom';
import { formatBytes } from '../format';
import { apiUrl, requestAPI } from '../handler';
import { IOutput, IRun, IRunDetail, isTerminal, SnapshotJson } from '../tokens';
import { viewButton } from './notebookViewer';

/** Outputs shown as images in the page; larger ones are only linked. */
const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', svg: 'image/svg+xml'
};
const PREVIEW_MAX_BYTES = 10 << 20;

function outputUrl(run: IRun, path: string, params: Record<string, string>): string {
  return apiUrl(`runs/${encodeURIComponent(run.run_id)}/outputs/${path.split('/').map(encodeURIComponent).join('/')}`,
    params);
}

/**
 * The Outputs tab: each collected file with a download link; images (.png, .jpg, .svg) are
 * previewed inline, and a click shows one enlarged. The server sends every output as a
 * download (octet-stream), so an image is fetched and shown from a blob of its own type: an
 * SVG in an <img> runs no script, and no output is ever served as a page of the Lab's origin.
 */
export class OutputsTab {
  readonly node = h('div', { className: 'aml-OutputsTab' });

  render(run: IRun, detail: IRunDetail, params: Record<string, string>): void {
    const key = JSON.stringify([run.run_id, detail.outputs, isTerminal(run.status)]);
    if (key === this._key) {
      return;
    }
    this._key = key;
    this.dispose();
    if (!detail.outputs.length) {
      replaceChildren(this.node, h('div', { className: 'aml-Empty' },
        isTerminal(run.status) ? 'No outputs.' : 'Collected when the run ends.'));
      return;
    }
    replaceChildren(this.node, h('ul', { className: 'aml-OutputList' },
      ...detail.outputs.map(o => this._item(run, o, params))));
  }

  /** Let the blobs of the previews go. */
  dispose(): void {
    for (const url of this._urls) {
      URL.revokeObjectURL(url);
    }
    this._urls = [];
  }

  private _item(run: IRun, output: IOutput, params: Record<string, string>): HTMLElement {
    const name = output.path.split('/').pop() || output.path;
    const href = outputUrl(run, output.path, params);
    const type = IMAGE_TYPES[(name.split('.').pop() || '').toLowerCase()];
    const item = h('li', { className: 'aml-OutputItem', 'data-path': output.path },
      h('a', { className: 'aml-Output', download: name, href }, output.path), ` ${formatBytes(output.size)}`,
      viewButton(run.run_id, output.path, params));
    if (type && output.size <= PREVIEW_MAX_BYTES) {
      const img = h('img', { className: 'aml-OutputPreview', alt: output.path, title: 'Click to enlarge',
        tabindex: 0 }) as HTMLImageElement;
      const enlarge = () => void showDialog({
        title: output.path,
        body: new Widget({ node: h('img', { className: 'aml-OutputLarge', alt: output.path, src: img.src }) }),
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
      img.addEventListener('click', enlarge);
      img.addEventListener('keydown', (event: KeyboardEvent) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          enlarge();
        }
      });
      item.appendChild(h('div', {}, img));
      void this._load(href, type).then(url => {
        if (url) {
          img.src = url;
        }
      }, () => undefined);                        // no preview: the link still downloads it
    }
    return item;
  }

  private async _load(href: string, type: string): Promise<string | null> {
    const settings = ServerConnection.makeSettings();
    const response = await ServerConnection.makeRequest(href, {}, settings);
    if (!response.ok) {
      return null;
    }
    const url = URL.createObjectURL(new Blob([await response.arrayBuffer()], { type }));
    this._urls.push(url);
    return url;
  }

  private _key = '';
  private _urls: string[] = [];
}

/** The Environment tab: the variables the run was given, secret-looking ones masked by the server. */
export function environmentView(run: IRun): HTMLElement {
  const entries = Object.entries(run.environment || {});
  return entries.length
    ? h('table', { className: 'aml-Table aml-Environment' }, h('tbody', {},
      ...entries.map(([k, v]) => h('tr', { 'data-variable': k }, h('th', {}, k), h('td', {}, v)))))
    : h('div', { className: 'aml-Empty' }, 'No variables set.');
}

/** The Arguments tab: the run configuration, the script, and each argument in order. */
export function argumentsView(run: IRun): HTMLElement {
  const command = run.command || [];
  const args = run.script && command[0] === run.script ? command.slice(1) : command;
  return h('div', { className: 'aml-ArgumentsTab' },
    h('table', { className: 'aml-Table' }, h('tbody', {},
      h('tr', {}, h('th', {}, 'Run configuration'), h('td', {}, run.run_configuration || '-')),
      h('tr', {}, h('th', {}, 'Script'), h('td', { className: 'aml-Script' }, run.script || '-')),
      h('tr', {}, h('th', {}, 'Command line'), h('td', {}, h('code', { className: 'aml-CommandLine' }, command.join(' ')))))),
    args.length
      ? h('ol', { className: 'aml-ArgumentList', 'aria-label': 'Arguments' }, ...args.map(a => h('li', {}, h('code', {}, a))))
      : h('div', { className: 'aml-Empty' }, 'No arguments.'));
}

/** The Snapshot tab: the files of the run's snapshot, read once when first shown (it never changes). */
export class SnapshotTab {
  readonly node = h('div', { className: 'aml-SnapshotTab' }, h('div', { className: 'aml-Loading' }, 'Loading the snapshot…'));

  async load(runId: string, params: Record<string, string>): Promise<void> {
    if (this._loaded) {
      return;
    }
    this._loaded = true;
    try {
      const shot = await requestAPI<SnapshotJson>(`runs/${encodeURIComponent(runId)}/snapshot`, {}, params);
      replaceChildren(this.node, ...this._view(shot));
    } catch (error) {
      this._loaded = false;
      replaceChildren(this.node, h('div', { className: 'aml-Error', role: 'alert' },
        error instanceof Error ? error.message : String(error)));
    }
  }

  private _view(shot: SnapshotJson): HTMLElement[] {
    if (!shot.kept) {
      return [h('div', { className: 'aml-Empty' }, 'The history kept no manifest of this run\'s snapshot.')];
    }
    const more = shot.total - shot.files.length;
    return [
      h('div', { className: 'aml-SnapshotSummary' },
        `${shot.total} file${shot.total === 1 ? '' : 's'}, ${formatBytes(shot.total_size)}; digest ${(shot.digest || '').slice(0, 12)}`),
      ...shot.warnings.map(w => h('div', { className: 'aml-Reason' }, w)),
      h('table', { className: 'aml-Table aml-SnapshotFiles', 'aria-label': 'Snapshot files' }, h('tbody', {},
        ...shot.files.map(f => h('tr', { 'data-path': f.path }, h('td', {}, f.path),
          h('td', { className: 'aml-Size' }, formatBytes(f.size)),
          h('td', {}, f.mode & 0o111 ? 'executable' : ''))))),
      more > 0 ? h('div', { className: 'aml-Empty' }, `… and ${more} more (the first ${shot.files.length} by path are listed)`) : null
    ].filter((n): n is HTMLElement => n !== null);
  }

  private _loaded = false;
}
