import { Widget } from '@lumino/widgets';

import { apiUrl } from '../handler';
import { h, replaceChildren } from '../dom';
import { formatBytes, formatDuration, runDuration } from '../format';
import { ILogPiece } from '../detailModel';
import { RunsModel } from '../model';
import { IRun, IRunDetail, isTerminal } from '../tokens';
import { statusBadge } from './badge';
import { metricsKey, metricsView } from './metrics';
import { Rendered } from './rendered';
import { notifyError } from './notify';

/** The most log characters the page holds (8 windows), and in how many blocks. */
const LOG_KEEP_CHARS = 8_000_000;
const LOG_MAX_BLOCKS = 600;
/** The text of one block; followed pieces are merged into the last block up to this size. */
const LOG_BLOCK_CHARS = 32_000;
/** A block's height until it is laid out (contain-intrinsic-size in style/index.css). */
const LOG_BLOCK_ESTIMATE_PX = 8000;

/** A piece of the log in the page: its blocks' text nodes and the byte of the file it starts at. */
interface ILogEntry {
  blocks: Text[];
  chars: number;
  start: number;
  earlier: boolean;
}

/**
 * The open run: its id and status (the one state the runs list shows too), Cancel while it is
 * active, the reason it failed, its facts (target, arguments, interpreter, duration, exit code,
 * and reduced container isolation when the user allowed it),
 * metrics with charts, environment variables (secrets masked by the server), outputs as
 * download links, and the log, appended as it grows. Each part is rebuilt only when what it
 * shows changed; the log is only ever appended to.
 */
export class RunDetailView extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.addClass('aml-DetailArea');
    const section = (title: string, part: Rendered) => [h('h4', {}, title), part.node];
    this._body = h('div', { className: 'aml-RunDetail' },
      this._header.node, this._notes.node, this._facts.node,
      ...section('Metrics', this._metrics), ...section('Environment', this._environment),
      ...section('Outputs', this._outputs), h('h4', {}, 'Log'), this._earlier, this._log);
    model.detail.changed.connect(this._render, this);
    model.runs.changed.connect(this._onRunsChanged, this);
    this._render();
  }

  /** The one state of the open run changed: render in the same signal as the runs list. */
  private _onRunsChanged(_: unknown, ids: string[]): void {
    const runId = this.model.detail.runId;
    if (runId && ids.indexOf(runId) >= 0) {
      this._render();
    }
  }

  private _render(): void {
    const d = this.model.detail;
    if (!d.runId) {
      replaceChildren(this.node);
      this._shownRun = null;
      return;
    }
    if (this._shownRun !== d.runId) {
      this._shownRun = d.runId;
      for (const part of [this._header, this._notes, this._facts, this._metrics, this._environment, this._outputs]) {
        part.reset();
      }
      replaceChildren(this._log);
      this._logInPage = [];
      this._logChars = 0;
      this._blocks = 0;
      this._body.dataset.runId = d.runId;
      replaceChildren(this.node, this._body);
    }
    const run = d.run;
    const detail = d.detail;
    this._header.render(JSON.stringify([d.runId, run ? run.status : null]), () => this._headerParts(d.runId as string, run));
    const [error, reason, unreachable] = [d.error, run ? run.reason : '', detail ? detail.unreachable : ''];
    const orphaned = detail ? detail.orphaned : '';
    this._notes.render(JSON.stringify([error, reason, unreachable, orphaned]), () => [
      error ? h('div', { className: 'aml-Error' }, error) : null,
      reason ? h('div', { className: 'aml-Reason' }, reason) : null,
      orphaned ? h('div', { className: 'aml-Error aml-Orphaned' }, `Orphaned: ${orphaned}`) : null,
      unreachable ? h('div', { className: 'aml-Error' }, `Target unreachable: ${unreachable}`) : null]);
    if (!run || !detail) {
      this._facts.render('loading', () => h('div', { className: 'aml-Loading' }, `Loading ${d.runId}…`));
    } else {
      const facts = this._factRows(run, detail);
      this._facts.render(JSON.stringify(facts), () => h('table', { className: 'aml-Table aml-Facts' },
        h('tbody', {}, ...facts.map(([label, value, className]) =>
          h('tr', {}, h('th', {}, label), h('td', { className }, value))))));
      this._metrics.render(metricsKey(detail.metrics), () => metricsView(detail.metrics));
      this._environment.render(JSON.stringify(detail.environment), () => this._environmentTable(detail));
      this._outputs.render(JSON.stringify([detail.outputs, isTerminal(run.status)]),
        () => this._outputList(run, detail));
    }
    this._appendLog();
  }

  private _headerParts(runId: string, run: IRun | undefined): HTMLElement {
    const d = this.model.detail;
    return h('div', { className: 'aml-DetailHeader' },
      h('button', { className: 'aml-CloseDetail aml-Small', title: 'Close', onclick: () => d.close() }, '×'),
      h('strong', {}, runId), ' ', run ? statusBadge(run.status) : null,
      !run || isTerminal(run.status) ? null : h('button', { className: 'aml-CancelButton aml-Small aml-Danger',
        onclick: () => void d.cancel().catch(e => notifyError(`Cancel run ${d.runId}`, e)) }, 'Cancel'));
  }

  private _factRows(run: IRun, detail: IRunDetail): Array<[string, string, string]> {
    const compute = detail.configuration.compute || {};
    const interpreter = detail.python ||
      String(compute['pythonLocation'] || compute['python_location'] || '') ||
      `the ${run.target_type} target's default (pythonLocation not set)`;
    return [
      ['Target', `${run.target} (${run.target_type})`, 'aml-DetailTarget'],
      ['Arguments', (run.command || []).join(' '), 'aml-Arguments'],
      ['Interpreter', interpreter, 'aml-Interpreter'],
      ['Duration', formatDuration(runDuration(run)), 'aml-DetailDuration'],
      ['Exit code', run.exit_code === null || run.exit_code === undefined ? '-' : String(run.exit_code), 'aml-ExitCode'],
      // options weakening the container's isolation, allowed by the user (never by the project)
      ...(detail.isolation ? [['Isolation', detail.isolation, 'aml-Isolation'] as [string, string, string]] : [])
    ];
  }

  private _environmentTable(detail: IRunDetail): HTMLElement {
    const entries = Object.entries(detail.environment);
    return entries.length
      ? h('table', { className: 'aml-Table aml-Environment' }, h('tbody', {},
        ...entries.map(([k, v]) => h('tr', { 'data-variable': k }, h('th', {}, k), h('td', {}, v)))))
      : h('div', { className: 'aml-Empty' }, 'No variables set.');
  }

  private _outputList(run: IRun, detail: IRunDetail): HTMLElement {
    const params = this.model.params;
    const href = (path: string) => apiUrl(
      `runs/${encodeURIComponent(run.run_id)}/outputs/${path.split('/').map(encodeURIComponent).join('/')}`, params);
    return detail.outputs.length
      ? h('ul', { className: 'aml-Outputs' }, ...detail.outputs.map(o => h('li', {},
        h('a', { className: 'aml-Output', download: o.path.split('/').pop() || o.path, href: href(o.path) }, o.path),
        ` ${formatBytes(o.size)}`)))
      : h('div', { className: 'aml-Empty' }, isTerminal(run.status) ? 'No outputs.' : 'Collected when the run ends.');
  }

  /**
   * Add the pieces read since the last render as text nodes (never re-rendering the log):
   * followed text at the end, "Load earlier" text at the start (the view kept where it was).
   * The page holds at most LOG_KEEP_CHARS characters in at most LOG_MAX_NODES nodes; followed
   * text beyond that drops the oldest, which "Load earlier" can bring back.
   */
  private _appendLog(): void {
    const d = this.model.detail;
    const log = this._log;
    for (const piece of d.takeLog()) {
      if (piece.atStart) {
        this._prepend(piece);
      } else {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        this._append(piece);
        if (atBottom) {
          this._toBottom(2);
        }
      }
    }
    const earlier = this._earlier as HTMLButtonElement;
    const full = this._logChars >= LOG_KEEP_CHARS;
    earlier.hidden = d.logStart <= 0;
    earlier.disabled = d.loadingEarlier || full;
    earlier.title = full ? `The page holds at most ${LOG_KEEP_CHARS / 1e6} M characters of log` : '';
    earlier.textContent = d.loadingEarlier ? 'Loading earlier…' : 'Load earlier';
  }

  /** Scroll to the end; again in the next FRAMES frames, once the blocks come into view are
   * laid out (their height was estimated until then). */
  private _toBottom(frames: number): void {
    const log = this._log;
    log.scrollTop = log.scrollHeight;
    if (frames > 0) {
      requestAnimationFrame(() => {
        if (log.scrollTop + log.clientHeight >= log.scrollHeight - LOG_BLOCK_ESTIMATE_PX) {
          this._toBottom(frames - 1);
        }
      });
    }
  }

  private _append(piece: ILogPiece): void {
    const last = this._logInPage[this._logInPage.length - 1];
    const tail = last && !last.earlier ? last.blocks[last.blocks.length - 1] : null;
    if (last && tail && tail.length + piece.text.length <= LOG_BLOCK_CHARS) {
      tail.appendData(piece.text);               // small followed pieces share one block
      last.chars += piece.text.length;
    } else {
      const entry = this._entry(piece);
      for (const block of entry.blocks) {
        this._log.appendChild(block.parentNode as Node);
      }
      this._logInPage.push(entry);
    }
    this._logChars += piece.text.length;
    this._blocks = this._logInPage.reduce((n, e) => n + e.blocks.length, 0);
    while ((this._logChars > LOG_KEEP_CHARS || this._blocks > LOG_MAX_BLOCKS) && this._logInPage.length > 1) {
      const oldest = this._logInPage.shift() as ILogEntry;
      this._logChars -= oldest.chars;
      this._blocks -= oldest.blocks.length;
      for (const block of oldest.blocks) {
        this._log.removeChild(block.parentNode as Node);
      }
      this.model.detail.forgetBefore(this._logInPage[0].start);
    }
  }

  private _prepend(piece: ILogPiece): void {
    const log = this._log;
    const entry = this._entry(piece);
    const height = log.scrollHeight;
    const first = log.firstChild;
    for (const block of entry.blocks) {
      log.insertBefore(block.parentNode as Node, first);
    }
    this._logInPage.unshift(entry);
    this._logChars += entry.chars;
    this._blocks += entry.blocks.length;
    log.scrollTop += log.scrollHeight - height;    // the lines read stay where they were
  }

  /**
   * A piece as blocks of at most LOG_BLOCK_CHARS, cut at lines: blocks out of view are not
   * laid out (CSS content-visibility), so a 1 MB window costs the page one screen of layout.
   */
  private _entry(piece: ILogPiece): ILogEntry {
    const blocks: Text[] = [];
    const text = piece.text;
    for (let at = 0; at < text.length;) {
      let end = Math.min(text.length, at + LOG_BLOCK_CHARS);
      if (end < text.length) {
        const newline = text.lastIndexOf('\n', end - 1);
        end = newline > at ? newline + 1 : end;
      }
      const node = document.createTextNode(text.slice(at, end));
      h('span', { className: 'aml-LogBlock' }).appendChild(node);
      blocks.push(node);
      at = end;
    }
    return { blocks, chars: text.length, start: piece.start, earlier: piece.atStart };
  }

  private _body: HTMLElement;
  private _earlier = h('button', {
    className: 'aml-LoadEarlier aml-Small', hidden: true,
    onclick: () => void this.model.detail.loadEarlier().catch(e => this.model.fail(e))
  }, 'Load earlier');
  private _header = new Rendered(h('div', { className: 'aml-DetailHeaderArea' }));
  private _notes = new Rendered(h('div', { className: 'aml-DetailNotes' }));
  private _facts = new Rendered(h('div', { className: 'aml-DetailFacts' }));
  private _metrics = new Rendered(h('div', { className: 'aml-DetailMetrics' }));
  private _environment = new Rendered(h('div', { className: 'aml-DetailEnvironment' }));
  private _outputs = new Rendered(h('div', { className: 'aml-DetailOutputs' }));
  private _log = h('pre', { className: 'aml-Log' });
  private _logInPage: ILogEntry[] = [];
  private _blocks = 0;
  private _logChars = 0;
  private _shownRun: string | null = null;
}
