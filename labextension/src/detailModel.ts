import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, requestAPI } from './handler';
import type { RunsModel } from './model';
import { ILogChunk, IRun, IRunDetail, isTerminal } from './tokens';

/** Pause between two reads of an open run's log (the "log line in < 1 s" budget). */
const LOG_POLL_MS = 300;
/** Refresh the detail (metrics, outputs) at least this often while the run is live. */
const DETAIL_POLL_MS = 2000;
/** The most log text kept for the page; older text is dropped (the file keeps it all). */
export const LOG_KEEP_CHARS = 1_000_000;

/** The parts of a run's detail that are not its state (which lives in `RunsModel.runs`). */
const DETAIL_ONLY = new Set(['configuration', 'metrics', 'outputs', 'log', 'unreachable', 'orphaned', 'python']);

function stateOf(detail: IRunDetail): IRun {
  return Object.fromEntries(Object.entries(detail).filter(([k]) => !DETAIL_ONLY.has(k))) as IRun;
}

/**
 * The open run: its detail (metrics, outputs, configuration) and its log, followed while the
 * run is active. Its state (status, times, exit code) is written to and read from the one
 * `RunStates` the runs list renders too.
 */
export class RunDetailModel {
  constructor(readonly parent: RunsModel) {}

  runId: string | null = null;
  /** The last detail read; its status may lag `run`, which is the one to show. */
  detail: IRunDetail | null = null;
  /** The tail of the log (at most LOG_KEEP_CHARS), and how many characters came in all. */
  log = '';
  logTotal = 0;
  error = '';

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The open run's one current state (the same object the runs list shows). */
  get run(): IRun | undefined {
    return this.runId ? this.parent.runs.get(this.runId) : undefined;
  }

  open(runId: string): void {
    this.close();
    this.runId = runId;
    this.log = '';
    this.logTotal = 0;
    this._offset = 0;
    this.detail = null;
    this.error = '';
    this._generation += 1;
    this._changed.emit(undefined);
    void this._follow(this._generation);
  }

  close(): void {
    this._generation += 1;
    this.runId = null;
    this.detail = null;
    this._changed.emit(undefined);
  }

  async cancel(): Promise<void> {
    if (!this.runId) {
      return;
    }
    const run = await requestAPI<IRun>(`runs/${encodeURIComponent(this.runId)}/cancel`,
      { method: 'POST' }, this.parent.params);
    this.parent.runs.update(run);
    await this.parent.refreshRuns();
  }

  private _appendLog(text: string): void {
    if (!text) {
      return;
    }
    this.logTotal += text.length;
    this.log += text;
    if (this.log.length > LOG_KEEP_CHARS) {
      this.log = this.log.slice(this.log.length - LOG_KEEP_CHARS);
    }
  }

  private async _follow(generation: number): Promise<void> {
    let lastDetail = 0;
    const live = () => generation === this._generation && this.runId !== null;
    while (live()) {
      const runId = this.runId as string;
      try {
        const chunk = await requestAPI<ILogChunk>(
          `runs/${encodeURIComponent(runId)}/log`, {}, { ...this.parent.params, offset: this._offset });
        if (!live()) {
          return;
        }
        this._appendLog(chunk.text);
        this._offset = chunk.next_offset;
        const statusChanged = !this.detail || this.detail.status !== chunk.status;
        if (statusChanged || Date.now() - lastDetail > DETAIL_POLL_MS || chunk.complete) {
          const detail = await requestAPI<IRunDetail>(
            `runs/${encodeURIComponent(runId)}`, {}, this.parent.params);
          if (!live()) {
            return;
          }
          this.detail = detail;
          lastDetail = Date.now();
          this.parent.runs.update(stateOf(detail));
          if (statusChanged) {
            void this.parent.refreshRuns();         // the page's filter and active count follow
          }
        } else {
          this.parent.runs.update({ run_id: runId, status: chunk.status });
        }
        this.error = '';
        this._changed.emit(undefined);
        const run = this.run;
        if (chunk.complete && run && isTerminal(run.status)) {
          return;
        }
      } catch (error) {
        if (!live()) {
          return;
        }
        this.error = error instanceof Error ? error.message : String(error);
        this._changed.emit(undefined);
        if (error instanceof ApiError && error.status === 404) {
          return;
        }
      }
      await new Promise(resolve => window.setTimeout(resolve, LOG_POLL_MS));
    }
  }

  private _offset = 0;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
