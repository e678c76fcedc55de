import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, requestAPI } from './handler';
import type { RunsModel } from './model';
import { ILogChunk, IRun, IRunDetail, isTerminal } from './tokens';

/** Pause between two reads of an open run's log (the "log line in < 1 s" budget). */
const LOG_POLL_MS = 300;
/** Refresh the detail (metrics, outputs) at least this often while the run is live. */
const DETAIL_POLL_MS = 2000;
/** The bytes of log one request asks for: the tail on open, each "Load earlier", each follow read. */
export const LOG_WINDOW_BYTES = 1 << 20;

/** A piece of log text for the view to add at the end (followed) or at the start (earlier). */
export interface ILogPiece {
  text: string;
  /** The byte of the log file the text starts at. */
  start: number;
  atStart: boolean;
}

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
  /** Log text read but not yet shown; the view takes it (`takeLog`), so none is kept twice. */
  pendingLog: ILogPiece[] = [];
  /** The first byte of the log the page holds (> 0: earlier text can be loaded). */
  logStart = 0;
  loadingEarlier = false;
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
    this.pendingLog = [];
    this.logStart = 0;
    this.loadingEarlier = false;
    this._offset = -1;
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

  /** The pieces read since the last call, oldest first (the view adds them to the page). */
  takeLog(): ILogPiece[] {
    const pieces = this.pendingLog;
    this.pendingLog = [];
    return pieces;
  }

  /** The view dropped the page's text before byte START (its cap): it can be loaded again. */
  forgetBefore(start: number): void {
    this.logStart = Math.max(this.logStart, start);
  }

  /** Read the window of the log before what the page holds, and add it at the start. */
  async loadEarlier(): Promise<void> {
    const runId = this.runId;
    if (!runId || this.logStart <= 0 || this.loadingEarlier) {
      return;
    }
    const generation = this._generation;
    this.loadingEarlier = true;
    this._changed.emit(undefined);
    try {
      const chunk = await requestAPI<ILogChunk>(`runs/${encodeURIComponent(runId)}/log`, {},
        { ...this.parent.params, before: this.logStart, limit: LOG_WINDOW_BYTES });
      if (generation !== this._generation) {
        return;
      }
      this.pendingLog.push({ text: chunk.text, start: chunk.offset, atStart: true });
      this.logStart = chunk.offset;
    } finally {
      if (generation === this._generation) {
        this.loadingEarlier = false;
        this._changed.emit(undefined);
      }
    }
  }

  /** The first read is the log's last window; then each read goes on from the last. */
  private _logQuery(): Record<string, number> {
    return this._offset < 0 ? { tail: LOG_WINDOW_BYTES } : { offset: this._offset, limit: LOG_WINDOW_BYTES };
  }

  private async _follow(generation: number): Promise<void> {
    let lastDetail = 0;
    const live = () => generation === this._generation && this.runId !== null;
    while (live()) {
      const runId = this.runId as string;
      let full = false;
      try {
        const chunk = await requestAPI<ILogChunk>(
          `runs/${encodeURIComponent(runId)}/log`, {}, { ...this.parent.params, ...this._logQuery() });
        if (!live()) {
          return;
        }
        if (this._offset < 0) {
          this.logStart = chunk.offset;
        }
        if (chunk.text) {
          this.pendingLog.push({ text: chunk.text, start: chunk.offset, atStart: false });
        }
        full = chunk.next_offset - chunk.offset >= LOG_WINDOW_BYTES / 2;
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
      // a log growing faster than one window a poll is read on at once (bounded per read)
      await new Promise(resolve => window.setTimeout(resolve, full ? 0 : LOG_POLL_MS));
    }
  }

  private _offset = -1;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
